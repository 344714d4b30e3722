import createDebug from "debug";
import type { EventDispatcher } from "../evtchn/dispatcher.js";
import type { DomainContext } from "../hypervisor/context.js";
import type { Initiator } from "../scsi/device.js";
import { XenbusNode } from "../xenbus/paths.js";
import { SerialQueue } from "../xenbus/serial-queue.js";
import { parseXenbusState, XenbusState, xenbusStateName } from "../xenbus/state.js";
import type { XenstoreClient, XsWatchHandle } from "../xenstore/client.js";
import { partsBelow } from "../xenstore/path.js";
import { BackendDevice, type BackendEnv, type ResolvedPdev } from "./backend-device.js";
import type { Vhost, VhostStats } from "./vhost.js";

const debug = createDebug("pvscsi:scsiback");

/** Options of {@link ScsibackDriver}. */
export interface ScsibackDriverOptions {
  readonly ctx: DomainContext;
  readonly dispatcher: EventDispatcher;
  readonly xs: XenstoreClient;
  /** Resolve a `p-dev` to one of this domain's logical units, or say why not (may retry an open). */
  readonly resolve: (pdev: string) => ResolvedPdev | string | Promise<ResolvedPdev | string>;
  /** Poll every connected ring instead of waiting for its event channel (benchmarks). */
  readonly pollMode?: boolean;
  /** First I_T nexus id this driver hands out (ids must be unique among all initiators of a device). */
  readonly firstInitiatorId?: number;
  /**
   * `feature-sg-grant` to offer (default `SCSIBACK_SG_GRANT`, 128); 0 leaves the node out, as
   * 2007's scsiback did, so frontends stay at `VSCSIIF_SG_TABLESIZE` (26) segments.
   */
  readonly sgGrant?: number;
}

/** What `scsi-list`, `pvscsi demo` and the benchmarks read about one vhost. */
export interface VhostReport {
  readonly frontendDomid: number;
  readonly devid: number;
  readonly state: string;
  readonly ring: string;
  readonly inFlight: number;
  readonly luns: ReadonlyArray<{ readonly vdev: string; readonly pdev: string }>;
  readonly stats: VhostStats;
}

/**
 * scsiback for one backend domain: watches `/local/domain/<self>/backend/vscsi`, creates a
 * {@link BackendDevice} for each `<frontend-domid>/<devid>` the toolstack writes and removes it
 * when its directory goes, and runs the vhosts whose event channels fired.
 *
 * Sans-IO: it never waits. The driver shell (a worker's event loop, or a single-thread test) calls
 * the dispatcher, then {@link runPending}, and sleeps only when {@link hasPending} is false.
 */
export class ScsibackDriver {
  readonly domid: number;
  readonly base: string;
  private readonly env: BackendEnv;
  private readonly devices = new Map<string, BackendDevice>();
  private readonly pending = new Set<Vhost>();
  private readonly queue: SerialQueue;
  /** Devices whose directory went away, still tearing down (each on its own queue). */
  private readonly removing = new Set<Promise<void>>();
  private watch: XsWatchHandle | null = null;
  /** Devices unbound by {@link unbind}: not probed again until {@link bind}. */
  private readonly unbound = new Set<string>();
  private nextInitiator: number;
  private readonly pollMode: boolean;

  constructor(options: ScsibackDriverOptions) {
    this.domid = options.ctx.domid;
    this.base = `/local/domain/${this.domid}/backend/vscsi`;
    this.pollMode = options.pollMode ?? false;
    this.nextInitiator = options.firstInitiatorId ?? 1;
    this.queue = new SerialQueue((e) => debug("scan: %s", e instanceof Error ? e.message : e));
    this.env = {
      ctx: options.ctx,
      dispatcher: options.dispatcher,
      xs: options.xs,
      resolve: options.resolve,
      pollMode: this.pollMode,
      sgGrant: options.sgGrant,
      initiator: (fe, devid): Initiator => ({
        id: this.nextInitiator++,
        name: `xen-pvscsi:dom${fe}/vhost${devid}`,
      }),
      schedule: (vhost) => {
        this.pending.add(vhost);
      },
    };
  }

  /** Start watching for vhosts (the watch fires at once, so existing ones are picked up). */
  async start(): Promise<void> {
    this.watch = await this.env.xs.watch(this.base, (path) => {
      void this.queue.run(() => this.reconcile(path));
    });
  }

  /** Remove every vhost (each drains first) and stop watching. */
  async stop(): Promise<void> {
    const w = this.watch;
    this.watch = null;
    if (w) await w.unwatch().catch(() => undefined);
    await this.queue.idle();
    await Promise.all([...this.devices.values()].map((d) => d.remove()));
    await Promise.all([...this.removing]);
  }

  /**
   * Whether some of scsiback's work completes on the thread's event loop rather than by an
   * event: a watch event or state change being handled, a teardown, requests on an asynchronous
   * (file-backed) device. A kernel loop blocks its thread (`Atomics.wait`) only while it is false.
   * Allocates nothing.
   */
  get busyOffRing(): boolean {
    if (this.queue.size > 0 || this.removing.size > 0) return true;
    this.scanFoundBusy = false;
    this.devices.forEach(this.scanBusy);
    return this.scanFoundBusy;
  }

  private scanFoundBusy = false;
  private readonly scanBusy = (d: BackendDevice): void => {
    if (d.busyOffRing) this.scanFoundBusy = true;
  };

  /** Whether some vhost has work to run without waiting for an event. */
  get hasPending(): boolean {
    return this.pending.size > 0 || this.pollMode;
  }

  /**
   * Run every vhost whose event fired (or that asked to run again); in poll mode, every connected
   * vhost. Each gets one bounded `service()` pass, so one busy guest delays the others by at most
   * one pass. Returns the number of vhosts run.
   */
  runPending(): number {
    if (this.pollMode) {
      let n = 0;
      for (const d of this.devices.values()) {
        if (d.port !== 0) {
          this.serviceSafely(d.vhost);
          n++;
        }
      }
      return n;
    }
    let n = 0;
    for (const vhost of this.pending) {
      this.pending.delete(vhost);
      if (this.serviceSafely(vhost)) this.pending.add(vhost);
      n++;
    }
    return n;
  }

  /**
   * One vhost's pass, fenced: whatever throws (a pluggable device's bug) stops that ring only,
   * never the loop every other guest depends on.
   */
  private serviceSafely(vhost: Vhost): boolean {
    try {
      return vhost.service();
    } catch (e) {
      vhost.quarantine(e instanceof Error ? e.message : String(e));
      return false;
    }
  }

  /** Resolves when every watch event and device state change queued so far has been handled. */
  async settled(): Promise<void> {
    await this.queue.idle();
    await Promise.all([...this.devices.values()].map((d) => d.settled()));
    await Promise.all([...this.removing]);
  }

  /** One report per vhost, for tools. */
  report(): VhostReport[] {
    return [...this.devices.values()].map((d) => ({
      frontendDomid: d.frontendDomid,
      devid: d.devid,
      state: xenbusStateName(d.state),
      ring: d.vhost.state,
      inFlight: d.vhost.inFlight,
      luns: [...d.vhost.translations.values()].map((e) => ({
        vdev: `${d.devid}:${e.v.chn}:${e.v.tgt}:${e.v.lun}`,
        pdev: e.pdev,
      })),
      stats: d.vhost.stats,
    }));
  }

  /** The vhost serving `frontendDomid`'s controller `devid`, for inspectors (`pvscsi ui`). */
  vhostOf(frontendDomid: number, devid: number): Vhost | undefined {
    return this.devices.get(`${frontendDomid}/${devid}`)?.vhost;
  }

  /**
   * Unbind the driver from `frontendDomid`'s controller `devid` (Linux: `echo vscsi-<fe>-<devid> >
   * /sys/bus/xen-backend/drivers/vscsi/unbind`, or the module unloading): the device drains, lets
   * go of the ring and publishes Closed; its nodes stay, unprobed, until {@link bind}. Resolves
   * when it is done; null when no such device is bound.
   */
  unbind(frontendDomid: number, devid: number): Promise<void> | null {
    const key = `${frontendDomid}/${devid}`;
    const d = this.devices.get(key);
    if (d === undefined || d.removed) return null;
    this.unbound.add(key);
    this.devices.delete(key);
    const t = d.unbind();
    this.track(t);
    return t;
  }

  /** Bind the driver again (sysfs `bind`, the module reloaded): the nodes still there are probed anew. */
  bind(frontendDomid: number, devid: number): void {
    if (!this.unbound.delete(`${frontendDomid}/${devid}`)) return;
    void this.queue.run(() => this.check(String(frontendDomid), String(devid)));
  }

  private track(teardown: Promise<void>): void {
    const t = teardown.catch((e) => debug("teardown: %s", e instanceof Error ? e.message : e));
    this.removing.add(t);
    void t.finally(() => this.removing.delete(t));
  }

  /** A watch event under the base: find devices that appeared or went away. */
  private async reconcile(path: string): Promise<void> {
    const rel = partsBelow(this.base, path);
    const xs = this.env.xs;
    const candidates: Array<[string, string]> = [];
    if (rel.length >= 2) {
      candidates.push([rel[0]!, rel[1]!]);
    } else {
      // The base or a frontend domain's directory changed: rescan what is below it.
      const fes =
        rel.length === 1 ? [rel[0]!] : ((await xs.directory(this.base).catch(() => [])) as string[]);
      for (const fe of fes) {
        for (const devid of await xs.directory(`${this.base}/${fe}`).catch(() => [] as string[]))
          candidates.push([fe, devid]);
      }
      for (const key of this.devices.keys()) {
        const [fe, devid] = key.split("/") as [string, string];
        if (rel.length === 0 || fe === rel[0]) candidates.push([fe, devid]);
      }
    }
    for (const [fe, devid] of candidates) await this.check(fe, devid);
  }

  private async check(fe: string, devid: string): Promise<void> {
    if (!/^\d+$/.test(fe) || !/^\d+$/.test(devid)) return;
    const key = `${fe}/${devid}`;
    if (this.unbound.has(key)) return;
    const dir = `${this.base}/${key}`;
    const xs = this.env.xs;
    const frontendId = await xs.tryRead(`${dir}/${XenbusNode.frontendId}`);
    const existing = this.devices.get(key);
    if (existing) {
      // A removed device stays known until the toolstack deletes its directory, so the watch
      // events of its own last writes do not probe it again.
      if (frontendId === undefined) {
        this.devices.delete(key);
        // Torn down on the device's own queue, never awaited here: this queue serves every
        // guest's controllers, and one device's teardown must not hold up another's probe or
        // removal. forceRemove abandons what is in flight, so the teardown itself is bounded.
        if (!existing.removed) this.track(existing.forceRemove());
        return;
      }
      // But a directory the toolstack has re-created since (its removal's watch event handled only
      // after the re-creation, or while this device's probe raced the removal) is a new device:
      // only the toolstack writes Initialising, at creation, and this device has closed (or
      // failed its probe). Linux has unregistered the old device by then; `xenbus_probe_node`
      // probes a node whose state is Initialising. A device still open is left alone, whatever
      // its node reads (garbage there is not a re-creation).
      const closed =
        existing.removed || existing.state === XenbusState.Closing || existing.state === XenbusState.Closed;
      if (!closed) return;
      const state = parseXenbusState(await xs.tryRead(`${dir}/${XenbusNode.state}`));
      if (state !== XenbusState.Initialising || this.devices.get(key) !== existing) return;
      debug("%s: re-created; the old device goes, the new one is probed", dir);
      this.devices.delete(key);
      if (!existing.removed) this.track(existing.forceRemove());
    }
    // xenbus probes a backend once the toolstack has written it (in one transaction).
    if (frontendId === undefined || (await xs.tryRead(`${dir}/${XenbusNode.state}`)) === undefined) return;
    const feDomid = Number(fe);
    if (Number(frontendId) !== feDomid) {
      debug("%s: frontend-id %s does not match the directory; ignored", dir, frontendId);
      return;
    }
    const featureHost = (await xs.tryRead(`${dir}/${XenbusNode.featureHost}`)) === "1";
    const munging = (await xs.tryRead(`${dir}/${XenbusNode.munging}`)) ?? null;
    const dev = new BackendDevice(this.env, feDomid, Number(devid), dir, featureHost, munging);
    dev.onRemoved = () => {
      this.pending.delete(dev.vhost);
    };
    this.devices.set(key, dev);
    debug("%s: probe", dir);
    await dev.probe();
  }
}
