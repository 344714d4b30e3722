import createDebug from "debug";
import type { EventDispatcher } from "../evtchn/dispatcher.js";
import type { DomainContext } from "../hypervisor/context.js";
import { invalidState } from "../xen/errors.js";
import { XenbusNode } from "../xenbus/paths.js";
import { SerialQueue } from "../xenbus/serial-queue.js";
import { xenbusStateName } from "../xenbus/state.js";
import type { XenstoreClient, XsWatchHandle } from "../xenstore/client.js";
import { partsBelow } from "../xenstore/path.js";
import { FrontendDevice, type FrontendEnv } from "./frontend-device.js";
import type { SavedController, SavedScsifront } from "./saved-state.js";
import type { GuestScsiHost, ScsiMidlayer } from "./scsi-host.js";

const debug = createDebug("pvscsi:scsifront");

/** Options of {@link ScsifrontDriver}. */
export interface ScsifrontDriverOptions<M extends ScsiMidlayer = ScsiMidlayer> {
  readonly ctx: DomainContext;
  /** The guest's SCSI midlayer, where the LUNs the backend announces become devices. */
  readonly midlayer: M;
  readonly dispatcher: EventDispatcher;
  readonly xs: XenstoreClient;
  /** Poll every ring for responses instead of waiting for events (benchmarks). */
  readonly pollMode?: boolean;
  /**
   * A resumed kernel's scsifront, as {@link ScsifrontDriver.snapshot} saved it, with each saved
   * devid mapped to the devid its controller has now: the controllers start suspended, and
   * {@link ScsifrontDriver.resume} reconnects them once the toolstack has written their nodes.
   */
  readonly resumeFrom?: { readonly saved: SavedScsifront; readonly devids: ReadonlyMap<number, number> };
}

/**
 * scsifront for one guest: watches `/local/domain/<self>/device/vscsi`, probes each controller
 * the toolstack adds, and owns the guest's SCSI midlayer. Sans-IO like the backend driver: the
 * shell dispatches events, then calls {@link runPending}.
 */
export class ScsifrontDriver<M extends ScsiMidlayer = ScsiMidlayer> {
  readonly domid: number;
  readonly base: string;
  /** The guest's SCSI devices (what `lsscsi` and `/proc/scsi/scsi` show). */
  readonly scsi: M;
  private readonly env: FrontendEnv;
  private readonly devices = new Map<number, FrontendDevice>();
  private readonly pending = new Set<GuestScsiHost>();
  private readonly usedHostNos = new Set<number>();
  /** Grants whose end was refused because the backend still mapped them (Linux's deferred list). */
  private readonly deferred: Array<{ ref: number; frame: number }> = [];
  private readonly queue: SerialQueue;
  private readonly pollMode: boolean;
  /** {@link resumeStats} of controllers since removed. */
  private goneResets = 0;
  private goneResumes = 0;
  private watch: XsWatchHandle | null = null;
  /** Suspended: the watch's events wait for {@link resume} (a suspended guest's xenbus handles none). */
  private suspended = false;

  constructor(options: ScsifrontDriverOptions<M>) {
    this.scsi = options.midlayer;
    this.domid = options.ctx.domid;
    this.base = `/local/domain/${this.domid}/device/vscsi`;
    this.pollMode = options.pollMode ?? false;
    this.queue = new SerialQueue((e) => debug("scan: %s", e instanceof Error ? e.message : e));
    const resumeFrom = options.resumeFrom;
    this.env = {
      ctx: options.ctx,
      dispatcher: options.dispatcher,
      xs: options.xs,
      scsi: this.scsi,
      pollMode: this.pollMode,
      takeHostNo: () => {
        let n = 0;
        while (this.usedHostNos.has(n)) n++;
        this.usedHostNos.add(n);
        return n;
      },
      reserveHostNo: (n) => {
        this.usedHostNos.add(n);
      },
      releaseHostNo: (n) => {
        this.usedHostNos.delete(n);
      },
      schedule: (host) => {
        this.pending.add(host);
      },
      deferEndAccess: (ref, frame) => {
        debug("grant %d still mapped by the backend at release; ending it later", ref);
        this.deferred.push({ ref, frame });
      },
    };
    if (resumeFrom !== undefined) {
      this.suspended = true;
      for (const c of resumeFrom.saved.controllers) {
        const devid = resumeFrom.devids.get(c.devid);
        if (devid === undefined) continue;
        this.devices.set(devid, FrontendDevice.restored(this.env, `${this.base}/${devid}`, c, devid));
      }
    }
  }

  /** The SCSI host numbered `hostNo`, if a controller has it. */
  hostByNo(hostNo: number): GuestScsiHost | undefined {
    for (const d of this.devices.values()) if (d.host?.hostNo === hostNo) return d.host;
    return undefined;
  }

  /**
   * The suspended driver as data (every controller's ring core, commands in flight and
   * waiting), for a kernel saved to resume elsewhere. Call after {@link suspend}.
   */
  snapshot(): SavedScsifront {
    if (!this.suspended) throw invalidState("scsifront", "snapshot while not suspended");
    const controllers: SavedController[] = [];
    for (const d of this.devices.values()) {
      const c = d.snapshot();
      if (c !== null) controllers.push(c);
    }
    return { controllers };
  }

  async start(): Promise<void> {
    this.watch = await this.env.xs.watch(this.base, (path) => {
      void this.queue.run(() => this.reconcile(path));
    });
  }

  /**
   * Begin closing every controller from the guest's side (each goes Closing; the backend drains
   * and closes; the device follows to Closed). The toolstack then removes the nodes, which
   * releases the ring pages.
   */
  async shutdown(): Promise<void> {
    await this.queue.idle();
    await Promise.all([...this.devices.values()].map((d) => d.close()));
  }

  /**
   * The guest is suspended (save, migration; Linux `xenbus_dev_suspend` for each device): every
   * controller pauses — new commands get HOST_BUSY and wait in the midlayer — and no xenstore
   * change is acted on until {@link resume}. Commands already on a ring stay in flight.
   */
  async suspend(): Promise<void> {
    this.suspended = true;
    await this.queue.idle();
    await Promise.all([...this.devices.values()].map((d) => d.suspend()));
  }

  /**
   * The guest runs again after a save/restore or migration (Linux `xenbus_dev_resume`): each
   * controller finishes what was in flight (DID_RESET, retried by the midlayer), gets a new ring
   * and port and goes Initialised; its backend's Connected re-adds its LUNs. Then the device
   * directory is looked at again, as re-registered watches fire on resume. Resolves once every
   * controller is Initialised on its new ring (not yet Connected: see {@link settled}).
   */
  async resume(): Promise<void> {
    if (!this.suspended) return;
    this.suspended = false;
    await Promise.all([...this.devices.values()].map((d) => d.resume()));
    await this.queue.run(() => this.reconcile(this.base));
  }

  /** The suspend was cancelled: every controller carries on with its ring; missed changes are looked at. */
  async thaw(): Promise<void> {
    if (!this.suspended) return;
    this.suspended = false;
    await Promise.all([...this.devices.values()].map((d) => d.thaw()));
    await this.queue.run(() => this.reconcile(this.base));
  }

  /** What the resumes did: commands completed with DID_RESET, and how many rings were replaced. */
  get resumeStats(): { readonly resetCompletions: number; readonly resumes: number } {
    let resetCompletions = 0;
    let resumes = 0;
    for (const d of this.devices.values()) {
      resetCompletions += d.resetCompletions;
      resumes += d.resumes;
    }
    return { resetCompletions: resetCompletions + this.goneResets, resumes: resumes + this.goneResumes };
  }

  /** Stop watching for new controllers. */
  async stop(): Promise<void> {
    const w = this.watch;
    this.watch = null;
    if (w) await w.unwatch().catch(() => undefined);
    await this.queue.idle();
  }

  /** Controllers not yet released (their directory still exists, or release is in progress). */
  get deviceCount(): number {
    return this.devices.size;
  }

  get hasPending(): boolean {
    return this.pending.size > 0 || this.pollMode;
  }

  /** Grants still waiting for the backend to unmap them. */
  get deferredGrants(): number {
    return this.deferred.length;
  }

  /**
   * Try again to end the grants the backend held at release (Linux retries on a timer); frees
   * the frames of those it lets go. Returns how many are still held.
   */
  retryDeferred(): number {
    const ctx = this.env.ctx;
    for (let i = this.deferred.length - 1; i >= 0; i--) {
      const d = this.deferred[i]!;
      if (ctx.grants.endAccess(d.ref)) {
        // -1: a failed command's page, which the SCSI host never reuses.
        if (d.frame >= 0) ctx.frames.free(d.frame);
        this.deferred.splice(i, 1);
      }
    }
    return this.deferred.length;
  }

  /** Handle responses for every host whose event fired (every host, in poll mode). */
  runPending(): number {
    if (this.pollMode) {
      let n = 0;
      for (const d of this.devices.values()) {
        if (d.host) {
          d.host.onEvent();
          n++;
        }
      }
      return n;
    }
    let n = 0;
    for (const host of this.pending) {
      this.pending.delete(host);
      host.onEvent();
      n++;
    }
    return n;
  }

  /** The controllers, for tools. */
  controllers(): ReadonlyArray<{
    devid: number;
    state: string;
    host: GuestScsiHost | null;
    backend: string;
  }> {
    return [...this.devices.values()].map((d) => ({
      devid: d.devid,
      state: xenbusStateName(d.state),
      host: d.host,
      backend: d.backendDir,
    }));
  }

  /** Resolves when every watch event and device state change queued so far has been handled. */
  async settled(): Promise<void> {
    await this.queue.idle();
    await Promise.all([...this.devices.values()].map((d) => d.settled()));
  }

  private async reconcile(path: string): Promise<void> {
    if (this.suspended) return;
    const rel = partsBelow(this.base, path);
    const xs = this.env.xs;
    const ids = new Set<string>();
    if (rel.length >= 1) ids.add(rel[0]!);
    else {
      for (const d of await xs.directory(this.base).catch(() => [] as string[])) ids.add(d);
      for (const id of this.devices.keys()) ids.add(String(id));
    }
    for (const id of ids) {
      if (!/^\d+$/.test(id)) continue;
      const devid = Number(id);
      const dir = `${this.base}/${id}`;
      const backend = await xs.tryRead(`${dir}/${XenbusNode.backend}`);
      const existing = this.devices.get(devid);
      if (existing) {
        // A closed device stays known until the toolstack removes its directory, so the watch
        // events of its own last writes do not probe it again.
        if (backend === undefined) {
          await existing.release();
          this.goneResets += existing.resetCompletions;
          this.goneResumes += existing.resumes;
          this.devices.delete(devid);
        }
        continue;
      }
      if (backend === undefined || (await xs.tryRead(`${dir}/${XenbusNode.state}`)) === undefined) continue;
      const dev = new FrontendDevice(this.env, devid, dir);
      this.devices.set(devid, dev);
      debug("%s: probe", dir);
      await dev.probe();
    }
  }
}
