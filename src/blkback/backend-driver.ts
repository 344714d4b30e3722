import createDebug from "debug";
import { VBD_DEVICE_TYPE } from "../blkif/xenstore-nodes.js";
import type { EventDispatcher } from "../evtchn/dispatcher.js";
import type { DomainContext } from "../hypervisor/context.js";
import type { Initiator } from "../scsi/device.js";
import { XenbusNode } from "../xenbus/paths.js";
import { SerialQueue } from "../xenbus/serial-queue.js";
import { xenbusStateName } from "../xenbus/state.js";
import type { XenstoreClient, XsWatchHandle } from "../xenstore/client.js";
import { partsBelow } from "../xenstore/path.js";
import {
  BLKBACK_MAX_RING_PAGE_ORDER,
  BlkbackDevice,
  type BlkbackEnv,
  type ResolvedTarget,
} from "./backend-device.js";
import { BLKBACK_MAX_INDIRECT_SEGMENTS, sumVbdStats, type VbdRing, type VbdStats } from "./vbd-ring.js";

const debug = createDebug("pvscsi:blkback");

/** Options of {@link BlkbackDriver}. */
export interface BlkbackDriverOptions {
  readonly ctx: DomainContext;
  readonly dispatcher: EventDispatcher;
  readonly xs: XenstoreClient;
  /** Resolve a disk's `params` to one of this domain's units, or say why not. */
  readonly resolve: (target: string) => ResolvedTarget | string | Promise<ResolvedTarget | string>;
  readonly pollMode?: boolean;
  /** `feature-max-indirect-segments` to offer (Linux: 256); 0 offers none, as 2007's blkback. */
  readonly maxIndirectSegments?: number;
  /** `multi-queue-max-queues` (Linux: the backend's vcpus). Default 4. */
  readonly maxQueues?: number;
  /** Offer `feature-persistent` (Linux: yes). */
  readonly persistent?: boolean;
  /** `max-ring-page-order` to offer (Linux: 4, 16 pages); 0 offers single-page rings only. */
  readonly maxRingPageOrder?: number;
  /** First I_T nexus id this driver hands out (unique among every initiator of a device). */
  readonly firstInitiatorId?: number;
}

/** What `xl block-list`, the demo and the benchmarks read about one VBD. */
export interface VbdReport {
  readonly frontendDomid: number;
  readonly devid: number;
  readonly state: string;
  readonly target: string;
  readonly protocol: string;
  readonly sectors: number;
  readonly readonly: boolean;
  readonly rings: number;
  /** Pages of each shared ring (`2^ring-page-order`; 0 before connect). */
  readonly ringPages: number;
  /** Every ring's counters added up. */
  readonly stats: VbdStats;
}

/**
 * blkback for one backend domain: watches `/local/domain/<self>/backend/vbd`, creates a
 * {@link BlkbackDevice} for each `<frontend-domid>/<devid>` the toolstack writes and removes it
 * when its directory goes, and runs the rings whose events fired. Sans-IO like scsiback's driver.
 */
export class BlkbackDriver {
  readonly domid: number;
  readonly base: string;
  private readonly env: BlkbackEnv;
  private readonly devices = new Map<string, BlkbackDevice>();
  private readonly pending = new Set<VbdRing>();
  private readonly removing = new Set<Promise<void>>();
  private readonly queue: SerialQueue;
  private watch: XsWatchHandle | null = null;
  private nextInitiator: number;
  private readonly pollMode: boolean;

  constructor(options: BlkbackDriverOptions) {
    this.domid = options.ctx.domid;
    this.base = `/local/domain/${this.domid}/backend/${VBD_DEVICE_TYPE}`;
    this.pollMode = options.pollMode ?? false;
    this.nextInitiator = options.firstInitiatorId ?? 0x10000;
    this.queue = new SerialQueue((e) => debug("scan: %s", e instanceof Error ? e.message : e));
    this.env = {
      ctx: options.ctx,
      dispatcher: options.dispatcher,
      xs: options.xs,
      resolve: options.resolve,
      pollMode: this.pollMode,
      maxIndirectSegments: options.maxIndirectSegments ?? BLKBACK_MAX_INDIRECT_SEGMENTS,
      maxQueues: Math.max(1, options.maxQueues ?? 4),
      persistent: options.persistent ?? true,
      maxRingPageOrder: Math.min(
        BLKBACK_MAX_RING_PAGE_ORDER,
        Math.max(0, options.maxRingPageOrder ?? BLKBACK_MAX_RING_PAGE_ORDER),
      ),
      initiator: (fe, devid): Initiator => ({
        id: this.nextInitiator++,
        name: `xen-blkback:dom${fe}/vbd${devid}`,
      }),
      schedule: (ring) => {
        this.pending.add(ring);
      },
    };
  }

  async start(): Promise<void> {
    this.watch = await this.env.xs.watch(this.base, (path) => {
      void this.queue.run(() => this.reconcile(path));
    });
  }

  async stop(): Promise<void> {
    const w = this.watch;
    this.watch = null;
    if (w) await w.unwatch().catch(() => undefined);
    await this.queue.idle();
    await Promise.all([...this.devices.values()].map((d) => d.remove()));
    await Promise.all([...this.removing]);
  }

  get hasPending(): boolean {
    return this.pending.size > 0 || this.pollMode;
  }

  /**
   * Work that only the thread's event loop can move on: watch events and teardowns queued, or a
   * request at a device (an asynchronous device completes on the event loop). A kernel loop must
   * not block its thread while this holds.
   */
  get busyOffRing(): boolean {
    if (this.queue.size > 0 || this.removing.size > 0) return true;
    for (const d of this.devices.values()) for (const c of d.rings) if (c.ring.inFlight > 0) return true;
    return false;
  }

  /** Run each ring whose event fired (every connected ring in poll mode), one bounded pass each. */
  runPending(): number {
    let n = 0;
    if (this.pollMode) {
      for (const d of this.devices.values())
        for (const c of d.rings) {
          this.serviceSafely(c.ring);
          n++;
        }
      return n;
    }
    for (const ring of this.pending) {
      this.pending.delete(ring);
      if (this.serviceSafely(ring)) this.pending.add(ring);
      n++;
    }
    return n;
  }

  /** A ring whose handling throws (a device's bug) stops alone, never the loop others depend on. */
  private serviceSafely(ring: VbdRing): boolean {
    try {
      return ring.service();
    } catch (e) {
      debug("ring dom%d/%d stopped: %s", ring.frontendDomid, ring.handle, e instanceof Error ? e.message : e);
      ring.abandonAll();
      return false;
    }
  }

  async settled(): Promise<void> {
    await this.queue.idle();
    await Promise.all([...this.devices.values()].map((d) => d.settled()));
    await Promise.all([...this.removing]);
  }

  /** One report per VBD. */
  report(): VbdReport[] {
    return [...this.devices.values()].map((d) => {
      const total = sumVbdStats(d.rings.map((c) => c.ring.stats));
      return {
        frontendDomid: d.frontendDomid,
        devid: d.devid,
        state: xenbusStateName(d.state),
        target: d.target,
        protocol: d.abi,
        sectors: d.disk?.sectors ?? 0,
        readonly: d.disk?.readonly ?? false,
        rings: d.rings.length,
        ringPages: d.rings[0]?.handles.length ?? 0,
        stats: total,
      };
    });
  }

  private track(teardown: Promise<void>): void {
    const t = teardown.catch((e) => debug("teardown: %s", e instanceof Error ? e.message : e));
    this.removing.add(t);
    void t.finally(() => this.removing.delete(t));
  }

  private async reconcile(path: string): Promise<void> {
    const rel = partsBelow(this.base, path);
    const xs = this.env.xs;
    const candidates: Array<[string, string]> = [];
    if (rel.length >= 2) candidates.push([rel[0]!, rel[1]!]);
    else {
      const fes =
        rel.length === 1 ? [rel[0]!] : ((await xs.directory(this.base).catch(() => [])) as string[]);
      for (const fe of fes)
        for (const devid of await xs.directory(`${this.base}/${fe}`).catch(() => [] as string[]))
          candidates.push([fe, devid]);
      for (const key of this.devices.keys()) {
        const [fe, devid] = key.split("/") as [string, string];
        if (rel.length === 0 || fe === rel[0]) candidates.push([fe, devid]);
      }
    }
    for (const [fe, devid] of candidates) await this.check(fe, devid);
  }

  private async check(fe: string, devid: string): Promise<void> {
    if (!/^\d{1,5}$/.test(fe) || !/^\d{1,10}$/.test(devid)) return;
    const key = `${fe}/${devid}`;
    const dir = `${this.base}/${key}`;
    const xs = this.env.xs;
    const frontendId = await xs.tryRead(`${dir}/${XenbusNode.frontendId}`);
    const existing = this.devices.get(key);
    if (existing) {
      if (frontendId === undefined) {
        this.devices.delete(key);
        if (!existing.removed) this.track(existing.forceRemove());
      }
      return;
    }
    if (frontendId === undefined || (await xs.tryRead(`${dir}/${XenbusNode.state}`)) === undefined) return;
    const feDomid = Number(fe);
    if (Number(frontendId) !== feDomid) {
      debug("%s: frontend-id %s does not match the directory; ignored", dir, frontendId);
      return;
    }
    const dev = new BlkbackDevice(this.env, feDomid, Number(devid), dir);
    dev.onRemoved = () => {
      for (const c of dev.rings) this.pending.delete(c.ring);
    };
    this.devices.set(key, dev);
    debug("%s: probe", dir);
    await dev.probe();
  }
}
