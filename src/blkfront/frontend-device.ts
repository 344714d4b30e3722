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
  readonly pollMode: boolean;
  /** A ring's event fired: run it after dispatch. */
  schedule(dev: BlkfrontDevice, ring: number): void;
  /** A grant the backend still maps at release: end it later, then free its frame. */
  deferEndAccess(ref: number, frame: number): void;
}

interface RingSlot {
  readonly ring: BlkfrontRing;
  readonly frame: number;
  readonly ref: number;
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
    for (let q = 0; q < queues; q++) {
      const frame = ctx.frames.alloc();
      if (frame < 0) return this.fatal("allocating ring page");
      ctx.page(frame).fill(0);
      const ref = ctx.grants.grantAccess(beId, frame, false);
      if (ref < 0) {
        ctx.frames.free(frame);
        return this.fatal("granting ring page");
      }
      const port = ctx.evtchn.allocUnbound(beId);
      if (port <= 0) {
        ctx.grants.endAccess(ref);
        ctx.frames.free(frame);
        return this.fatal("allocating event channel");
      }
      const ring = new BlkfrontRing({
        memory,
        grants,
        notifier: { notify: () => ctx.evtchn.send(port) },
        polling: this.env.pollMode,
        deferEndAccess: (r) => this.env.deferEndAccess(r, -1),
      });
      ring.connect(
        new SharedRing(
          ctx.memory.buffer,
          ctx.memory.byteOffset + frame * 4096,
          4096,
          BLKIF_ENTRY_SIZE_X86_64,
        ),
      );
      const index = this.rings.length;
      this.rings.push({ ring, frame, ref, port });
      this.env.dispatcher.on(port, () => this.env.schedule(this, index));
    }
    await xs.transaction(async (tx) => {
      if (queues === 1) {
        await tx.write(`${this.dir}/${BlkifNode.ringRef}`, String(this.rings[0]!.ref));
        await tx.write(`${this.dir}/${BlkifNode.eventChannel}`, String(this.rings[0]!.port));
      } else {
        await tx.write(`${this.dir}/${BlkifNode.multiQueueNumQueues}`, String(queues));
        for (let q = 0; q < queues; q++) {
          await tx.write(`${this.dir}/queue-${q}/${BlkifNode.ringRef}`, String(this.rings[q]!.ref));
          await tx.write(`${this.dir}/queue-${q}/${BlkifNode.eventChannel}`, String(this.rings[q]!.port));
        }
      }
      await tx.write(`${this.dir}/${BlkifNode.protocol}`, XEN_IO_PROTO_ABI_X86_64);
      // Grants are per request here (no persistent pool of bounce pages), so none are offered.
      await tx.write(`${this.dir}/${BlkifNode.featurePersistent}`, "0");
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
    for (const r of this.rings) {
      r.ring.negotiate(maxIndirect);
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
        persistent: false,
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
        if (ctx.grants.endAccess(r.ref)) ctx.frames.free(r.frame);
        else this.env.deferEndAccess(r.ref, r.frame);
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
