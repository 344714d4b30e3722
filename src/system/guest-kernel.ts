import createDebug from "debug";
import { BlkfrontDriver } from "../blkfront/frontend-driver.js";
import { parseBlkfrontParams } from "../blkfront/module-params.js";
import { attachBlockLayer, GuestBlock } from "../guest/block-layer.js";
import { GuestFs } from "../guest/guest-fs.js";
import { GuestScsi } from "../guest/midlayer.js";
import type { CommandResult } from "../guest/userland/command.js";
import { iscsiTargetsRunning } from "../guest/userland/iscsi-target.js";
import { runGuestCommand } from "../guest/userland/shell.js";
import type { DomainContext } from "../hypervisor/context.js";
import { DomainKernel } from "../hypervisor/domain-kernel.js";
import { ScsifrontDriver } from "../scsifront/frontend-driver.js";
import { checkDomainHandle, type DomainHandle } from "../xen/domain-handle.js";
import type {
  BaselineResult,
  BaselineRunArgs,
  GuestBoot,
  GuestControllerInfo,
  GuestKernelApi,
  GuestKernelState,
  GuestReleased,
  GuestResumeStats,
} from "./kernel-api.js";
import { KernelLoopStats, runKernelLoop } from "./kernel-loop.js";
import { AdaptiveSpin, HostThreads } from "./poll-budget.js";
import { runBaseline } from "./postmessage-baseline.js";

const debugLoop = createDebug("pvscsi:loop");
/** How a kernel is run: by its own event loop (a worker), or pumped by a single-thread system. */
export type KernelDrive = "loop" | "pumped";

/**
 * A guest domain's kernel with scsifront, the same in a worker and in one thread: built by
 * {@link bootGuestKernel}, it implements {@link GuestKernelApi} directly. With `"loop"` it runs
 * its own event loop ({@link runKernelLoop}); with `"pumped"` the single-thread system calls
 * {@link pump} from its settle loop instead.
 */
export class GuestKernel implements GuestKernelApi {
  private stopping = false;
  /** How the kernel's loop slept, spun and yielded (shown under `DEBUG=pvscsi:loop` at stop). */
  readonly loopStats = new KernelLoopStats();
  private readonly loop: Promise<void> | null;
  /** The guest's own filesystem, the only files its commands reach. */
  readonly fs: GuestFs;
  /** blkfront: the guest's Xen virtual disks (`xvdX`), beside scsifront's SCSI hosts. */
  readonly blkfront: BlkfrontDriver;

  private constructor(
    readonly ctx: DomainContext,
    readonly kernel: DomainKernel,
    readonly frontend: ScsifrontDriver<GuestScsi>,
    drive: KernelDrive,
    pollMode: boolean,
    guestRoot: string,
    hostThreads: SharedArrayBuffer | undefined,
    idleWaitMs: number | undefined,
    cmdline: string,
  ) {
    this.fs = new GuestFs(guestRoot);
    const ev = ctx.evtchn;
    const block = new GuestBlock({
      bytes: ctx.memory,
      allocFrame: () => ctx.frames.alloc(),
      freeFrame: (f) => ctx.frames.free(f),
    });
    attachBlockLayer(frontend.scsi, block);
    const blkfront = new BlkfrontDriver({
      ctx,
      dispatcher: kernel.dispatcher,
      xs: kernel.xs,
      block,
      pollMode,
      // `xen_blkfront.max_ring_page_order=` / `.feature_persistent=` on the kernel command line.
      ...parseBlkfrontParams(cmdline),
    });
    this.blkfront = blkfront;
    this.loop =
      drive === "loop"
        ? runKernelLoop(kernel.dispatcher, [frontend, blkfront], {
            pollMode,
            stats: this.loopStats,
            ...(idleWaitMs !== undefined ? { idleWaitMs } : {}),
            stopped: () => this.stopping,
            tick: () => {
              if (frontend.deferredGrants > 0) frontend.retryDeferred();
              if (blkfront.deferredGrants > 0) blkfront.retryDeferred();
            },
            // A guest command is a control call: while one runs (its promises, file I/O and
            // timers need the event loop) the loop sleeps with waitAsync; between commands it
            // blocks once xenstore traffic has settled — unless a guest service (an iSCSI target)
            // has sockets on the event loop.
            mayBlock: () =>
              ev.callsInTransit() === 0 && !kernel.xenstoreBusy() && !iscsiTargetsRunning(frontend.scsi),
            // A response may resolve a command's promise (a scan between commands, too).
            turnAfterWork: true,
            ...(hostThreads ? { spin: new AdaptiveSpin(HostThreads.attach(hostThreads)) } : {}),
          })
        : null;
  }

  /**
   * Build the kernel over `ctx` (peers introduced, xenstore reached), not yet started: a pumped
   * kernel must be pumped while it starts, since starting talks to xenstore through its ring.
   */
  static create(ctx: DomainContext, boot: GuestBoot, drive: KernelDrive): GuestKernel {
    for (const p of boot.peers) ctx.introducePeer(p);
    const kernel = new DomainKernel(ctx, boot.xenstore);
    const resume = boot.resumeFrom;
    const frontend = new ScsifrontDriver({
      midlayer: new GuestScsi(),
      ctx,
      dispatcher: kernel.dispatcher,
      xs: kernel.xs,
      pollMode: boot.pollMode,
      ...(resume ? { resumeFrom: { saved: resume.state.scsifront, devids: new Map(resume.devids) } } : {}),
    });
    // A resumed kernel keeps its devices and their names: no scan (READD_LUN re-adds them).
    if (resume) frontend.scsi.restoreDevices(resume.state.devices, (n) => frontend.hostByNo(n));
    return new GuestKernel(
      ctx,
      kernel,
      frontend,
      drive,
      boot.pollMode,
      boot.guestRoot,
      boot.hostThreads,
      boot.idleWaitMs,
      boot.cmdline ?? "",
    );
  }

  /** Start scsifront (its watch on the domain's `device/vscsi`). */
  async start(): Promise<void> {
    await this.frontend.start();
    await this.blkfront.start();
  }

  /** One pass of a pumped kernel: dispatch events, run the rings, retry deferred grant ends. */
  pump(): number {
    const work = this.kernel.dispatcher.poll() + this.frontend.runPending() + this.blkfront.runPending();
    this.frontend.retryDeferred();
    this.blkfront.retryDeferred();
    return work;
  }

  async introducePeer(handle: DomainHandle): Promise<void> {
    this.ctx.introducePeer(checkDomainHandle(handle));
  }

  async forgetPeer(domid: number): Promise<void> {
    this.ctx.forgetPeer(domid);
  }

  command(argv: readonly string[]): Promise<CommandResult> {
    return runGuestCommand([...argv], this.frontend.scsi, this.fs);
  }

  async controllers(): Promise<GuestControllerInfo[]> {
    return this.frontend
      .controllers()
      .map((c) => ({ devid: c.devid, state: c.state, backend: c.backend, hostNo: c.host?.hostNo ?? null }));
  }

  async settled(): Promise<void> {
    await this.frontend.settled();
    await this.blkfront.settled();
  }

  baselineRun(args: BaselineRunArgs): Promise<BaselineResult> {
    return runBaseline(args.port, args);
  }

  async shutdown(): Promise<void> {
    await this.frontend.shutdown();
    await this.blkfront.shutdown();
  }

  async released(): Promise<GuestReleased> {
    // A barrier first: a round trip on this kernel's xenstore connection delivers every watch
    // event xenstored queued for it before (the toolstack's removal of a device's directory), so
    // the release that event starts is among what `settled` waits for. Without it, a removal
    // whose watch event was still on its way was missed, and its ring grant and port stayed
    // (found by the whole-system simulator: `pvscsi sim --scenario system-io --seed 56`).
    await this.kernel.xs.tryRead(`/local/domain/${this.ctx.domid}/domid`).catch(() => undefined);
    await this.frontend.settled();
    await this.blkfront.settled();
    this.frontend.retryDeferred();
    this.blkfront.retryDeferred();
    return {
      devices: this.frontend.deviceCount + this.blkfront.deviceCount,
      deferredGrants: this.frontend.deferredGrants + this.blkfront.deferredGrants,
    };
  }

  async suspend(): Promise<GuestKernelState> {
    await this.frontend.suspend();
    return { scsifront: this.frontend.snapshot(), devices: this.frontend.scsi.saveDevices() };
  }

  async thaw(): Promise<void> {
    await this.frontend.thaw();
  }

  async resume(): Promise<void> {
    await this.frontend.resume();
  }

  async resumeStats(): Promise<GuestResumeStats> {
    const s = this.frontend.resumeStats;
    const scsi = this.frontend.scsi;
    return {
      resumes: s.resumes,
      resetCompletions: s.resetCompletions,
      resetRetries: scsi.resetRetries,
      carried: scsi.carried,
      carriedCompletions: scsi.carriedCompletions,
      carriedFailures: scsi.carriedFailures,
    };
  }

  async stop(): Promise<void> {
    await this.frontend.stop();
    await this.blkfront.stop();
    this.stopping = true;
    this.ctx.evtchn.kick();
    if (this.loop) await this.loop;
    debugLoop("dom%d: %o", this.ctx.domid, this.loopStats);
    this.kernel.shutdown();
  }
}

/**
 * Boot a guest's kernel: the one place a guest kernel is built, for workers and for one thread.
 * `created` sees the kernel before it starts (a single-thread system pumps it from then on).
 */
export async function bootGuestKernel(
  ctx: DomainContext,
  boot: GuestBoot,
  drive: KernelDrive,
  created?: (k: GuestKernel) => void,
): Promise<GuestKernel> {
  const k = GuestKernel.create(ctx, boot, drive);
  created?.(k);
  await k.start();
  return k;
}
