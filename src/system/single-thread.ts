import { defaultGuestRoot } from "../guest/guest-fs.js";
import type { GuestScsi } from "../guest/midlayer.js";
import type { DomainContext } from "../hypervisor/context.js";
import type { DomainKernel } from "../hypervisor/domain-kernel.js";
import type { Hypervisor } from "../hypervisor/hypervisor.js";
import type { DomainReport } from "../hypervisor/report.js";
import { prepareXenstoreRing } from "../hypervisor/xenstore-link.js";
import type { ScsibackDriver } from "../scsiback/backend-driver.js";
import type { ScsifrontDriver } from "../scsifront/frontend-driver.js";
import { TraceBuffer } from "../trace/trace-buffer.js";
import { setTracer } from "../trace/tracer.js";
import type { DomainHandle } from "../xen/domain-handle.js";
import { DomainView } from "../xen/domain-view.js";
import type { XenstoreClient } from "../xenstore/client.js";
import type { Xenstored } from "../xenstore/xenstored.js";
import { BackendKernel, bootBackendKernel, type ExtraDevices } from "./backend-kernel.js";
import { type BootOptions, boot, type Machine } from "./boot.js";
import { type Clock, realClock } from "./clock.js";
import { writeDomainHome } from "./domain-home.js";
import { bootGuestKernel, GuestKernel } from "./guest-kernel.js";
import type { BackendBoot, GuestBoot } from "./kernel-api.js";
import type { RunningBackend, RunningKernel, System } from "./system.js";
import { WasmBackendKernel } from "./wasm-backend-kernel.js";
import { WasmGuestKernel } from "./wasm-guest-kernel.js";

/** A guest running in this thread: its kernel and its scsifront. */
export interface LocalGuest {
  readonly handle: DomainHandle;
  readonly kernel: DomainKernel;
  readonly frontend: ScsifrontDriver<GuestScsi>;
}

/** One action {@link LocalSystem.step} ran. */
export interface LocalStep {
  /** Who ran: `xenstored`, `xenstored events`, `scsifront` (a guest kernel) or `scsiback`. */
  readonly actor: string;
  readonly domid: number;
  /** Events dispatched and rings run (at least 1). */
  readonly work: number;
}

/**
 * One action that is ready to run, as {@link LocalSystem.readySteps} lists them for a scheduler
 * of one's own (the simulator's): `run` does it and returns the work done (0: it found nothing).
 */
export interface ReadyStep {
  /**
   * What runs: `xenstored` (one queued pass: a message or a watch event), `xenstored events`
   * (its vcpu's upcall), `<kind> events` (a vcpu servicing its event channels: xenstore replies,
   * watches, ring notifications) or `<kind> rings` (a driver servicing the rings it has pending,
   * and a guest retrying its deferred grant ends), where kind is `scsiback`, `scsifront` or
   * `wasm kernel`.
   */
  readonly actor: string;
  readonly domid: number;
  run(): number;
}

/** Options of {@link LocalSystem.start}. */
export interface LocalSystemOptions extends BootOptions {
  /**
   * The time the system and the toolstack's timeouts run on (default: real time). The
   * simulator passes a virtual clock, so that a run is a function of its seed alone.
   */
  readonly clock?: Clock;
  /**
   * How long {@link LocalSystem.run} keeps settling for one operation before it gives up
   * (default 60 s): longer than the toolstack's own real-timer timeouts, which fire first.
   */
  readonly runLimitMs?: number;
  /**
   * Devices of one's own for dom0's scsiback, consulted before its inventory: return a
   * `{ device, physLun }` for a `p-dev` you serve, `undefined` for the rest.
   */
  readonly devices?: ExtraDevices;
}

/**
 * The whole PV split-driver model in one thread, with no workers: the hypervisor, xenstored,
 * dom0's scsiback, and any number of guests (scsifront) and driver domains (scsiback), each a
 * sans-IO core driven by {@link settle}, which runs whatever is ready — xenstored's passes,
 * every vcpu's events (by polling), the drivers' pending rings — until nothing is.
 * Deterministic, and a step at a time if you like: the basis for tests, replays and teaching.
 *
 * The toolstack runs over it as over the threaded system; an operation is driven by
 * {@link run}, which settles the machine until the operation's promise resolves.
 */
export class LocalSystem implements System {
  readonly hv: Hypervisor;
  readonly dom0: DomainHandle;
  readonly xenstored: Xenstored;
  readonly xs: XenstoreClient;
  readonly pollMode: boolean;
  /** No limit: one thread runs every kernel, so polling spins no extra thread. */
  readonly pollThreads = Number.POSITIVE_INFINITY;
  dom0Kernel: RunningBackend | null = null;
  /** With `trace`: this thread's one recorder, which every kernel here writes to. */
  readonly traces: TraceBuffer[] = [];
  /** Guests created by {@link createGuest}, by domid. */
  readonly guests = new Map<number, LocalGuest>();
  private dom0Backend: BackendKernel | null = null;
  /** Every kernel this thread pumps: dom0's, driver domains', guests'. */
  private readonly kernels = new Set<GuestKernel | BackendKernel | WasmGuestKernel>();
  private stepCursor = 0;
  /**
   * Set by a scheduler that drives the machine itself ({@link readySteps}): {@link run} then
   * only awaits its promise, and the scheduler's steps make it resolve.
   */
  externallyDriven = false;

  private constructor(
    private readonly machine: Machine,
    private readonly runs: Array<() => void>,
    private readonly runLimitMs: number,
    readonly clock: Clock,
    private readonly extraDevices?: ExtraDevices,
  ) {
    this.hv = machine.hv;
    this.dom0 = machine.dom0;
    this.xenstored = machine.xenstored;
    this.xs = machine.xs;
    this.pollMode = machine.pollMode;
    if (machine.trace) {
      const t = TraceBuffer.create();
      this.traces.push(t);
      setTracer(t);
    }
  }

  /** Boot ({@link boot}) with every kernel in this thread; dom0 has 1024 frames unless told. */
  static async start(options: LocalSystemOptions = {}): Promise<LocalSystem> {
    // xenstored's passes queue here; settle() runs them.
    const runs: Array<() => void> = [];
    let sys: LocalSystem | undefined;
    const { dom0Kernel } = await boot(
      { ...options, dom0Frames: options.dom0Frames ?? 1024 },
      {
        schedule: (run) => {
          runs.push(run);
        },
        attach: (m) => {
          sys = new LocalSystem(
            m,
            runs,
            options.runLimitMs ?? 60_000,
            options.clock ?? realClock,
            options.devices,
          );
        },
        drive: (p) => sys!.run(p),
        startBackendKernel: (b) => sys!.startBackendKernel(b),
      },
    );
    sys!.dom0Kernel = dom0Kernel;
    return sys!;
  }

  /** The toolstack's client (the name the single-thread tests use). */
  get toolstack(): XenstoreClient {
    return this.xs;
  }

  /** dom0's scsiback, in this thread. */
  get backend(): ScsibackDriver {
    return this.dom0KernelHere().backend;
  }

  /** dom0's backend kernel's context (vcpu 0). */
  get backendCtx(): DomainContext {
    return this.dom0KernelHere().ctx;
  }

  private dom0KernelHere(): BackendKernel {
    if (!this.dom0Backend) throw new Error("LocalSystem: dom0's kernel is not running");
    return this.dom0Backend;
  }

  async startGuestKernel(b: GuestBoot): Promise<RunningKernel<GuestKernel | WasmGuestKernel>> {
    const ctx = this.hv.context(b.self.domid, { vcpu: b.vcpu });
    if (b.wasmKernel) {
      const w = new WasmGuestKernel(ctx, b, "pumped");
      this.kernels.add(w);
      return this.running(b.self.domid, w, b.pollMode);
    }
    const k = await this.run(bootGuestKernel(ctx, b, "pumped", (k) => this.kernels.add(k)));
    return this.running(b.self.domid, k, b.pollMode);
  }

  async startBackendKernel(b: BackendBoot): Promise<RunningBackend> {
    const ctx = this.hv.context(b.self.domid, { vcpu: b.vcpu });
    if (b.wasmKernel) {
      // The module is pumped like a wasm guest's; the toolstack holds the backend API over it.
      const w = new WasmBackendKernel(ctx, b, "pumped");
      this.kernels.add(w.wasm);
      const started = performance.now();
      return {
        domid: b.self.domid,
        pollMode: b.pollMode,
        api: w,
        cpuSeconds: () => (performance.now() - started) / 1000,
        terminate: async () => {
          this.kernels.delete(w.wasm);
        },
        inventory: await w.inventory(),
      };
    }
    const extra = b.self.domid === 0 ? this.extraDevices : undefined;
    const k = await this.run(bootBackendKernel(ctx, b, "pumped", (k) => this.kernels.add(k), extra));
    if (b.self.domid === 0) this.dom0Backend = k;
    return { ...this.running(b.self.domid, k, b.pollMode), inventory: await k.inventory() };
  }

  private running<K extends GuestKernel | BackendKernel | WasmGuestKernel>(
    domid: number,
    k: K,
    pollMode: boolean,
  ): RunningKernel<K> {
    const started = performance.now();
    return {
      domid,
      pollMode,
      api: k,
      // One thread runs every kernel, so a kernel's own time is not measured: wall time stands in.
      cpuSeconds: () => (performance.now() - started) / 1000,
      terminate: async () => {
        this.kernels.delete(k);
        if (k === this.dom0Backend) this.dom0Backend = null;
      },
    };
  }

  introducePeer(handle: DomainHandle): void {
    this.machine.xsCtx.introducePeer(handle);
  }

  forgetPeer(domid: number): void {
    this.machine.xsCtx.forgetPeer(domid);
  }

  /**
   * Build a guest by hand, without the toolstack: the domain, its `/local/domain/<id>` home
   * ({@link writeDomainHome}), its xenstore page and port, INTRODUCE, and the guest's kernel with
   * scsifront started. For tests that then write the device nodes themselves. Its filesystem is
   * `guestRoot`, by default {@link defaultGuestRoot} (made only when a command uses a file).
   * With `resume`, the guest is a saved one resumed, as `xl restore` builds it: its memory image
   * and frame bitmap go in before anything here allocates, and its kernel boots from the saved
   * state (then call its scsifront's `resume` once its device nodes are written).
   */
  async createGuest(
    name: string,
    frames = 4096,
    guestRoot = defaultGuestRoot(name),
    resume?: {
      readonly memory: Uint8Array;
      readonly frameBitmap: Int32Array;
      readonly from: NonNullable<GuestBoot["resumeFrom"]>;
    },
  ): Promise<LocalGuest> {
    const handle = this.hv.createDomain({ name, frames });
    const domid = handle.domid;
    if (resume) {
      new Uint8Array(handle.memory).set(resume.memory);
      const v = new DomainView(handle);
      for (let i = 0; i < v.layout.frameBitmapWords; i++)
        Atomics.or(v.kernel, v.layout.frameBitmap + i, resume.frameBitmap[i] ?? 0);
    }
    const dom0 = this.dom0KernelHere();
    await dom0.introducePeer(handle);
    this.introducePeer(handle);
    await this.run(this.xs.transaction((tx) => writeDomainHome(tx, domid, name)));
    const start = prepareXenstoreRing(this.hv, domid);
    await this.run(this.xs.introduce(domid, start.frame, start.port));
    const { api } = await this.startGuestKernel({
      self: handle,
      vcpu: 0,
      peers: [this.dom0],
      xenstore: start,
      pollMode: this.pollMode,
      guestRoot,
      ...(resume ? { resumeFrom: resume.from } : {}),
    });
    if (api instanceof WasmGuestKernel)
      throw new Error("LocalSystem.createGuest boots pvscsi's scsifront only");
    const guest = { handle, kernel: api.kernel, frontend: api.frontend };
    this.guests.set(domid, guest);
    return guest;
  }

  /** Destroy a guest made by {@link createGuest} (after its devices are gone); returns what it left. */
  destroyGuest(domid: number): DomainReport {
    const g = this.guests.get(domid);
    if (!g) throw new Error(`no guest dom${domid}`);
    this.guests.delete(domid);
    for (const k of this.kernels) if (k.kernel === g.kernel) this.kernels.delete(k);
    g.kernel.shutdown();
    this.dom0Backend?.ctx.forgetPeer(domid);
    this.forgetPeer(domid);
    return this.hv.destroyDomain(domid);
  }

  /**
   * Run everything that is ready until nothing is: xenstored passes, every vcpu's events, the
   * drivers' rings, and the promise callbacks they release. Returns the number of steps taken.
   */
  async settle(maxSteps = 100_000): Promise<number> {
    let idle = 0;
    for (let step = 0; step < maxSteps; step++) {
      let work = 0;
      while (this.runs.length > 0) {
        this.runs.shift()!();
        work++;
      }
      work += this.machine.xsDispatch.poll();
      for (const k of this.kernels) work += k.pump();
      // Let the promise chains the step released run (xenstore replies resolve client calls).
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (work === 0 && this.runs.length === 0) {
        if (++idle >= 3) return step;
      } else {
        idle = 0;
      }
    }
    throw new Error(`LocalSystem.settle: still busy after ${maxSteps} steps`);
  }

  /**
   * The kernel of `domid` running in this thread (a guest's {@link GuestKernel} or
   * {@link WasmGuestKernel}, or a backend domain's {@link BackendKernel}), for tools that inspect
   * it; undefined if none.
   */
  kernelOf(domid: number): GuestKernel | BackendKernel | WasmGuestKernel | undefined {
    for (const k of this.kernels) if (k.ctx.domid === domid) return k;
    return undefined;
  }

  /**
   * Every action ready now, in a fixed order (xenstored's queued pass, xenstored's events, then
   * per kernel in boot order its events and its rings), for a scheduler that picks among them
   * itself. Each `run` is one core action and returns at once; the promise callbacks it
   * releases are the caller's to let run before the next.
   */
  readySteps(): ReadyStep[] {
    const out: ReadyStep[] = [];
    if (this.runs.length > 0)
      out.push({
        actor: "xenstored",
        domid: 0,
        run: () => {
          const pass = this.runs.shift();
          pass?.();
          return pass ? 1 : 0;
        },
      });
    if (this.machine.xsCtx.evtchn.upcallPending())
      out.push({ actor: "xenstored events", domid: 0, run: () => this.machine.xsDispatch.poll() });
    for (const k of this.kernels) {
      const domid = k.ctx.domid;
      if (k instanceof WasmGuestKernel) {
        out.push({ actor: "wasm kernel", domid, run: () => k.pump() });
        continue;
      }
      const kind = k instanceof BackendKernel ? "scsiback" : "scsifront";
      if (k.ctx.evtchn.upcallPending())
        out.push({ actor: `${kind} events`, domid, run: () => k.kernel.dispatcher.poll() });
      if (k instanceof BackendKernel) {
        if (k.backend.hasPending || k.blkback.hasPending)
          out.push({
            actor: `${kind} rings`,
            domid,
            run: () => k.backend.runPending() + k.blkback.runPending(),
          });
      } else if (
        k.frontend.hasPending ||
        k.blkfront.hasPending ||
        k.frontend.deferredGrants > 0 ||
        k.blkfront.deferredGrants > 0
      ) {
        out.push({
          actor: `${kind} rings`,
          domid,
          run: () => {
            const w = k.frontend.runPending() + k.blkfront.runPending();
            k.frontend.retryDeferred();
            k.blkfront.retryDeferred();
            return w;
          },
        });
      }
    }
    return out;
  }

  /**
   * Run one core action — the next ready one after the last, in a fixed round: xenstored's
   * queued pass, xenstored's events, then each kernel's pump (its events and rings) — and let the
   * promise callbacks it released run. Returns what ran, or null when nothing was ready.
   * `skip(domid)` leaves a kernel out (a stalled backend, for teaching). Deterministic: the
   * order depends only on what is ready.
   */
  async step(skip?: (domid: number) => boolean): Promise<LocalStep | null> {
    const ks = [...this.kernels];
    const n = 2 + ks.length;
    for (let i = 0; i < n; i++) {
      const a = (this.stepCursor + i) % n;
      let ran: LocalStep | null = null;
      if (a === 0) {
        if (this.runs.length > 0) {
          this.runs.shift()!();
          ran = { actor: "xenstored", domid: 0, work: 1 };
        }
      } else if (a === 1) {
        const w = this.machine.xsDispatch.poll();
        if (w > 0) ran = { actor: "xenstored events", domid: 0, work: w };
      } else {
        const k = ks[a - 2]!;
        if (skip?.(k.ctx.domid)) continue;
        const w = k.pump();
        if (w > 0)
          ran = {
            actor:
              k instanceof BackendKernel
                ? "scsiback"
                : k instanceof GuestKernel
                  ? "scsifront"
                  : "wasm kernel",
            domid: k.ctx.domid,
            work: w,
          };
      }
      if (ran !== null) {
        this.stepCursor = (a + 1) % n;
        await new Promise<void>((resolve) => setImmediate(resolve));
        return ran;
      }
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
    return null;
  }

  /**
   * Await `p` while settling the system, so a promise that needs the others to move resolves.
   * Between settles with nothing to do it sleeps a millisecond of its {@link clock}, so timers
   * (the toolstack's timeouts, a device's delays) fire as they would with threads. When
   * {@link externallyDriven}, it only awaits `p`: the scheduler's steps move the machine.
   */
  async run<T>(p: Promise<T>): Promise<T> {
    if (this.externallyDriven) return p;
    let done = false;
    let value: T | undefined;
    let error: unknown;
    let failed = false;
    p.then(
      (v) => {
        done = true;
        value = v;
      },
      (e: unknown) => {
        done = true;
        failed = true;
        error = e;
      },
    );
    const clock = this.clock;
    const deadline = clock.now() + this.runLimitMs;
    while (!done && clock.now() < deadline) {
      const steps = await this.settle();
      if (!done && steps <= 2) await clock.sleep(1);
    }
    if (!done) throw new Error("LocalSystem.run: the operation never finished");
    if (failed) throw error;
    return value as T;
  }

  /** Stop dom0's kernel and xenstored (the toolstack stopped the other domains first). */
  async shutdown(): Promise<void> {
    const dom0 = this.dom0Kernel;
    if (dom0) {
      await this.run(dom0.api.stop()).catch(() => undefined);
      await dom0.terminate();
      this.dom0Kernel = null;
    }
    this.xenstored.close();
  }
}
