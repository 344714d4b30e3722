import { type ResolvedDomainConfig, resolveDomainConfig } from "./domain-config.js";
import { domainLayout, REGISTRY_WORDS } from "./domain-layout.js";
import { invalidArgument } from "./errors.js";
import { GRANT_ENTRIES_PER_FRAME } from "./grant-layout.js";

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
  readonly memory: SharedArrayBuffer;
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
  const sizes: ReadonlyArray<readonly [string, number]> = [
    ["memory", layout.memoryBytes],
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
  if (h.wasmMemory !== undefined) {
    const m = h.wasmMemory;
    if (!(m instanceof WebAssembly.Memory) || m.buffer.byteLength !== layout.memoryBytes) {
      throw invalidArgument(`${what}.wasmMemory`, `a WebAssembly.Memory of ${layout.memoryBytes} bytes`, m);
    }
  }
  return value as DomainHandle;
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
