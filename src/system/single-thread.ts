import { EventDispatcher } from "../evtchn/dispatcher.js";
import { GuestScsi } from "../guest/midlayer.js";
import type { DomainContext } from "../hypervisor/context.js";
import { DomainKernel } from "../hypervisor/domain-kernel.js";
import { Hypervisor } from "../hypervisor/hypervisor.js";
import { prepareXenstoreRing, XenstoreGrantBinder } from "../hypervisor/xenstore-link.js";
import type { ResolvedPdev } from "../scsiback/backend-device.js";
import { ScsibackDriver } from "../scsiback/backend-driver.js";
import { ScsifrontDriver } from "../scsifront/frontend-driver.js";
import type { DomainHandle } from "../xen/domain-handle.js";
import type { XenstoreClient } from "../xenstore/client.js";
import { XenstoreRingPage } from "../xenstore/ring-page.js";
import { Xenstored } from "../xenstore/xenstored.js";
import { writeDomainHome } from "./domain-home.js";

/** A guest running in this thread: its kernel and its scsifront. */
export interface LocalGuest {
  readonly handle: DomainHandle;
  readonly kernel: DomainKernel;
  readonly frontend: ScsifrontDriver<GuestScsi>;
}

/** Options of {@link LocalSystem}. */
export interface LocalSystemOptions {
  /** Resolve `p-dev` for the backend. */
  readonly resolve: (pdev: string) => ResolvedPdev | string;
  /** Frames of dom0's memory. */
  readonly dom0Frames?: number;
}

/**
 * The whole PV split-driver model in one thread, with no workers: the hypervisor, xenstored,
 * dom0's scsiback, and any number of guests with scsifront, each a sans-IO core driven by
 * {@link settle}, which runs whatever is ready — xenstored's passes, every vcpu's events (by
 * polling), the drivers' pending rings — until nothing is. Deterministic, and a step at a time
 * if you like: the basis for tests, replays and teaching.
 *
 * dom0 has two vcpus here, as in the threaded host: vcpu 1 is xenstored's (the toolstack's
 * thread), vcpu 0 the backend kernel's.
 */
export class LocalSystem {
  readonly hv = new Hypervisor();
  readonly dom0: DomainHandle;
  readonly xenstored: Xenstored;
  /** The toolstack's (privileged, in-process) xenstore client. */
  readonly toolstack: XenstoreClient;
  readonly backendCtx: DomainContext;
  readonly backendKernel: DomainKernel;
  readonly backend: ScsibackDriver;
  readonly guests = new Map<number, LocalGuest>();
  private readonly xsCtx: DomainContext;
  private readonly xsDispatch: EventDispatcher;
  private readonly runs: Array<() => void> = [];

  constructor(options: LocalSystemOptions) {
    this.dom0 = this.hv.createDomain({
      domid: 0,
      name: "Domain-0",
      frames: options.dom0Frames ?? 1024,
      vcpus: 2,
    });
    this.xsCtx = this.hv.context(0, { vcpu: 1 });
    this.xsDispatch = new EventDispatcher(this.xsCtx.evtchn);
    this.xenstored = new Xenstored({
      schedule: (run) => {
        this.runs.push(run);
      },
      binder: new XenstoreGrantBinder(this.xsCtx, this.xsDispatch),
    });
    this.toolstack = this.xenstored.client(0);

    // dom0's kernel reaches xenstored through a page of its own memory and a port to itself.
    this.backendCtx = this.hv.context(0, { vcpu: 0 });
    const frame = this.backendCtx.frames.alloc();
    const port = this.backendCtx.evtchn.allocUnbound(0);
    const xsPort = this.xsCtx.evtchn.bindInterdomain(0, port);
    const ring = this.xenstored.attachRing(
      0,
      new XenstoreRingPage(this.backendCtx.memory.buffer, frame * 4096),
      () => {
        this.xsCtx.evtchn.send(xsPort);
      },
    );
    this.xsDispatch.on(xsPort, () => ring.onEvent());
    this.backendKernel = new DomainKernel(this.backendCtx, { frame, port });
    this.backend = new ScsibackDriver({
      ctx: this.backendCtx,
      dispatcher: this.backendKernel.dispatcher,
      xs: this.backendKernel.xs,
      resolve: options.resolve,
    });
  }

  /** Start the backend (its watch on `backend/vscsi`). */
  async start(): Promise<void> {
    await this.run(this.backend.start());
  }

  /**
   * Build a guest as the toolstack does: the domain, its `/local/domain/<id>` home
   * ({@link writeDomainHome}), its xenstore page and port, INTRODUCE, and the guest's kernel with
   * scsifront started.
   */
  async createGuest(name: string, frames = 4096): Promise<LocalGuest> {
    const handle = this.hv.createDomain({ name, frames });
    const domid = handle.domid;
    this.backendCtx.introducePeer(handle);
    this.xsCtx.introducePeer(handle);
    const xs = this.toolstack;
    await this.run(xs.transaction((tx) => writeDomainHome(tx, domid, name)));
    const start = prepareXenstoreRing(this.hv, domid);
    await this.run(xs.introduce(domid, start.frame, start.port));
    const ctx = this.hv.context(domid);
    ctx.introducePeer(this.dom0);
    const kernel = new DomainKernel(ctx, start);
    const frontend = new ScsifrontDriver({
      midlayer: new GuestScsi(),
      ctx,
      dispatcher: kernel.dispatcher,
      xs: kernel.xs,
    });
    const guest = { handle, kernel, frontend };
    this.guests.set(domid, guest);
    await this.run(frontend.start());
    return guest;
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
      work += this.xsDispatch.poll();
      work += this.backendKernel.dispatcher.poll();
      work += this.backend.runPending();
      for (const g of this.guests.values()) {
        work += g.kernel.dispatcher.poll();
        work += g.frontend.runPending();
        g.frontend.retryDeferred();
      }
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

  /** Await `p` while settling the system, so a promise that needs the others to move resolves. */
  async run<T>(p: Promise<T>): Promise<T> {
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
    for (let i = 0; i < 10_000 && !done; i++) await this.settle();
    if (!done) throw new Error("LocalSystem.run: the operation never finished");
    if (failed) throw error;
    return value as T;
  }

  /** Destroy a guest domain (after its devices are gone); returns what it left behind. */
  destroyGuest(domid: number) {
    const g = this.guests.get(domid);
    if (!g) throw new Error(`no guest dom${domid}`);
    this.guests.delete(domid);
    g.kernel.shutdown();
    this.backendCtx.forgetPeer(domid);
    this.xsCtx.forgetPeer(domid);
    return this.hv.destroyDomain(domid);
  }
}
