import createDebug from "debug";
import {
  BLKIF_OP_FLUSH_DISKCACHE,
  BLKIF_OP_WRITE_BARRIER,
  VDISK_CDROM,
  VDISK_READONLY,
  VDISK_REMOVABLE,
  XEN_IO_PROTO_ABI_X86_64,
} from "../blkif/constants.js";
import { fromNumber, vdevName } from "../blkif/vdev.js";
import { BlkifNode } from "../blkif/xenstore-nodes.js";
import type { EventDispatcher } from "../evtchn/dispatcher.js";
import type { DomainContext } from "../hypervisor/context.js";
import { SharedRing } from "../ring/shared-ring.js";
import { BLKIF_ENTRY_SIZE_X86_64 } from "../xen/blkif-layout.js";
import { deviceFatal, publishState } from "../xenbus/device-state.js";
import { XenbusNode } from "../xenbus/paths.js";
import { SerialQueue } from "../xenbus/serial-queue.js";
import { XenbusState, xenbusStateName } from "../xenbus/state.js";
import { watchState } from "../xenbus/wait-state.js";
import type { XenstoreClient, XsWatchHandle } from "../xenstore/client.js";
import { BlkfrontRing } from "./blkfront-ring.js";
import type { GrantAccess, GuestMemory } from "./ports.js";
import { XenDisk } from "./xen-disk.js";

const debug = createDebug("pvscsi:blkfront");

/** Linux's `XENBUS_MAX_RING_GRANT_ORDER`: blkfront never asks for more than 16 ring pages. */
export const BLKFRONT_MAX_RING_PAGE_ORDER = 4;

/** Where the guest's block layer learns of disks (Linux's `add_disk` / `del_gendisk`). */
export interface BlockLayer {
  addDisk(disk: XenDisk): void;
  removeDisk(disk: XenDisk): void;
}

/** What a blkfront device needs from the guest's kernel around it. */
export interface BlkfrontEnv {
  readonly ctx: DomainContext;
  readonly dispatcher: EventDispatcher;
  readonly xs: XenstoreClient;
  readonly block: BlockLayer;
  /** Rings to ask for (`multi-queue-num-queues`), capped by the backend's maximum. */
  readonly queues: number;
  /**
   * Largest ring page order to use (Linux blkfront's `max_ring_page_order`, default 0), capped by
   * the backend's `max-ring-page-order`.
   */
  readonly maxRingPageOrder: number;
  /** Offer `feature-persistent` (Linux blkfront's `feature_persistent`, default on). */
  readonly persistent: boolean;
  readonly pollMode: boolean;
  /** A ring's event fired: run it after dispatch. */
  schedule(dev: BlkfrontDevice, ring: number): void;
  /** A grant the backend still maps at release: end it later, then free its frame. */
  deferEndAccess(ref: number, frame: number): void;
}

interface RingSlot {
  readonly ring: BlkfrontRing;
  /** First frame of the ring's consecutive pages. */
  readonly frame: number;
  /** The grant ref of each page, in order. */
  readonly refs: number[];
  readonly port: number;
}

/**
 * One virtual block device as Linux's xen-blkfront drives it through xenbus (`blkfront_probe`,
 * `blkback_changed`, `talk_to_blkback`, `blkfront_connect`, `blkfront_closing`): at the backend's
 * InitWait it sets up one ring per queue (the backend's `multi-queue-max-queues` caps the
 * queues asked for), writes `ring-ref` and `event-channel` (or `multi-queue-num-queues` with
 * `queue-N/…`) and `protocol` in one transaction and goes Initialised; at the backend's Connected
 * it reads `sectors`, `info`, `sector-size`, `physical-sector-size` and the features, adds the
 * disk to the guest's block layer and goes Connected; the backend closing removes the disk and
 * fails what is in flight.
 */
export class BlkfrontDevice {
  readonly devid: number;
  readonly dir: string;
  backendDir = "";
  backendDomid = -1;
  state: XenbusState = XenbusState.Initialising;
  disk: XenDisk | null = null;
  removed = false;
  private readonly env: BlkfrontEnv;
  private readonly queue: SerialQueue;
  private watch: XsWatchHandle | null = null;
  private rings: RingSlot[] = [];

  constructor(env: BlkfrontEnv, devid: number, dir: string) {
    this.env = env;
    this.devid = devid;
    this.dir = dir;
    this.queue = new SerialQueue((e) => debug("%s: %s", dir, e instanceof Error ? e.message : e));
  }

  /** The rings, for the driver's event handling. */
  ring(i: number): BlkfrontRing | undefined {
    return this.rings[i]?.ring;
  }

  /** Pages of ring `i`'s shared ring. */
  ringPages(i: number): number {
    return this.rings[i]?.refs.length ?? 0;
  }

  /** Number of rings set up. */
  get ringCount(): number {
    return this.rings.length;
  }

  /** `blkfront_probe`: find the backend and follow its state. */
  probe(): Promise<void> {
    return this.queue.run(async () => {
      const { ctx, xs } = this.env;
      this.backendDir = (await xs.tryRead(`${this.dir}/${XenbusNode.backend}`)) ?? "";
      const beId = Number(await xs.tryRead(`${this.dir}/${XenbusNode.backendId}`));
      if (this.backendDir === "" || !Number.isInteger(beId) || beId < 0 || !ctx.knows(beId)) {
        await this.fatal(`backend ${this.backendDir || "(missing)"} of domain ${beId} is not reachable`);
        return;
      }
      const vdev = fromNumber(Number((await xs.tryRead(`${this.dir}/${BlkifNode.virtualDevice}`)) ?? "-1"));
      if (vdev === null) {
        await this.fatal("reading virtual-device");
        return;
      }
      this.backendDomid = beId;
      this.watch = await watchState(xs, this.backendDir, (s) => {
        void this.queue.run(() => this.backendChanged(s));
      });
    });
  }

  /** The guest shuts the device down: Closing; the backend drains and closes; we follow to Closed. */
  close(): Promise<void> {
    return this.queue.run(async () => {
      if (this.removed || this.state === XenbusState.Closed) return;
      if (this.rings.length === 0) await this.switchTo(XenbusState.Closed);
      else await this.switchTo(XenbusState.Closing);
    });
  }

  settled(): Promise<void> {
    return this.queue.idle();
  }

  /** `blkback_changed`. */
  private async backendChanged(be: XenbusState): Promise<void> {
    if (this.removed) return;
    debug("%s: backend %s (frontend %s)", this.dir, xenbusStateName(be), xenbusStateName(this.state));
    switch (be) {
      case XenbusState.InitWait:
        if (this.state !== XenbusState.Initialising) return;
        await this.talkToBlkback();
        return;
      case XenbusState.Connected:
        if (this.state === XenbusState.Initialised) await this.connect();
        return;
      case XenbusState.Closing:
      case XenbusState.Closed:
      case XenbusState.Unknown:
        await this.closing();
        return;
      default:
        return;
    }
  }

  /** `talk_to_blkback`: rings, event channels, and the nodes, in one transaction. */
  private async talkToBlkback(): Promise<void> {
    const { ctx, xs } = this.env;
    const beId = this.backendDomid;
    const maxQ = Number((await xs.tryRead(`${this.backendDir}/${BlkifNode.multiQueueMaxQueues}`)) ?? "1");
    const queues = Math.max(1, Math.min(this.env.queues, Number.isInteger(maxQ) && maxQ > 0 ? maxQ : 1));
    const memory: GuestMemory = {
      bytes: ctx.memory,
      allocFrame: () => ctx.frames.alloc(),
      freeFrame: (f) => ctx.frames.free(f),
    };
    const grants: GrantAccess = {
      grantAccess: (f, ro) => ctx.grants.grantAccess(beId, f, ro),
      endAccess: (r) => ctx.grants.endAccess(r),
    };
    // `talk_to_blkback`: min(our max order, the backend's); an unreadable node counts as 0.
    const beOrder = Number((await xs.tryRead(`${this.backendDir}/${BlkifNode.maxRingPageOrder}`)) ?? "0");
    const order = Math.min(
      this.env.maxRingPageOrder,
      Number.isInteger(beOrder) && beOrder >= 0 ? beOrder : 0,
      BLKFRONT_MAX_RING_PAGE_ORDER,
    );
    const pages = 1 << order;
    for (let q = 0; q < queues; q++) {
      // `setup_blkring` → `xenbus_setup_ring`: one zeroed allocation of `pages` pages, each granted.
      const frame = ctx.frames.allocContiguous(pages);
      if (frame < 0) return this.fatal("allocating ring page");
      for (let i = 0; i < pages; i++) ctx.page(frame + i).fill(0);
      const refs: number[] = [];
      for (let i = 0; i < pages; i++) {
        const ref = ctx.grants.grantAccess(beId, frame + i, false);
        if (ref < 0) {
          for (const r of refs) ctx.grants.endAccess(r);
          for (let j = 0; j < pages; j++) ctx.frames.free(frame + j);
          return this.fatal("granting ring page");
        }
        refs.push(ref);
      }
      const port = ctx.evtchn.allocUnbound(beId);
      if (port <= 0) {
        for (const r of refs) ctx.grants.endAccess(r);
        for (let j = 0; j < pages; j++) ctx.frames.free(frame + j);
        return this.fatal("allocating event channel");
      }
      const ring = new BlkfrontRing({
        memory,
        grants,
        notifier: { notify: () => ctx.evtchn.send(port) },
        polling: this.env.pollMode,
        deferEndAccess: (r, f) => this.env.deferEndAccess(r, f ?? -1),
      });
      ring.connect(
        new SharedRing(
          ctx.memory.buffer,
          ctx.memory.byteOffset + frame * 4096,
          pages * 4096,
          BLKIF_ENTRY_SIZE_X86_64,
        ),
      );
      const index = this.rings.length;
      this.rings.push({ ring, frame, refs, port });
      this.env.dispatcher.on(port, () => this.env.schedule(this, index));
    }
    await xs.transaction(async (tx) => {
      // `write_per_ring_nodes`: `ring-ref` for one page, `ring-ref%u` for more.
      const writeRing = async (dir: string, r: RingSlot) => {
        if (pages === 1) await tx.write(`${dir}/${BlkifNode.ringRef}`, String(r.refs[0]));
        else
          for (let i = 0; i < pages; i++)
            await tx.write(`${dir}/${BlkifNode.ringRef}${i}`, String(r.refs[i]));
        await tx.write(`${dir}/${BlkifNode.eventChannel}`, String(r.port));
      };
      if (pages > 1) await tx.write(`${this.dir}/${BlkifNode.ringPageOrder}`, String(order));
      if (queues === 1) await writeRing(this.dir, this.rings[0]!);
      else {
        await tx.write(`${this.dir}/${BlkifNode.multiQueueNumQueues}`, String(queues));
        for (let q = 0; q < queues; q++) await writeRing(`${this.dir}/queue-${q}`, this.rings[q]!);
      }
      await tx.write(`${this.dir}/${BlkifNode.protocol}`, XEN_IO_PROTO_ABI_X86_64);
      await tx.write(`${this.dir}/${BlkifNode.featurePersistent}`, this.env.persistent ? "1" : "0");
    });
    await this.switchTo(XenbusState.Initialised);
  }

  /** `blkfront_connect` + `blkfront_gather_backend_features` + `xlvbd_alloc_gendisk`. */
  private async connect(): Promise<void> {
    const xs = this.env.xs;
    const be = this.backendDir;
    const num = async (node: string, dflt: number): Promise<number> => {
      const v = await xs.tryRead(`${be}/${node}`);
      const n = v === undefined ? Number.NaN : Number(v);
      return Number.isSafeInteger(n) && n >= 0 ? n : dflt;
    };
    const sectors = await num(BlkifNode.sectors, -1);
    const info = await num(BlkifNode.info, -1);
    const sectorSize = await num(BlkifNode.sectorSize, -1);
    if (sectors < 0 || info < 0 || sectorSize < 512 || sectorSize % 512 !== 0) {
      await this.fatal(`reading backend fields at ${be}`);
      return;
    }
    const flushCache = (await num(BlkifNode.featureFlushCache, 0)) === 1;
    const barrier = (await num(BlkifNode.featureBarrier, 0)) === 1;
    const maxIndirect = await num(BlkifNode.featureMaxIndirectSegments, 0);
    const discard = (await num(BlkifNode.featureDiscard, 0)) === 1;
    const flushOp = flushCache ? BLKIF_OP_FLUSH_DISKCACHE : barrier ? BLKIF_OP_WRITE_BARRIER : 0;
    // `blkfront_gather_backend_features`: persistent grants only when both ends offered them.
    const persistent = this.env.persistent && (await num(BlkifNode.featurePersistent, 0)) === 1;
    for (const r of this.rings) {
      r.ring.negotiate(maxIndirect, persistent);
      r.ring.flushOp = flushOp;
      r.ring.discard = discard;
    }
    const vdev = fromNumber(Number(await xs.tryRead(`${this.dir}/${BlkifNode.virtualDevice}`)))!;
    this.disk = new XenDisk(
      {
        name: vdevName(vdev),
        vdev: vdev.number,
        sectors,
        sectorSize,
        physicalSectorSize: await num(BlkifNode.physicalSectorSize, sectorSize),
        readonly: (info & VDISK_READONLY) !== 0,
        cdrom: (info & VDISK_CDROM) !== 0,
        removable: (info & VDISK_REMOVABLE) !== 0,
        flushOp,
        discard,
        discardGranularity: await num(BlkifNode.discardGranularity, 0),
        maxIndirectSegments: maxIndirect,
        persistent,
        queues: this.rings.length,
        backend: be,
      },
      this.rings.map((r) => r.ring),
    );
    this.env.block.addDisk(this.disk);
    await this.switchTo(XenbusState.Connected);
  }

  /** `blkfront_closing`: remove the disk, fail what is in flight, go Closed. */
  private async closing(): Promise<void> {
    const disk = this.disk;
    if (disk !== null) {
      this.env.block.removeDisk(disk);
      disk.fail();
      this.disk = null;
    }
    for (const r of this.rings) {
      r.ring.onEvent(); // answers already on the ring
      if (r.ring.inFlight > 0) r.ring.failAll("backend closed with requests unanswered");
    }
    if (this.state !== XenbusState.Closed) await this.switchTo(XenbusState.Closed);
  }

  /** The device's directory is gone: close ports, end the ring grants, free frames. */
  release(): Promise<void> {
    return this.queue.run(async () => {
      if (this.removed) return;
      await this.closing();
      const ctx = this.env.ctx;
      for (const r of this.rings) {
        this.env.dispatcher.off(r.port);
        ctx.evtchn.close(r.port);
        r.ring.releaseFrames();
        for (let i = 0; i < r.refs.length; i++) {
          if (ctx.grants.endAccess(r.refs[i]!)) ctx.frames.free(r.frame + i);
          else this.env.deferEndAccess(r.refs[i]!, r.frame + i);
        }
      }
      this.rings = [];
      const w = this.watch;
      this.watch = null;
      if (w) await w.unwatch().catch(() => undefined);
      this.removed = true;
    });
  }

  private async switchTo(state: XenbusState): Promise<void> {
    this.state = state;
    await publishState(this.env.xs, this.dir, state, debug);
  }

  private async fatal(message: string): Promise<void> {
    this.state = XenbusState.Closing;
    await deviceFatal(this.env.xs, this.dir, message, debug);
  }
}
