import { type ResolvedDomainConfig, resolveDomainConfig } from "./domain-config.js";
import { domainLayout, REGISTRY_WORDS } from "./domain-layout.js";
import { invalidArgument } from "./errors.js";
import { GRANT_ENTRIES_PER_FRAME } from "./grant-layout.js";
import { XEN_PAGE_SIZE } from "./page.js";

/**
 * Everything a thread needs to act as a domain, or to reach it as a peer: ids and
 * SharedArrayBuffers, so it survives `postMessage` (structured clone shares the buffers). The
 * toolstack makes one per domain with `Hypervisor.createDomain` and sends it to the worker that
 * will act as the domain (`DomainContext.attach`) and to every worker that talks to it
 * (`DomainContext.introducePeer`). See `layout.ts` for which buffer holds what.
 */
export interface DomainHandle {
  readonly domid: number;
  /** Incarnation of `domid`: a domain destroyed and re-created under the same id gets a new one. */
  readonly generation: number;
  readonly name: string;
  readonly frames: number;
  readonly grantEntries: number;
  readonly maxPorts: number;
  readonly vcpus: number;
  readonly maptrackEntries: number;
  /**
   * The domain's RAM: the whole buffer, or, in machine-memory mode ({@link machine} set), the
   * machine memory every domain is carved from, the domain's RAM being `frames` pages at
   * `machine.byteOffset`. Read it through {@link domainMemoryBytes} (or a `DomainView`).
   */
  readonly memory: SharedArrayBuffer;
  /**
   * Set in machine-memory mode: which machine memory `memory` is (`id`, the same in every thread)
   * and where this domain's RAM starts in it (its p2m is that one contiguous range).
   */
  readonly machine?: MachineSlot;
  /**
   * Set when the domain's kernel is a WebAssembly module: the shared `WebAssembly.Memory` whose
   * buffer is `memory` (the module imports the object; no API wraps an existing buffer).
   */
  readonly wasmMemory?: WasmMemoryLike;
  readonly grantTable: SharedArrayBuffer;
  readonly sharedInfo: SharedArrayBuffer;
  readonly xen: SharedArrayBuffer;
  readonly kernel: SharedArrayBuffer;
  readonly registry: SharedArrayBuffer;
}

/** Where a domain's RAM lies in a machine memory (see {@link DomainHandle.machine}). */
export interface MachineSlot {
  /** The machine memory's id (random, non-zero): two handles share RAM buffers only if equal. */
  readonly id: number;
  /** The machine address of the domain's frame 0 (a multiple of the page size). */
  readonly byteOffset: number;
}

/** The domain's RAM as bytes: the whole buffer, or its range of the machine memory. */
export function domainMemoryBytes(h: DomainHandle): Uint8Array {
  return new Uint8Array(h.memory, h.machine?.byteOffset ?? 0, h.frames * XEN_PAGE_SIZE);
}

/**
 * A shared `WebAssembly.Memory`, as far as pvscsi's public types need it (so that they do not
 * depend on lib.dom's WebAssembly declarations).
 */
export interface WasmMemoryLike {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(delta: number): number;
}

/**
 * Check that `value` (typically just received in a message) is a well-formed handle: fields of the
 * right types and every buffer exactly the size its layout needs, so no view built from it can
 * reach past a buffer. Returns it typed.
 */
export function checkDomainHandle(value: unknown, what = "domain handle"): DomainHandle {
  if (typeof value !== "object" || value === null) throw invalidArgument(what, "an object", value);
  const h = value as Record<string, unknown>;
  const c = handleConfig(value as DomainHandle);
  if (c.domid === undefined) throw invalidArgument(`${what}.domid`, "a domain id", h.domid);
  if (typeof h.generation !== "number" || !Number.isInteger(h.generation) || h.generation < 1) {
    throw invalidArgument(`${what}.generation`, "a positive integer", h.generation);
  }
  const layout = domainLayout(c);
  const machine = checkMachineSlot(h.machine, `${what}.machine`);
  const sizes: ReadonlyArray<readonly [string, number]> = [
    ["grantTable", layout.grantTableBytes],
    ["sharedInfo", layout.sharedInfoBytes],
    ["xen", layout.xenBytes],
    ["kernel", layout.kernelBytes],
    ["registry", REGISTRY_WORDS * 4],
  ];
  for (const [key, bytes] of sizes) {
    const buf = h[key];
    if (!(buf instanceof SharedArrayBuffer) || buf.byteLength !== bytes) {
      throw invalidArgument(`${what}.${key}`, `a SharedArrayBuffer of ${bytes} bytes`, buf);
    }
  }
  const mem = h.memory;
  const memEnd = (machine?.byteOffset ?? 0) + layout.memoryBytes;
  if (
    !(mem instanceof SharedArrayBuffer) ||
    (machine === undefined ? mem.byteLength !== memEnd : mem.byteLength < memEnd)
  ) {
    throw invalidArgument(
      `${what}.memory`,
      machine === undefined
        ? `a SharedArrayBuffer of ${layout.memoryBytes} bytes`
        : `a machine memory holding [${machine.byteOffset}, ${memEnd})`,
      mem,
    );
  }
  if (h.wasmMemory !== undefined) {
    const m = h.wasmMemory;
    // A wasm kernel's linear memory is the domain's RAM from address 0: its own buffer, or the
    // whole machine memory for the domain carved at machine address 0 (a wasm backend).
    const bytes = machine === undefined ? layout.memoryBytes : mem.byteLength;
    if (
      !(m instanceof WebAssembly.Memory) ||
      m.buffer.byteLength !== bytes ||
      (machine !== undefined && machine.byteOffset !== 0)
    ) {
      throw invalidArgument(
        `${what}.wasmMemory`,
        machine === undefined
          ? `a WebAssembly.Memory of ${layout.memoryBytes} bytes`
          : "the machine memory, for the domain at machine address 0",
        m,
      );
    }
  }
  return value as DomainHandle;
}

function checkMachineSlot(v: unknown, what: string): MachineSlot | undefined {
  if (v === undefined) return undefined;
  const m = v as Partial<MachineSlot> | null;
  if (
    typeof m !== "object" ||
    m === null ||
    !Number.isInteger(m.id) ||
    m.id === 0 ||
    !Number.isInteger(m.byteOffset) ||
    m.byteOffset! < 0 ||
    m.byteOffset! % XEN_PAGE_SIZE !== 0
  ) {
    throw invalidArgument(what, "{ id: a non-zero integer, byteOffset: a page-aligned offset }", v);
  }
  return m as MachineSlot;
}

/** The (validated) configuration a handle describes. */
export function handleConfig(h: DomainHandle): ResolvedDomainConfig {
  return resolveDomainConfig({
    domid: h.domid,
    name: h.name,
    frames: h.frames,
    grantFrames: h.grantEntries / GRANT_ENTRIES_PER_FRAME,
    maxPorts: h.maxPorts,
    vcpus: h.vcpus,
    maptrackEntries: h.maptrackEntries,
  });
}
