import { VscsiifFrontChecker, type VscsiifViolation } from "../checker/vscsiif-checker.js";
import { blockOnUpcall } from "../evtchn/wait.js";
import { GrantCopyBatch } from "../grant/copy-batch.js";
import type { DomainContext } from "../hypervisor/context.js";
import type { XenstoreStartInfo } from "../hypervisor/xenstore-link.js";
import type { WasmMemoryLike } from "../xen/domain-handle.js";
import { DOMID_SELF } from "../xen/domid.js";
import { invalidArgument } from "../xen/errors.js";
import { XEN_EINVAL } from "../xen/evtchn-constants.js";
import { GNTST_bad_handle, GNTST_general_error, grantStatusName } from "../xen/grant-constants.js";
import { XEN_PAGE_SHIFT, XEN_PAGE_SIZE } from "../xen/page.js";
import { inspectWasmImage, type WasmImage } from "./image.js";

/** Xen's `EVTCHNOP_*` command numbers (`xen/event_channel.h`). */
export const EVTCHNOP = {
  bind_interdomain: 0,
  close: 3,
  send: 4,
  alloc_unbound: 6,
  unmask: 9,
} as const;

const XEN_ENOSYS = 38;

/**
 * `struct gnttab_copy` as wasm32 lays it out under the SDK's shim (`xen_pfn_t` is 4 bytes there;
 * pinned by `_Static_assert`s in `sdk/include/pvwasm/userspace.h`).
 */
const GNTCOPY = {
  size: 24,
  sourceU: 0,
  sourceDomid: 4,
  sourceOffset: 6,
  destU: 8,
  destDomid: 12,
  destOffset: 14,
  len: 16,
  flags: 18,
  status: 20,
} as const;
/** Segments one `pv_gnttab_copy` may carry (libxengnttab has no limit; a bound keeps a call short). */
export const GNTCOPY_MAX_SEGMENTS = 256;
/** Reports of refused backend operations logged per kernel before they are only counted. */
const MAX_REPORTS = 32;

/** Why a wasm kernel was stopped: what it did, and which rule it broke. */
export interface WasmFault {
  /** `trap`: the module trapped (unreachable, out-of-bounds access, ...); `hypercall`: a hypercall it made was malformed. */
  readonly kind: "trap" | "hypercall";
  /** The whole story, for the driver author. */
  readonly message: string;
}

/** Options of {@link WasmKernel.create}. */
export interface WasmKernelOptions {
  /** Acting as the domain (its peers introduced). */
  readonly ctx: DomainContext;
  /** The driver module's bytes. */
  readonly bytes: Uint8Array;
  /** Where xenstore is (start info). */
  readonly xenstore: XenstoreStartInfo;
  /**
   * Whether `pv_evtchn_wait` may sleep (`Atomics.wait`): true in the domain's own worker; false
   * in single-thread mode, where it only reports whether an event is pending.
   */
  readonly blocking: boolean;
  /** Where the module's `pv_log` lines go. */
  readonly log?: (line: string) => void;
  /** Check the module's vscsiif ring with a {@link VscsiifFrontChecker} (default true). */
  readonly checkProtocol?: boolean;
}

type Exports = {
  pv_poll?: () => number;
  pv_status?: () => number;
  pv_shutdown?: () => void;
  [name: string]: unknown;
};

/**
 * A domain whose kernel is a WebAssembly module, at Mini-OS's level: the module's linear memory
 * is the domain's memory (a guest address is the C pointer), and its imports (module `xen`) are
 * hypercalls acting through the domain's {@link DomainContext}: event channel ops with Xen's
 * argument structs read from linear memory, grant access and try-end, event poll and wait, pages
 * from the domain's frame allocator. The xenstore ring is a page of that memory, so the module's
 * own xenbus client runs inside it; only notify and wait cross the boundary.
 *
 * Sans-IO like the other cores: {@link poll} runs the module's exported non-blocking `pv_poll()`
 * once; a worker loop or the single-thread system calls it. A trap or a malformed hypercall stops
 * the kernel with a {@link WasmFault} instead of escaping: nothing the module does reaches past
 * its own memory and the hypercalls' checks.
 */
export class WasmKernel {
  readonly ctx: DomainContext;
  readonly image: WasmImage;
  private readonly instance: WebAssembly.Instance;
  private readonly exportsRef: Exports;
  private readonly mem: DataView;
  private readonly bytes: Uint8Array;
  private readonly scratch = new Int32Array(64);
  private readonly scratchViews: Array<Int32Array | undefined> = [];
  private readonly started = performance.now();
  private faultValue: WasmFault | null = null;
  private readonly logLine: (line: string) => void;
  /** Hypercalls made, by name (for reports and benchmarks). */
  readonly hypercalls = new Map<string, number>();
  /**
   * The protocol checker of the module's vscsiif ring, once it granted one: a page granted
   * writable whose indexes read as `SHARED_RING_INIT` left them ({0, 1, 0, 1}). Its port is the
   * next one the module allocates for the same backend.
   */
  private checker: VscsiifFrontChecker | null = null;
  /**
   * Backend level (machine-memory mode): the maptrack handle mapped at each machine frame (a
   * stack per frame, as one page may be mapped more than once; -1 none), chained through
   * {@link mapNext}. Allocated on the first map.
   */
  private mapHead: Int32Array | null = null;
  private mapNext: Int32Array | null = null;
  private readonly copyOne = new GrantCopyBatch(1);
  /** Backend operations refused (bad ref, double unmap, copy outside a page), for reports. */
  refused = 0;
  private ringPort = -1;
  private readonly checkRings: boolean;

  private constructor(opts: WasmKernelOptions, image: WasmImage, instance: WebAssembly.Instance) {
    this.ctx = opts.ctx;
    this.image = image;
    this.instance = instance;
    this.exportsRef = instance.exports as Exports;
    const buf = opts.ctx.memory.buffer;
    this.mem = new DataView(buf);
    this.bytes = new Uint8Array(buf);
    this.logLine = opts.log ?? (() => undefined);
    this.checkRings = opts.checkProtocol !== false;
  }

  /** Protocol violations the checker saw, oldest first (empty without a ring or a checker). */
  get violations(): readonly VscsiifViolation[] {
    return this.checker?.violations ?? [];
  }

  /**
   * Instantiate the module with the domain's memory imported. The domain must have been created
   * with that memory and the image's frames reserved ({@link wasmDomainBacking}).
   */
  static create(opts: WasmKernelOptions): WasmKernel {
    const wasmMemory = opts.ctx.view.handle.wasmMemory;
    if (wasmMemory === undefined) {
      throw invalidArgument(
        "WasmKernel ctx",
        "a domain created with a wasmMemory backing",
        `dom${opts.ctx.domid}`,
      );
    }
    const image = inspectWasmImage(opts.bytes);
    if (image.imageFrames >= opts.ctx.view.frames) {
      throw invalidArgument(
        "domain memory",
        `more than the ${image.imageFrames} frames the module's image needs`,
        opts.ctx.view.frames,
      );
    }
    const module = new WebAssembly.Module(opts.bytes);
    let self: WasmKernel | undefined;
    const k = (): WasmKernel => self!;
    const xen = {
      HYPERVISOR_event_channel_op: (cmd: number, arg: number) => k().eventChannelOp(cmd, arg >>> 0),
      gnttab_grant_access: (domid: number, frame: number, ro: number) =>
        k().grantAccess(domid, frame >>> 0, ro),
      gnttab_end_access: (ref: number) => k().endAccess(ref >>> 0),
      pv_evtchn_poll: (ptr: number, max: number) => k().evtchnPoll(ptr >>> 0, max >>> 0),
      pv_evtchn_wait: (timeoutMs: number) => k().evtchnWait(timeoutMs, opts.blocking),
      pv_page_alloc: () => k().pageAlloc(),
      pv_page_free: (addr: number) => k().pageFree(addr >>> 0),
      pv_start_info: (ptr: number) => k().startInfo(ptr >>> 0, opts.xenstore),
      pv_log: (ptr: number, len: number) => k().log(ptr >>> 0, len >>> 0),
      pv_time_ms: () => Math.floor(performance.now() - k().started),
      pv_gnttab_map: (domid: number, ref: number, writable: number) =>
        k().gnttabMap(domid, ref >>> 0, writable !== 0),
      pv_gnttab_unmap: (addr: number) => k().gnttabUnmap(addr >>> 0),
      pv_gnttab_copy: (segs: number, count: number) => k().gnttabCopy(segs >>> 0, count >>> 0),
    };
    const pages = wasmMemory.buffer.byteLength / 65536;
    if (pages < image.memory.minPages) {
      throw invalidArgument(
        "wasm kernel's memory",
        `at least the module's ${image.memory.minPages} wasm pages`,
        `${pages} pages`,
      );
    }
    const instance = new WebAssembly.Instance(module, { env: { memory: wasmMemory }, xen });
    self = new WasmKernel(opts, image, instance);
    if (typeof self.exportsRef.pv_poll !== "function") {
      throw invalidArgument(
        "wasm kernel",
        "a module exporting pv_poll() (-Wl,--export=pv_poll)",
        image.exports,
      );
    }
    return self;
  }

  /** The module's exported function `name`, or undefined (for a driver's own entry points). */
  exportedFunction(name: string): ((...args: number[]) => number) | undefined {
    const f = this.instance.exports[name];
    return typeof f === "function" ? (f as (...args: number[]) => number) : undefined;
  }

  /** Why the kernel stopped, or null while it runs. */
  get fault(): WasmFault | null {
    return this.faultValue;
  }

  /**
   * One step of the module (`pv_poll()`): its return value (work done; 0 when idle), or 0 once it
   * has faulted. Never throws for anything the module does.
   */
  poll(): number {
    if (this.faultValue !== null) return 0;
    let work: number;
    try {
      work = this.exportsRef.pv_poll!() | 0;
    } catch (e) {
      this.stopWith(e);
      work = 0;
    }
    const c = this.checker;
    if (c !== null) {
      const seen = c.total;
      if (c.observe() > 0) this.logViolations(seen);
    }
    return work;
  }

  private logViolations(from: number): void {
    const v = this.checker!.violations;
    for (let i = from; i < v.length; i++) this.logLine(`[pvscsi] protocol violation: ${v[i]!.message}`);
  }

  /** The module's `pv_status()` (0 running, 1 finished, negative failed); null if not exported. */
  status(): number | null {
    const f = this.exportsRef.pv_status;
    if (typeof f !== "function" || this.faultValue !== null) return null;
    try {
      return f() | 0;
    } catch (e) {
      this.stopWith(e);
      return null;
    }
  }

  /** Ask the module to shut down (its `pv_shutdown()`, if it has one). */
  shutdown(): void {
    const f = this.exportsRef.pv_shutdown;
    if (typeof f !== "function" || this.faultValue !== null) return;
    try {
      f();
    } catch (e) {
      this.stopWith(e);
    }
  }

  private stopWith(e: unknown): void {
    if (e instanceof HypercallFault) {
      this.faultValue = { kind: "hypercall", message: `dom${this.ctx.domid}: ${e.message}` };
    } else {
      const msg = e instanceof Error ? e.message : String(e);
      const stack = e instanceof Error && e.stack ? `\n${wasmFrames(e.stack)}` : "";
      this.faultValue = { kind: "trap", message: `dom${this.ctx.domid}: the module trapped: ${msg}${stack}` };
    }
    this.logLine(`[pvscsi] kernel stopped: ${this.faultValue.message}`);
  }

  private count(name: string): void {
    this.hypercalls.set(name, (this.hypercalls.get(name) ?? 0) + 1);
  }

  /**
   * `len` bytes at guest address `ptr` must lie in the domain's own memory (for a backend in
   * machine-memory mode: its own range, not the rest of the machine memory it can address).
   */
  private check(what: string, ptr: number, len: number): void {
    const own = this.ctx.view.frames * XEN_PAGE_SIZE;
    if (ptr + len > own) {
      throw new HypercallFault(
        `${what}: argument [0x${ptr.toString(16)}, +${len}) lies outside the domain's ${own} bytes`,
      );
    }
  }

  /** Log a refused backend operation (bounded: a driver in a loop does not flood the log). */
  private report(text: string): void {
    if (++this.refused <= MAX_REPORTS) this.logLine(`[pvscsi] dom${this.ctx.domid}: ${text}`);
    else if (this.refused === MAX_REPORTS + 1)
      this.logLine(`[pvscsi] dom${this.ctx.domid}: further refused operations are only counted`);
  }

  /**
   * The backend's grant map (libxengnttab's `xengnttab_map_grant_ref`, one page): pins the grant
   * through the hypervisor's grant code exactly as a TypeScript backend's map does, and returns
   * the machine address of the granted frame, which the module dereferences. A negative
   * `GNTST_*` when refused (reported in the log). Needs machine-memory mode: this domain at
   * machine address 0 and the granter carved from the same machine memory.
   */
  private gnttabMap(domid: number, ref: number, writable: boolean): number {
    this.count("gnttab_map");
    const self = this.ctx.view.handle.machine;
    const peer = this.ctx.peerView(domid);
    if (
      peer !== null &&
      (self === undefined || self.byteOffset !== 0 || peer.handle.machine?.id !== self.id)
    ) {
      this.report(
        `gnttab map of dom${domid} ref ${ref}: GNTST_general_error: dom${domid}'s memory is not in this backend's machine memory (machine-memory mode: a wasm backend maps only domains carved from it; use grant copy otherwise)`,
      );
      return GNTST_general_error;
    }
    const h = this.ctx.mapper.map(domid, ref, !writable);
    if (h < 0) {
      this.report(
        `gnttab map of dom${domid} ref ${ref}${writable ? "" : " read-only"}: ${grantStatusName(h)}: ${this.ctx.mapper.lastError}`,
      );
      return h;
    }
    const frame = (peer!.memory.byteOffset + this.ctx.mapper.mappedOffset(h)) >>> XEN_PAGE_SHIFT;
    if (this.mapHead === null) {
      this.mapHead = new Int32Array(this.bytes.length / XEN_PAGE_SIZE).fill(-1);
      this.mapNext = new Int32Array(this.ctx.view.maptrackEntries).fill(-1);
    }
    this.mapNext![h] = this.mapHead[frame]!;
    this.mapHead[frame] = h;
    return frame << XEN_PAGE_SHIFT;
  }

  /** libxengnttab's `xengnttab_unmap` of one page: 0, or `GNTST_bad_handle` (reported) if nothing is mapped there. */
  private gnttabUnmap(addr: number): number {
    this.count("gnttab_unmap");
    const frame = addr >>> XEN_PAGE_SHIFT;
    const h = this.mapHead !== null && addr % XEN_PAGE_SIZE === 0 ? (this.mapHead[frame] ?? -1) : -1;
    if (h < 0) {
      this.report(
        `gnttab unmap of 0x${addr.toString(16)}: GNTST_bad_handle: no grant is mapped there (unmapped twice, or never mapped)`,
      );
      return GNTST_bad_handle;
    }
    const rc = this.ctx.mapper.unmap(h);
    if (rc !== 0) {
      this.report(
        `gnttab unmap of 0x${addr.toString(16)}: ${grantStatusName(rc)}: ${this.ctx.mapper.lastError}`,
      );
      return rc;
    }
    this.mapHead![frame] = this.mapNext![h]!;
    this.mapNext![h] = -1;
    return 0;
  }

  /**
   * libxengnttab's `xengnttab_grant_copy`: Xen's `struct gnttab_copy[count]` read from the
   * module's memory, each segment run by the hypervisor's grant copy (a grant of another domain,
   * or a frame of this domain with `DOMID_SELF`), its `status` written back. Returns how many
   * segments failed (each reported). Works in every mode: the copy is pvscsi's, not the module's.
   */
  private gnttabCopy(segs: number, count: number): number {
    this.count("gnttab_copy");
    if (count > GNTCOPY_MAX_SEGMENTS) {
      throw new HypercallFault(
        `pv_gnttab_copy: ${count} segments (at most ${GNTCOPY_MAX_SEGMENTS} per call)`,
      );
    }
    this.check("pv_gnttab_copy", segs, count * GNTCOPY.size);
    const m = this.mem;
    const b = this.copyOne;
    let failed = 0;
    for (let i = 0; i < count; i++) {
      const o = segs + i * GNTCOPY.size;
      b.clear();
      b.push(
        m.getUint16(o + GNTCOPY.flags, true),
        m.getUint16(o + GNTCOPY.sourceDomid, true),
        m.getUint32(o + GNTCOPY.sourceU, true),
        m.getUint16(o + GNTCOPY.sourceOffset, true),
        m.getUint16(o + GNTCOPY.destDomid, true),
        m.getUint32(o + GNTCOPY.destU, true),
        m.getUint16(o + GNTCOPY.destOffset, true),
        m.getUint16(o + GNTCOPY.len, true),
      );
      this.ctx.mapper.copy(b);
      const st = b.status[0]!;
      m.setInt16(o + GNTCOPY.status, st, true);
      if (st !== 0) {
        failed++;
        this.report(`gnttab copy segment ${i}: ${grantStatusName(st)}: ${this.ctx.mapper.lastError}`);
      }
    }
    return failed;
  }

  private eventChannelOp(cmd: number, arg: number): number {
    const ev = this.ctx.evtchn;
    const m = this.mem;
    switch (cmd) {
      case EVTCHNOP.alloc_unbound: {
        this.count("evtchn_alloc_unbound");
        this.check("EVTCHNOP_alloc_unbound", arg, 8);
        const dom = m.getUint16(arg, true);
        if (dom !== DOMID_SELF && dom !== this.ctx.domid) return -XEN_EINVAL;
        const remote = m.getUint16(arg + 2, true);
        const port = ev.allocUnbound(remote);
        if (port < 0) return port;
        if (this.checker !== null && this.ringPort < 0 && this.checkerBackend === remote)
          this.ringPort = port;
        m.setUint32(arg + 4, port, true);
        return 0;
      }
      case EVTCHNOP.bind_interdomain: {
        this.count("evtchn_bind_interdomain");
        this.check("EVTCHNOP_bind_interdomain", arg, 12);
        const port = ev.bindInterdomain(m.getUint16(arg, true), m.getUint32(arg + 4, true));
        if (port < 0) return port;
        m.setUint32(arg + 8, port, true);
        return 0;
      }
      case EVTCHNOP.send: {
        this.count("evtchn_send");
        this.check("EVTCHNOP_send", arg, 4);
        const port = m.getUint32(arg, true);
        if (port === this.ringPort) this.checker?.notified();
        return Math.min(0, ev.send(port));
      }
      case EVTCHNOP.close:
        this.count("evtchn_close");
        this.check("EVTCHNOP_close", arg, 4);
        return Math.min(0, ev.close(m.getUint32(arg, true)));
      case EVTCHNOP.unmask:
        this.count("evtchn_unmask");
        this.check("EVTCHNOP_unmask", arg, 4);
        return Math.min(0, ev.unmask(m.getUint32(arg, true)));
      default:
        return -XEN_ENOSYS;
    }
  }

  private grantAccess(domid: number, frame: number, ro: number): number {
    this.count("gnttab_grant_access");
    if (frame >= this.ctx.view.frames) {
      throw new HypercallFault(
        `gnttab_grant_access: frame ${frame} is not in the domain's memory (${this.ctx.view.frames} frames)`,
      );
    }
    if (domid < 0 || domid > 0xffff)
      throw new HypercallFault(`gnttab_grant_access: domid ${domid} is not a domain id`);
    const ref = this.ctx.grants.grantAccess(domid, frame, ro !== 0);
    if (this.checkRings && this.checker === null && ro === 0 && ref >= 0 && this.looksLikeFreshRing(frame)) {
      this.checker = new VscsiifFrontChecker({
        memory: this.bytes,
        ringOffset: frame * XEN_PAGE_SIZE,
        grantTable: this.ctx.view.grantTable,
        backendDomid: domid,
      });
      this.checkerBackend = domid;
    }
    return ref;
  }

  private checkerBackend = -1;

  /** req_prod 0, req_event 1, rsp_prod 0, rsp_event 1: what SHARED_RING_INIT leaves. */
  private looksLikeFreshRing(frame: number): boolean {
    const o = frame * XEN_PAGE_SIZE;
    const m = this.mem;
    return (
      m.getUint32(o, true) === 0 &&
      m.getUint32(o + 4, true) === 1 &&
      m.getUint32(o + 8, true) === 0 &&
      m.getUint32(o + 12, true) === 1
    );
  }

  private endAccess(ref: number): number {
    this.count("gnttab_end_access");
    if (ref >= this.ctx.grants.entries || !this.ctx.grants.isAllocated(ref) || ref < 8) {
      throw new HypercallFault(`gnttab_end_access: ref ${ref} is not a grant this domain holds`);
    }
    if (this.ctx.grants.endAccess(ref)) return 1;
    const c = this.checker;
    if (c !== null) {
      const seen = c.total;
      c.endedWhileMapped(ref);
      this.logViolations(seen);
    }
    return 0;
  }

  private evtchnPoll(ptr: number, max: number): number {
    const n0 = Math.min(max, this.scratch.length);
    this.check("pv_evtchn_poll", ptr, n0 * 4);
    const ev = this.ctx.evtchn;
    if (!ev.upcallPending()) return 0;
    // One view per size asked for, made once: the event path allocates nothing.
    let out = this.scratchViews[n0];
    if (out === undefined) {
      out = this.scratch.subarray(0, n0);
      this.scratchViews[n0] = out;
    }
    const n = ev.collect(out);
    for (let i = 0; i < n; i++) this.mem.setUint32(ptr + i * 4, this.scratch[i]!, true);
    return n;
  }

  private evtchnWait(timeoutMs: number, blocking: boolean): number {
    this.count("evtchn_wait");
    const ev = this.ctx.evtchn;
    if (blocking && !ev.upcallPending() && timeoutMs !== 0) {
      // Through the vcpu's blocked flag: a sender notifies only a vcpu that announced its sleep.
      blockOnUpcall(ev, timeoutMs < 0 ? Number.POSITIVE_INFINITY : timeoutMs);
    }
    return ev.upcallPending() ? 1 : 0;
  }

  private pageAlloc(): number {
    this.count("page_alloc");
    const f = this.ctx.frames.alloc();
    return f < 0 ? 0 : f * XEN_PAGE_SIZE;
  }

  private pageFree(addr: number): void {
    this.count("page_free");
    const frame = addr / XEN_PAGE_SIZE;
    if (!Number.isInteger(frame) || frame < this.image.imageFrames || frame >= this.ctx.view.frames) {
      throw new HypercallFault(`pv_page_free: 0x${addr.toString(16)} is not a page pv_page_alloc gave`);
    }
    if (!this.ctx.frames.isAllocated(frame)) {
      throw new HypercallFault(`pv_page_free: page 0x${addr.toString(16)} freed twice (or never allocated)`);
    }
    this.ctx.frames.free(frame);
  }

  private startInfo(ptr: number, xs: XenstoreStartInfo): void {
    this.check("pv_start_info", ptr, 20);
    const m = this.mem;
    m.setUint16(ptr, this.ctx.domid, true);
    m.setUint16(ptr + 2, 0, true);
    m.setUint32(ptr + 4, this.ctx.view.frames, true);
    m.setUint32(ptr + 8, xs.frame, true);
    m.setUint32(ptr + 12, xs.port, true);
    m.setUint32(ptr + 16, this.image.imageFrames, true);
  }

  private log(ptr: number, len: number): void {
    this.check("pv_log", ptr, len);
    // Decoding needs a non-shared copy.
    const text = new TextDecoder().decode(this.bytes.slice(ptr, ptr + Math.min(len, 4096)));
    this.logLine(text.replace(/\n$/, ""));
  }
}

/** A hypercall the module made that Xen would refuse outright: stops the module. */
class HypercallFault extends Error {}

/** Only the wasm frames of a trap's stack (`wasm-function[12]:0x3a1` or the function's name). */
function wasmFrames(stack: string): string {
  return stack
    .split("\n")
    .filter((l) => l.includes("wasm://") || l.includes("wasm-function"))
    .slice(0, 8)
    .join("\n");
}

/**
 * What {@link Hypervisor.createDomain} needs for a domain whose kernel is the module `bytes`:
 * a shared `WebAssembly.Memory` of exactly `frames` (a multiple of 16, initial = maximum, so the
 * buffer never changes) and the image's frames reserved. With `allocate` false it only checks
 * (a config parser's dry run) and returns no memory.
 */
export function wasmDomainBacking(
  bytes: Uint8Array,
  frames: number,
  allocate = true,
): {
  readonly wasmMemory: WasmMemoryLike | null;
  readonly reservedFrames: number;
  readonly image: WasmImage;
} {
  const image = inspectWasmImage(bytes);
  if (!Number.isInteger(frames) || frames % 16 !== 0 || frames <= 0) {
    throw invalidArgument("memory of a wasm domain", "a multiple of 16 frames (64 KiB wasm pages)", frames);
  }
  const pages = frames / 16;
  if (pages < image.memory.minPages || (image.memory.maxPages !== null && pages > image.memory.maxPages)) {
    throw invalidArgument(
      "memory of a wasm domain",
      `between the module's ${image.memory.minPages} and ${image.memory.maxPages ?? 65536} wasm pages`,
      `${pages} pages`,
    );
  }
  if (image.imageFrames >= frames) {
    throw invalidArgument(
      "memory of a wasm domain",
      `more than the image's ${image.imageFrames} frames`,
      frames,
    );
  }
  new WebAssembly.Module(bytes); // compile errors now, naming the module, not at boot
  const wasmMemory = allocate
    ? new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true })
    : null;
  return { wasmMemory, reservedFrames: image.imageFrames, image };
}
