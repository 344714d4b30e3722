import createDebug from "debug";
import { VBD_DEVICE_TYPE } from "../blkif/xenstore-nodes.js";
import type { EventDispatcher } from "../evtchn/dispatcher.js";
import type { DomainContext } from "../hypervisor/context.js";
import { XenbusNode } from "../xenbus/paths.js";
import { SerialQueue } from "../xenbus/serial-queue.js";
import { xenbusStateName } from "../xenbus/state.js";
import type { XenstoreClient, XsWatchHandle } from "../xenstore/client.js";
import { partsBelow } from "../xenstore/path.js";
import {
  BLKFRONT_MAX_RING_PAGE_ORDER,
  BlkfrontDevice,
  type BlkfrontEnv,
  type BlockLayer,
} from "./frontend-device.js";

const debug = createDebug("pvscsi:blkfront");

/** One ring of a disk, as {@link BlkfrontDriver.disks} reports it. */
export interface BlkfrontRingReport {
  /** Pages of the shared ring (`2^ring-page-order`). */
  readonly pages: number;
  /** `RING_SIZE`: requests the ring holds. */
  readonly size: number;
  /** Persistent grants in use (both ends offered `feature-persistent`). */
  readonly persistent: boolean;
  /** Grants made so far (data, indirect and pool pages). */
  readonly grantsIssued: number;
  /** Pool pages granted now. */
  readonly persistentGrants: number;
  /** Pages in the persistent-grant pool. */
  readonly poolPages: number;
}

/** One disk, as {@link BlkfrontDriver.disks} reports it. */
export interface BlkfrontDiskReport {
  readonly devid: number;
  readonly state: string;
  readonly backend: string;
  /** `xvdX` once connected. */
  readonly name: string | null;
  readonly rings: readonly BlkfrontRingReport[];
}

/** Options of {@link BlkfrontDriver}. */
export interface BlkfrontDriverOptions {
  readonly ctx: DomainContext;
  readonly dispatcher: EventDispatcher;
  readonly xs: XenstoreClient;
  /** The guest's block layer, where connected disks appear. */
  readonly block: BlockLayer;
  /** Queues (rings) per disk to ask for; Linux asks for one per vcpu. Default 1. */
  readonly queues?: number;
  /**
   * Largest ring page order to ask for (Linux blkfront's `max_ring_page_order` module parameter,
   * default 0: one page whatever the backend offers); at most 4.
   */
  readonly maxRingPageOrder?: number;
  /** Offer `feature-persistent` (Linux blkfront's `feature_persistent`, default true). */
  readonly persistent?: boolean;
  readonly pollMode?: boolean;
}

/**
 * blkfront for one guest: watches `/local/domain/<self>/device/vbd`, probes each disk the
 * toolstack adds and releases it when its directory goes. Sans-IO like scsifront's driver: the
 * shell dispatches events, then calls {@link runPending}.
 */
export class BlkfrontDriver {
  readonly domid: number;
  readonly base: string;
  private readonly env: BlkfrontEnv;
  private readonly devices = new Map<number, BlkfrontDevice>();
  private readonly pending = new Set<BlkfrontDevice>();
  private readonly pendingRings = new Map<BlkfrontDevice, number>();
  private readonly deferred: Array<{ ref: number; frame: number }> = [];
  private readonly queue: SerialQueue;
  private readonly pollMode: boolean;
  private watch: XsWatchHandle | null = null;

  constructor(options: BlkfrontDriverOptions) {
    this.domid = options.ctx.domid;
    this.base = `/local/domain/${this.domid}/device/${VBD_DEVICE_TYPE}`;
    this.pollMode = options.pollMode ?? false;
    this.queue = new SerialQueue((e) => debug("scan: %s", e instanceof Error ? e.message : e));
    this.env = {
      ctx: options.ctx,
      dispatcher: options.dispatcher,
      xs: options.xs,
      block: options.block,
      queues: options.queues ?? 1,
      maxRingPageOrder: Math.min(BLKFRONT_MAX_RING_PAGE_ORDER, Math.max(0, options.maxRingPageOrder ?? 0)),
      persistent: options.persistent ?? true,
      pollMode: this.pollMode,
      schedule: (dev, ring) => {
        this.pending.add(dev);
        this.pendingRings.set(dev, (this.pendingRings.get(dev) ?? 0) | (1 << Math.min(ring, 30)));
      },
      deferEndAccess: (ref, frame) => {
        this.deferred.push({ ref, frame });
      },
    };
  }

  async start(): Promise<void> {
    this.watch = await this.env.xs.watch(this.base, (path) => {
      void this.queue.run(() => this.reconcile(path));
    });
  }

  /** Close every disk from the guest's side (guest shutdown). */
  async shutdown(): Promise<void> {
    await this.queue.idle();
    await Promise.all([...this.devices.values()].map((d) => d.close()));
  }

  async stop(): Promise<void> {
    const w = this.watch;
    this.watch = null;
    if (w) await w.unwatch().catch(() => undefined);
    await this.queue.idle();
  }

  /** Disks not yet released. */
  get deviceCount(): number {
    return this.devices.size;
  }

  get hasPending(): boolean {
    return this.pending.size > 0 || this.pollMode;
  }

  /** Grants the backend still mapped at release. */
  get deferredGrants(): number {
    return this.deferred.length;
  }

  /** Try again to end deferred grants; frees their frames. Returns how many are still held. */
  retryDeferred(): number {
    const ctx = this.env.ctx;
    for (let i = this.deferred.length - 1; i >= 0; i--) {
      const d = this.deferred[i]!;
      if (ctx.grants.endAccess(d.ref)) {
        if (d.frame >= 0) ctx.frames.free(d.frame);
        this.deferred.splice(i, 1);
      }
    }
    return this.deferred.length;
  }

  /** Complete responses of every ring whose event fired (every ring in poll mode). */
  runPending(): number {
    let n = 0;
    if (this.pollMode) {
      for (const d of this.devices.values()) n += this.runDevice(d, -1);
      return n;
    }
    for (const d of this.pending) {
      this.pending.delete(d);
      const mask = this.pendingRings.get(d) ?? -1;
      this.pendingRings.delete(d);
      n += this.runDevice(d, mask);
    }
    if (n > 0) this.restartStarved();
    return n;
  }

  /**
   * Completions gave back grant refs and frames the whole guest shares: retry every disk whose
   * commands wait for them, not only the disk that completed. Linux blkfront does this with
   * `gnttab_request_free_callback` (`blkif_restart_queue_callback`); without it a disk with
   * nothing in flight would wait for a completion that never comes.
   */
  private restartStarved(): void {
    for (const d of this.devices.values()) if (d.disk?.starved) d.disk.drain();
  }

  private runDevice(d: BlkfrontDevice, mask: number): number {
    let n = 0;
    for (let i = 0; i < d.ringCount; i++) {
      if ((mask & (1 << Math.min(i, 30))) === 0) continue;
      n += d.ring(i)!.onEvent();
    }
    d.disk?.drain();
    return n;
  }

  /** The disks, with what each of their rings negotiated, for tools and tests. */
  disks(): BlkfrontDiskReport[] {
    return [...this.devices.values()].map((d) => {
      const rings: BlkfrontRingReport[] = [];
      for (let i = 0; i < d.ringCount; i++) {
        const r = d.ring(i)!;
        rings.push({
          pages: d.ringPages(i),
          size: r.size,
          persistent: r.persistent,
          grantsIssued: r.grantsIssued,
          persistentGrants: r.persistentGrants,
          poolPages: r.poolPages,
        });
      }
      return {
        devid: d.devid,
        state: xenbusStateName(d.state),
        backend: d.backendDir,
        name: d.disk?.info.name ?? null,
        rings,
      };
    });
  }

  async settled(): Promise<void> {
    await this.queue.idle();
    await Promise.all([...this.devices.values()].map((d) => d.settled()));
  }

  private async reconcile(path: string): Promise<void> {
    const rel = partsBelow(this.base, path);
    const xs = this.env.xs;
    const ids = new Set<string>();
    if (rel.length >= 1) ids.add(rel[0]!);
    else {
      for (const d of await xs.directory(this.base).catch(() => [] as string[])) ids.add(d);
      for (const id of this.devices.keys()) ids.add(String(id));
    }
    for (const id of ids) {
      if (!/^\d{1,10}$/.test(id)) continue;
      const devid = Number(id);
      const dir = `${this.base}/${id}`;
      const backend = await xs.tryRead(`${dir}/${XenbusNode.backend}`);
      const existing = this.devices.get(devid);
      if (existing) {
        if (backend === undefined) {
          await existing.release();
          this.devices.delete(devid);
          this.pending.delete(existing);
        }
        continue;
      }
      if (backend === undefined || (await xs.tryRead(`${dir}/${XenbusNode.state}`)) === undefined) continue;
      const dev = new BlkfrontDevice(this.env, devid, dir);
      this.devices.set(devid, dev);
      debug("%s: probe", dir);
      await dev.probe();
    }
  }
}
