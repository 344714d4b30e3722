import createDebug from "debug";
import { BlkbackDriver, type VbdReport } from "../blkback/backend-driver.js";
import type { DomainContext } from "../hypervisor/context.js";
import { DomainKernel } from "../hypervisor/domain-kernel.js";
import type { ScsiDevice } from "../scsi/device.js";
import type { ResolvedPdev } from "../scsiback/backend-device.js";
import { ScsibackDriver, type VhostReport } from "../scsiback/backend-driver.js";
import { parseHostConfig } from "../targets/inventory/host-config.js";
import { Inventory, type LsscsiRow } from "../targets/inventory/inventory.js";
import { checkDomainHandle, type DomainHandle } from "../xen/domain-handle.js";
import type { KernelDrive } from "./guest-kernel.js";
import { type BackendBoot, type BackendKernelApi, lunsChangedPath } from "./kernel-api.js";
import { KernelLoopStats, runKernelLoop } from "./kernel-loop.js";
import { AdaptiveSpin, HostThreads } from "./poll-budget.js";
import { serveBaseline } from "./postmessage-baseline.js";

const debugLoop = createDebug("pvscsi:loop");
/**
 * A backend domain's kernel (dom0 or a driver domain), the same in a worker and in one thread:
 * its physical SCSI inventory opened from its host config, scsiback started over it, and
 * {@link BackendKernelApi} implemented directly. `"loop"` runs its own event loop; `"pumped"`
 * leaves {@link pump} to the single-thread system.
 */
export class BackendKernel implements BackendKernelApi {
  private stopping = false;
  /** How the kernel's loop slept, spun and yielded (shown under `DEBUG=pvscsi:loop` at stop). */
  readonly loopStats = new KernelLoopStats();
  /** Ports serving the postMessage baseline (benchmarks): their messages need the event loop. */
  private baselineServing = 0;
  private readonly loop: Promise<void> | null;

  private constructor(
    readonly ctx: DomainContext,
    readonly kernel: DomainKernel,
    readonly backend: ScsibackDriver,
    readonly devices: Inventory,
    drive: KernelDrive,
    pollMode: boolean,
    hostThreads: SharedArrayBuffer | undefined,
    idleWaitMs: number | undefined,
    /** blkback: the same units served as Xen virtual block devices (VBDs). */
    readonly blkback: BlkbackDriver,
  ) {
    const ev = ctx.evtchn;
    // A remote target changed its LUNs by itself (06/3F/0E and a rescan): say so in this
    // domain's own xenstore area, where the toolstack watches (lunsChangedPath).
    let seq = 0;
    devices.onChange = (host) => {
      void kernel.xs
        .write(lunsChangedPath(ctx.domid), `${host}:${++seq}`)
        .catch((e: unknown) => debugLoop("dom%d: %s", ctx.domid, (e as Error).message));
    };
    this.loop =
      drive === "loop"
        ? runKernelLoop(kernel.dispatcher, [backend, blkback], {
            pollMode,
            stats: this.loopStats,
            ...(idleWaitMs !== undefined ? { idleWaitMs } : {}),
            stopped: () => this.stopping,
            // Block the thread only when nothing but an event can bring work: no control call in
            // transit, no xenstore traffic left to settle, no device I/O on the event loop.
            mayBlock: () =>
              ev.callsInTransit() === 0 &&
              !kernel.xenstoreBusy() &&
              !backend.busyOffRing &&
              !blkback.busyOffRing &&
              !devices.busy &&
              this.baselineServing === 0,
            ...(hostThreads ? { spin: new AdaptiveSpin(HostThreads.attach(hostThreads)) } : {}),
          })
        : null;
  }

  /**
   * Open the inventory and build the kernel over `ctx`, not yet started (a pumped kernel must be
   * pumped while it starts: starting talks to xenstore through its ring).
   */
  static async create(
    ctx: DomainContext,
    boot: BackendBoot,
    drive: KernelDrive,
    extra?: ExtraDevices,
  ): Promise<BackendKernel> {
    for (const p of boot.peers) ctx.introducePeer(p);
    const kernel = new DomainKernel(ctx, boot.xenstore);
    const inventory = boot.hostConfig
      ? await Inventory.open(
          parseHostConfig(boot.hostConfig.text, boot.hostConfig.source, boot.hostConfig.baseDir),
        )
      : await Inventory.openDefault();
    const resolve = async (pdev: string): Promise<ResolvedPdev | string> => {
      const own = extra?.(pdev);
      if (own !== undefined) return own;
      const e = inventory.find(pdev);
      if (!e) return "doesn't exist";
      // A unit that could not be opened is tried again on each attach: the user may have
      // fixed the image (or the other host released it) since the host started.
      const fault = e.fault === null ? null : await inventory.reopen(e);
      if (fault !== null) return `not ready: ${fault}`;
      return { device: e.device, physLun: e.hctl.lun };
    };
    const limits = boot.pvLimits ?? {};
    const backend = new ScsibackDriver({
      ctx,
      dispatcher: kernel.dispatcher,
      xs: kernel.xs,
      pollMode: boot.pollMode,
      resolve,
      ...(limits.scsiSgGrant !== undefined ? { sgGrant: limits.scsiSgGrant } : {}),
    });
    // A VBD's `params` names a unit of the same inventory (`/dev/sdX`, h:c:t:l or naa.), so a vscsi
    // disk and a vbd over one image reach the same device object.
    const blkback = new BlkbackDriver({
      ctx,
      dispatcher: kernel.dispatcher,
      xs: kernel.xs,
      pollMode: boot.pollMode,
      ...(limits.blkifIndirectSegments !== undefined
        ? { maxIndirectSegments: limits.blkifIndirectSegments }
        : {}),
      ...(limits.blkifPersistent !== undefined ? { persistent: limits.blkifPersistent } : {}),
      ...(limits.blkifRingPageOrder !== undefined ? { maxRingPageOrder: limits.blkifRingPageOrder } : {}),
      resolve: async (target) => {
        const r = await resolve(target);
        return typeof r === "string" ? r : { device: r.device, lun: r.physLun };
      },
    });
    return new BackendKernel(
      ctx,
      kernel,
      backend,
      inventory,
      drive,
      boot.pollMode,
      boot.hostThreads,
      boot.idleWaitMs,
      blkback,
    );
  }

  /** Start scsiback (its watch on `backend/vscsi`). */
  async start(): Promise<void> {
    await this.backend.start();
    await this.blkback.start();
  }

  /** One pass of a pumped kernel: dispatch events and run the rings. */
  pump(): number {
    return this.kernel.dispatcher.poll() + this.backend.runPending() + this.blkback.runPending();
  }

  async introducePeer(handle: DomainHandle): Promise<void> {
    this.ctx.introducePeer(checkDomainHandle(handle));
  }

  async forgetPeer(domid: number): Promise<void> {
    this.ctx.forgetPeer(domid);
  }

  async report(): Promise<VhostReport[]> {
    return this.backend.report();
  }

  async vbdReport(): Promise<VbdReport[]> {
    return this.blkback.report();
  }

  /** pvscsi's scsiback logs through `debug` (`DEBUG=pvscsi:*`), not a kernel log. */
  async kernelLog(): Promise<string[]> {
    return [];
  }

  async inventory(): Promise<LsscsiRow[]> {
    return this.devices.list();
  }

  rescan(host?: number): Promise<{ added: string[]; removed: string[] }> {
    return this.devices.rescan(host);
  }

  async baselineServe(args: {
    readonly port: import("node:worker_threads").MessagePort;
    readonly pdev: string;
  }): Promise<void> {
    const e = this.devices.resolve(args.pdev);
    this.baselineServing++;
    args.port.once("close", () => this.baselineServing--);
    void serveBaseline(args.port, e.device, e.hctl.lun);
  }

  async stop(): Promise<void> {
    await this.backend.stop();
    await this.blkback.stop();
    this.stopping = true;
    this.ctx.evtchn.kick();
    if (this.loop) await this.loop;
    debugLoop("dom%d: %o", this.ctx.domid, this.loopStats);
    this.kernel.shutdown();
    await this.devices.close();
  }
}

/**
 * Devices of one's own beside a backend's inventory, in a kernel running in this thread (a
 * function cannot cross to a worker): called first for every `p-dev`; `undefined` means "not
 * mine, ask the inventory". The way to plug a {@link ScsiDevice} of your own into scsiback.
 */
export type ExtraDevices = (pdev: string) => ResolvedPdev | string | undefined;

/**
 * Boot a backend domain's kernel: the one place one is built, for workers and for one thread.
 * `created` sees the kernel before it starts (a single-thread system pumps it from then on).
 */
export async function bootBackendKernel(
  ctx: DomainContext,
  boot: BackendBoot,
  drive: KernelDrive,
  created?: (k: BackendKernel) => void,
  extra?: ExtraDevices,
): Promise<BackendKernel> {
  const k = await BackendKernel.create(ctx, boot, drive, extra);
  created?.(k);
  await k.start();
  return k;
}
