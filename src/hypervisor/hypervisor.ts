import createDebug from "debug";
import { portEntry, releasePort } from "../evtchn/event-channels.js";
import { unpinGrant } from "../grant/active.js";
import { setBits } from "../xen/bitmap.js";
import { type DomainConfig, resolveDomainConfig } from "../xen/domain-config.js";
import type { DomainHandle, WasmMemoryLike } from "../xen/domain-handle.js";
import {
  DOM_ALIVE,
  DOM_DYING,
  DOM_FREE,
  domainLayout,
  MAX_GENERATION,
  REG_W_GENERATION,
  REG_W_ID,
  REG_W_ROVER,
  REGISTRY_WORDS,
  registryState,
  registryWord,
  XEN_W_EVENT_LOCK,
} from "../xen/domain-layout.js";
import { DomainView } from "../xen/domain-view.js";
import { DOMID_FIRST_RESERVED } from "../xen/domid.js";
import { invalidArgument, invalidState } from "../xen/errors.js";
import {
  ECS_INTERDOMAIN,
  ECS_RESERVED,
  ECS_UNBOUND,
  PORT_W_STATE,
  packPort,
  portRemoteDomid,
  portRemotePort,
  portState,
} from "../xen/evtchn-layout.js";
import { GNTST_okay, GNTTAB_NR_RESERVED_ENTRIES } from "../xen/grant-constants.js";
import {
  MAPTRACK_ENTRY_WORDS,
  MT_FREE,
  MT_READONLY,
  MT_W_DOMID,
  MT_W_REF,
  MT_W_STATE,
  MT_WRITABLE,
} from "../xen/grant-layout.js";
import { XEN_PAGE_SIZE } from "../xen/page.js";
import { EVENT_LOCK_SPIN_LIMIT, spinLock, spinUnlock } from "../xen/spin-lock.js";
import { DomainContext, type DomainContextOptions } from "./context.js";
import { MachineMemory } from "./machine-memory.js";
import { type DomainReport, inspectDomain } from "./report.js";

const log = createDebug("pvscsi:hypervisor");

/**
 * Where a new domain's memory comes from (default: a fresh SharedArrayBuffer). A domain whose
 * kernel is a WebAssembly module gets the module's shared `WebAssembly.Memory`, and the frames its
 * image occupies reserved.
 */
export interface DomainBacking {
  /** The domain's memory: shared, initial = maximum, exactly the configured frames. */
  readonly wasmMemory?: WasmMemoryLike;
  /** Frames `[0, reservedFrames)` are taken from the start (the frame allocator skips them). */
  readonly reservedFrames?: number;
  /**
   * Machine-memory mode only: carve this domain at machine address 0 and make the machine memory
   * its `wasmMemory` (a wasm backend, whose linear memory is the whole machine memory).
   */
  readonly machineZero?: boolean;
}

/** Options of {@link Hypervisor}. */
export interface HypervisorOptions {
  /**
   * Machine-memory mode: carve every domain's RAM from one shared `WebAssembly.Memory` of this
   * many frames (a multiple of 16, at most 4 GiB), so a wasm backend can dereference the pages it
   * maps (see {@link MachineMemory}). Absent (the default): each domain has its own buffer.
   */
  readonly machineFrames?: number;
}

/**
 * The toolstack's handle on the emulated hypervisor: creates and destroys domains and owns the
 * registry every thread consults to tell a live domain from a destroyed one. It lives in the
 * toolstack's thread; workers never need it, only the handles it makes.
 *
 * Destroying a domain is what Xen's domain_kill does to its resources: its mappings of other
 * domains' grants are released (their `GTF_reading`/`GTF_writing` cleared), its ports closed
 * (interdomain peers left unbound), and its id freed. Like Xen, it assumes the domain's own
 * threads have stopped; peers still mapping its grants keep their (now orphaned) mappings until
 * they unmap, which then only frees their handle.
 */
export class Hypervisor {
  /** The registry buffer every handle carries. */
  readonly registry: SharedArrayBuffer;
  private readonly reg: Int32Array;
  private readonly views = new Map<number, DomainView>();
  /** The machine memory in machine-memory mode, else null. */
  readonly machine: MachineMemory | null;

  constructor(options: HypervisorOptions = {}) {
    this.machine = options.machineFrames !== undefined ? new MachineMemory(options.machineFrames) : null;
    this.registry = new SharedArrayBuffer(REGISTRY_WORDS * 4);
    this.reg = new Int32Array(this.registry);
    Atomics.store(this.reg, REG_W_GENERATION, 1);
    const id = new Int32Array(1);
    while (id[0] === 0) crypto.getRandomValues(id);
    Atomics.store(this.reg, REG_W_ID, id[0]!);
  }

  /**
   * Create a domain: its memory, an empty grant table, closed ports, and its registry entry.
   * Throws if the id is taken or the configuration is malformed (naming the option).
   */
  createDomain(config: DomainConfig, backing: DomainBacking = {}): DomainHandle {
    const c = resolveDomainConfig(config);
    const machine = this.machine;
    if (backing.machineZero && machine === null) {
      throw invalidArgument(
        "DomainBacking.machineZero",
        "a hypervisor in machine-memory mode (HypervisorOptions.machineFrames)",
        true,
      );
    }
    if (backing.machineZero && backing.wasmMemory !== undefined) {
      throw invalidArgument("DomainBacking", "machineZero or wasmMemory, not both", "both");
    }
    const wasmMemory = backing.machineZero ? machine!.memory : backing.wasmMemory;
    const reserved = backing.reservedFrames ?? 0;
    if (wasmMemory !== undefined && !backing.machineZero) {
      const buf = wasmMemory.buffer as ArrayBufferLike;
      if (!(buf instanceof SharedArrayBuffer) || buf.byteLength !== c.frames * XEN_PAGE_SIZE) {
        throw invalidArgument(
          "DomainBacking.wasmMemory",
          `a shared WebAssembly.Memory of exactly ${c.frames} frames (initial = maximum)`,
          `${buf.byteLength} bytes${buf instanceof SharedArrayBuffer ? "" : ", not shared"}`,
        );
      }
    }
    if (!Number.isInteger(reserved) || reserved < 0 || reserved >= c.frames) {
      throw invalidArgument("DomainBacking.reservedFrames", `an integer in [0, ${c.frames - 1}]`, reserved);
    }
    const domid = c.domid ?? this.nextDomid();
    const word = Atomics.load(this.reg, domid);
    if (registryState(word) !== DOM_FREE) throw invalidState(`dom${domid}`, "already exists");
    const layout = domainLayout(c);
    // Machine-memory mode: the domain's RAM is a range of the machine memory. A wasm *frontend*
    // brings its own memory (its C pointers start at 0) and keeps it: it is not carved.
    const slot =
      machine !== null && (backing.wasmMemory === undefined || backing.machineZero)
        ? machine.carve(domid, c.frames, backing.machineZero === true)
        : undefined;
    let generation = Atomics.add(this.reg, REG_W_GENERATION, 1);
    if (generation >= MAX_GENERATION) {
      Atomics.store(this.reg, REG_W_GENERATION, 2);
      generation = 1;
    }
    const handle: DomainHandle = Object.freeze({
      domid,
      generation,
      name: c.name,
      frames: c.frames,
      grantEntries: c.grantEntries,
      maxPorts: c.maxPorts,
      vcpus: c.vcpus,
      maptrackEntries: c.maptrackEntries,
      memory: slot
        ? machine!.buffer
        : wasmMemory
          ? (wasmMemory.buffer as unknown as SharedArrayBuffer)
          : new SharedArrayBuffer(layout.memoryBytes),
      ...(slot ? { machine: slot } : {}),
      ...(wasmMemory ? { wasmMemory } : {}),
      grantTable: new SharedArrayBuffer(layout.grantTableBytes),
      sharedInfo: new SharedArrayBuffer(layout.sharedInfoBytes),
      xen: new SharedArrayBuffer(layout.xenBytes),
      kernel: new SharedArrayBuffer(layout.kernelBytes),
      registry: this.registry,
    });
    const view = new DomainView(handle);
    // Bits past the last frame and ref, and the reserved refs, are never handed out.
    setBits(view.kernel, layout.frameBitmap, c.frames, layout.frameBitmapWords * 32);
    // A wasm kernel's image, stack and static heap: never handed out.
    if (reserved > 0) setBits(view.kernel, layout.frameBitmap, 0, reserved);
    setBits(view.kernel, layout.refBitmap, 0, GNTTAB_NR_RESERVED_ENTRIES);
    setBits(view.kernel, layout.refBitmap, c.grantEntries, layout.refBitmapWords * 32);
    // Xen's evtchn_init reserves port 0, so 0 can mean "no port".
    Atomics.store(view.xen, portEntry(view, 0) + PORT_W_STATE, packPort(ECS_RESERVED, 0, 0));
    Atomics.store(this.reg, domid, registryWord(generation, DOM_ALIVE));
    this.views.set(domid, view);
    log(
      "created dom%d %s: %d frames, %d grant entries, %d ports",
      domid,
      c.name,
      c.frames,
      c.grantEntries,
      c.maxPorts,
    );
    return handle;
  }

  /** The handle of a live domain. */
  handle(domid: number): DomainHandle {
    return this.view(domid).handle;
  }

  /** Handles of every live domain, by domid. */
  domains(): DomainHandle[] {
    return [...this.views.keys()].sort((a, b) => a - b).map((d) => this.view(d).handle);
  }

  /**
   * A context acting as `domid` in this thread, with every domain that exists now introduced:
   * the single-thread (deterministic) mode, and tests.
   */
  context(domid: number, options: DomainContextOptions = {}): DomainContext {
    const ctx = DomainContext.attach(this.handle(domid), options);
    for (const v of this.views.values()) if (v.domid !== domid) ctx.introducePeer(v.handle);
    return ctx;
  }

  /** What `domid` has left behind now: mappings, live grants, bound ports. */
  report(domid: number): DomainReport {
    return inspectDomain(this.view(domid));
  }

  /** Reports of every live domain. */
  reports(): DomainReport[] {
    return this.domains().map((h) => this.report(h.domid));
  }

  /**
   * Destroy `domid`, returning what it had left behind (the report is taken before anything is
   * released). Afterwards every thread sees the id as gone: maps, copies and binds naming it
   * fail, sends to it are dropped.
   */
  destroyDomain(domid: number): DomainReport {
    const v = this.view(domid);
    Atomics.store(this.reg, domid, registryWord(v.generation, DOM_DYING));
    const report = inspectDomain(v);
    this.releaseMappings(v);
    this.closePorts(v);
    Atomics.store(this.reg, domid, registryWord(v.generation, DOM_FREE));
    this.views.delete(domid);
    this.machine?.release(domid);
    log(
      "destroyed dom%d: %d grants still mapped by others, %d mappings released, %d live grants, %d ports closed",
      domid,
      report.mappedGrants.length,
      report.heldMappings.length,
      report.liveGrants.length,
      report.boundPorts.length,
    );
    return report;
  }

  /** gnttab_release_mappings: drop every pin this domain holds on live domains' grants. */
  private releaseMappings(v: DomainView): void {
    for (let h = 0; h < v.maptrackEntries; h++) {
      const e = v.layout.maptrack + h * MAPTRACK_ENTRY_WORDS;
      const state = Atomics.load(v.xen, e + MT_W_STATE);
      if (state !== MT_READONLY && state !== MT_WRITABLE) continue;
      const dw = Atomics.load(v.xen, e + MT_W_DOMID);
      const g = this.views.get(dw & 0xffff);
      if (g !== undefined && (g.generation & 0xffff) === dw >>> 16 && g.alive()) {
        const rc = unpinGrant(g, Atomics.load(v.xen, e + MT_W_REF), state === MT_READONLY, true);
        if (rc !== GNTST_okay) log("dom%d handle %d: unpin failed (%d)", v.domid, h, rc);
      }
      Atomics.store(v.xen, e + MT_W_STATE, MT_FREE);
    }
  }

  /** evtchn_destroy: close every port; interdomain peers go back to unbound, waiting for this id. */
  private closePorts(v: DomainView): void {
    for (let port = 1; port < v.maxPorts; port++) {
      const w = Atomics.load(v.xen, portEntry(v, port) + PORT_W_STATE);
      const state = portState(w);
      if (state !== ECS_UNBOUND && state !== ECS_INTERDOMAIN) continue;
      if (state === ECS_INTERDOMAIN) {
        const r = this.views.get(portRemoteDomid(w));
        if (r !== undefined && r !== v && r.alive()) {
          // Teardown runs when the domain's threads have stopped: a lock that stays held belongs
          // to a dead thread, so take it regardless.
          const locked = spinLock(r.xen, XEN_W_EVENT_LOCK, EVENT_LOCK_SPIN_LIMIT);
          const rp = portRemotePort(w);
          const rw = Atomics.load(r.xen, portEntry(r, rp) + PORT_W_STATE);
          if (
            portState(rw) === ECS_INTERDOMAIN &&
            portRemoteDomid(rw) === v.domid &&
            portRemotePort(rw) === port
          ) {
            Atomics.store(r.xen, portEntry(r, rp) + PORT_W_STATE, packPort(ECS_UNBOUND, v.domid, 0));
          }
          if (locked) spinUnlock(r.xen, XEN_W_EVENT_LOCK);
        }
      }
      releasePort(v, port);
    }
  }

  private view(domid: number): DomainView {
    const v = this.views.get(domid);
    if (v === undefined) throw invalidArgument("domid", "the id of a live domain", domid);
    return v;
  }

  /** Xen's allocator: the next free id after the last one handed out, from 1, wrapping. */
  private nextDomid(): number {
    let d = Atomics.load(this.reg, REG_W_ROVER);
    for (let i = 0; i < DOMID_FIRST_RESERVED - 1; i++) {
      d = d + 1 >= DOMID_FIRST_RESERVED ? 1 : d + 1;
      if (registryState(Atomics.load(this.reg, d)) === DOM_FREE) {
        Atomics.store(this.reg, REG_W_ROVER, d);
        return d;
      }
    }
    throw invalidState("hypervisor", `all ${DOMID_FIRST_RESERVED - 1} guest domain ids are in use`);
  }
}
