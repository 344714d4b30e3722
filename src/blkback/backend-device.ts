import createDebug from "debug";
import {
  type BlkifAbi,
  VDISK_CDROM,
  VDISK_READONLY,
  VDISK_REMOVABLE,
  XEN_IO_PROTO_ABI_X86_32,
  XEN_IO_PROTO_ABI_X86_64,
} from "../blkif/constants.js";
import { blkifEntrySize } from "../blkif/request.js";
import { BlkifNode } from "../blkif/xenstore-nodes.js";
import type { EventDispatcher } from "../evtchn/dispatcher.js";
import type { DomainContext } from "../hypervisor/context.js";
import { SharedRing } from "../ring/shared-ring.js";
import type { Initiator, ScsiDevice } from "../scsi/device.js";
import { GNTST_eagain } from "../xen/grant-constants.js";
import { XEN_PAGE_SIZE } from "../xen/page.js";
import { deviceFatal, publishState } from "../xenbus/device-state.js";
import { XenbusNode } from "../xenbus/paths.js";
import { SerialQueue } from "../xenbus/serial-queue.js";
import { XenbusState, xenbusStateName } from "../xenbus/state.js";
import { watchState } from "../xenbus/wait-state.js";
import type { XenstoreClient, XsWatchHandle } from "../xenstore/client.js";
import { queryVbdDisk } from "./disk-query.js";
import type { GrantMapper } from "./ports.js";
import { BLKBACK_MAX_INDIRECT_SEGMENTS, type VbdDisk, VbdRing } from "./vbd-ring.js";

const debug = createDebug("pvscsi:blkback");

/** A `params` target resolved to a logical unit of the backend domain. */
export interface ResolvedTarget {
  readonly device: ScsiDevice;
  /** The LUN inside `device`. */
  readonly lun: number;
}

/** What a VBD needs from the driver that owns it. */
export interface BlkbackEnv {
  readonly ctx: DomainContext;
  readonly dispatcher: EventDispatcher;
  readonly xs: XenstoreClient;
  /** Resolve the toolstack's `params` (the disk's target) to a unit, or say why not. */
  resolve(target: string): ResolvedTarget | string | Promise<ResolvedTarget | string>;
  /** A fresh I_T nexus identity for a new VBD. */
  initiator(frontendDomid: number, devid: number): Initiator;
  /** A ring has work to run without an event. */
  schedule(ring: VbdRing): void;
  readonly pollMode: boolean;
  /** `feature-max-indirect-segments` to offer; 0 offers none (2007's blkback). */
  readonly maxIndirectSegments: number;
  /** `multi-queue-max-queues` to offer. */
  readonly maxQueues: number;
  /** Offer `feature-persistent`. */
  readonly persistent: boolean;
  /** `max-ring-page-order` to offer: rings of up to `2^order` pages (0: one page, 2007's blkback). */
  readonly maxRingPageOrder: number;
}

/**
 * Linux's `XENBUS_MAX_RING_GRANT_ORDER`, blkback's default `max_ring_page_order`: a ring of up to
 * 16 pages (512 requests). xenbus cannot map more grants for one ring (`XENBUS_MAX_RING_GRANTS`).
 */
export const BLKBACK_MAX_RING_PAGE_ORDER = 4;

interface Connected {
  readonly ring: VbdRing;
  /** The grant handles of the ring's pages, in ref order. */
  readonly handles: Int32Array;
  readonly port: number;
}

/** `%u` as xenbus_scanf reads it. */
function parseUnsigned(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const m = /^\s*(\d{1,10})\s*$/.exec(v);
  if (!m) return undefined;
  const n = Number(m[1]);
  return n <= 0xffffffff ? n : undefined;
}

/**
 * One VBD as Linux's xen-blkback drives it through xenbus (`drivers/block/xen-blkback/xenbus.c`:
 * `xen_blkbk_probe`, `backend_changed`, `frontend_changed`, `connect_ring`, `connect`): probe
 * advertises `feature-max-indirect-segments`, `multi-queue-max-queues` and `max-ring-page-order`
 * and goes InitWait; the toolstack's `params`/`mode`/`device-type` open the VBD (here: a unit of
 * the backend's SCSI inventory, probed with READ CAPACITY and MODE SENSE); the frontend's
 * Initialised maps its ring(s) — `protocol` picks the request layout, an unknown one is fatal —
 * and `connect` writes the features, `sectors`, `info` and the sector sizes, then Connected. The
 * frontend's Closing drains and unmaps; Closed (and `online` 0) removes the VBD.
 *
 * Multi-page rings (`max-ring-page-order`, Linux `xen_blkif_map`): the backend maps the frontend's
 * `2^order` refs and uses them as one ring of `__CONST_RING_SIZE(blkif, order pages)` entries.
 * Linux puts the pages side by side in its virtual address space (`xenbus_map_ring_valloc`);
 * pvscsi has no MMU, so the granted frames must already be consecutive in the frontend's memory —
 * which they are for Linux blkfront, whose ring is one `alloc_pages_exact` allocation. A ring
 * granted from scattered frames is refused with a fatal error instead of being misread.
 */
export class BlkbackDevice {
  readonly frontendDomid: number;
  readonly devid: number;
  readonly dir: string;
  frontendDir = "";
  state: XenbusState = XenbusState.Initialising;
  removed = false;
  onRemoved: (() => void) | null = null;
  /** The opened VBD, once `params` resolved. */
  disk: VbdDisk | null = null;
  /** The target named in `params`. */
  target = "";
  /** What the frontend negotiated. */
  abi: BlkifAbi = "x86_64";
  rings: Connected[] = [];
  private readonly env: BlkbackEnv;
  private readonly queue: SerialQueue;
  private watch: XsWatchHandle | null = null;
  private readonly initiator: Initiator;
  private readonly grants: GrantMapper;

  constructor(env: BlkbackEnv, frontendDomid: number, devid: number, dir: string) {
    this.env = env;
    this.frontendDomid = frontendDomid;
    this.devid = devid;
    this.dir = dir;
    this.queue = new SerialQueue((e) => debug("%s: %s", dir, e instanceof Error ? e.message : e));
    this.initiator = env.initiator(frontendDomid, devid);
    const mapper = env.ctx.mapper;
    this.grants = {
      map(ref, readonly, out) {
        let h = mapper.map(frontendDomid, ref, readonly);
        for (let i = 0; i < 3 && h === GNTST_eagain; i++) h = mapper.map(frontendDomid, ref, readonly);
        if (h < 0) return h;
        out.mem = mapper.mappedMemory(h);
        out.base = mapper.mappedOffset(h);
        out.handle = h;
        return 0;
      },
      unmap: (handle) => mapper.unmap(handle),
    };
  }

  /** `xen_blkbk_probe` then `backend_changed`: features, InitWait, open the VBD, follow the frontend. */
  probe(): Promise<void> {
    return this.queue.run(async () => {
      const xs = this.env.xs;
      this.frontendDir = (await xs.tryRead(`${this.dir}/${XenbusNode.frontend}`)) ?? "";
      await xs.transaction(async (tx) => {
        if (this.env.maxIndirectSegments > 0)
          await tx.write(
            `${this.dir}/${BlkifNode.featureMaxIndirectSegments}`,
            String(this.env.maxIndirectSegments),
          );
        await tx.write(`${this.dir}/${BlkifNode.multiQueueMaxQueues}`, String(this.env.maxQueues));
        await tx.write(`${this.dir}/${BlkifNode.maxRingPageOrder}`, String(this.env.maxRingPageOrder));
      });
      await this.switchTo(XenbusState.InitWait);
      if (this.frontendDir === "") return this.fatal("frontend path missing");
      if (!(await this.open())) return;
      this.watch = await watchState(xs, this.frontendDir, (s) => {
        void this.queue.run(() => this.frontendChanged(s));
      });
    });
  }

  /** The driver stops: drain, unmap, forget. */
  remove(): Promise<void> {
    return this.queue.run(() => this.doRemove());
  }

  /** The toolstack deleted the directory: abandon what is in flight, then remove. */
  forceRemove(): Promise<void> {
    if (!this.removed) for (const c of this.rings) c.ring.abandonAll();
    return this.remove();
  }

  settled(): Promise<void> {
    return this.queue.idle();
  }

  /** Open the VBD from `params`, `mode` and `device-type` (`xen_vbd_create`). */
  private async open(): Promise<boolean> {
    const xs = this.env.xs;
    const params = (await xs.tryRead(`${this.dir}/${BlkifNode.params}`)) ?? "";
    const mode = (await xs.tryRead(`${this.dir}/${BlkifNode.mode}`)) ?? "w";
    const devType = (await xs.tryRead(`${this.dir}/${BlkifNode.deviceType}`)) ?? "disk";
    this.target = params;
    if (params === "") {
      await this.fatal("reading params: no target", 2);
      return false;
    }
    const r = await this.env.resolve(params);
    if (typeof r === "string") {
      await this.fatal(`creating vbd structure: ${params}: ${r}`, 19);
      return false;
    }
    const disk = await queryVbdDisk(r.device, r.lun, this.initiator, { readonly: !mode.includes("w") });
    if (typeof disk === "string") {
      await this.fatal(`creating vbd structure: ${params}: ${disk}`, 19);
      return false;
    }
    if (devType === "cdrom" && r.device.info.type !== 5) debug("%s: device-type cdrom on a disk", this.dir);
    r.device.addNexus(this.initiator);
    this.disk = disk;
    return true;
  }

  /** Linux `frontend_changed`. */
  private async frontendChanged(fe: XenbusState): Promise<void> {
    if (this.removed) return;
    debug("%s: frontend %s (backend %s)", this.dir, xenbusStateName(fe), xenbusStateName(this.state));
    switch (fe) {
      case XenbusState.Initialising:
        if (this.state === XenbusState.Closed) await this.switchTo(XenbusState.InitWait);
        return;
      case XenbusState.Initialised:
      case XenbusState.Connected:
        if (this.state === XenbusState.Connected) return;
        // A frontend reconnecting without Closing first: Linux disconnects the old rings.
        await this.disconnect();
        if (!(await this.connectRing())) return;
        await this.connect();
        return;
      case XenbusState.Closing:
        await this.disconnect();
        await this.switchTo(XenbusState.Closing);
        return;
      case XenbusState.Closed: {
        await this.disconnect();
        await this.switchTo(XenbusState.Closed);
        const online = (await this.env.xs.tryRead(`${this.dir}/${XenbusNode.online}`)) === "1";
        if (!online) await this.doRemove();
        return;
      }
      case XenbusState.Unknown:
        await this.doRemove();
        return;
      default:
        await this.fatal(`saw state ${fe} at frontend`);
    }
  }

  /** `connect_ring` + `read_per_ring_refs` + `xen_blkif_map`. */
  private async connectRing(): Promise<boolean> {
    const xs = this.env.xs;
    const fe = this.frontendDir;
    const disk = this.disk;
    if (disk === null) return false;
    const proto = await xs.tryRead(`${fe}/${BlkifNode.protocol}`);
    if (proto === undefined || proto === "" || proto === XEN_IO_PROTO_ABI_X86_64) this.abi = "x86_64";
    else if (proto === XEN_IO_PROTO_ABI_X86_32) this.abi = "x86_32";
    else {
      await this.fatal(`unknown fe protocol ${proto}`, 38);
      return false;
    }
    const persistent =
      this.env.persistent && (await xs.tryRead(`${fe}/${BlkifNode.featurePersistent}`))?.trim() === "1";
    const nqText = await xs.tryRead(`${fe}/${BlkifNode.multiQueueNumQueues}`);
    const nq = nqText === undefined ? 1 : parseUnsigned(nqText);
    if (nq === undefined || nq === 0 || nq > this.env.maxQueues) {
      await this.fatal(`Invalid number of requested queues ${nqText}, max ${this.env.maxQueues}`, 38);
      return false;
    }
    // A readable `ring-page-order` (even 0) means the refs are `ring-ref%u` (Linux's `multi_ref`);
    // absent or unreadable, as xenbus_scanf fails, it is one page at `ring-ref`.
    const order = parseUnsigned(await xs.tryRead(`${fe}/${BlkifNode.ringPageOrder}`));
    const multiRef = order !== undefined;
    if (order !== undefined && order > this.env.maxRingPageOrder) {
      await this.fatal(`requested ring page order ${order} exceed max:${this.env.maxRingPageOrder}`, 22);
      return false;
    }
    const pages = 1 << (order ?? 0);
    const refs = new Int32Array(pages);
    for (let q = 0; q < nq; q++) {
      const dir = nqText === undefined ? fe : `${fe}/queue-${q}`;
      const port = parseUnsigned(await xs.tryRead(`${dir}/${BlkifNode.eventChannel}`));
      if (port === undefined) {
        await this.fatal(`reading ${dir}/event-channel`, 22);
        await this.disconnect();
        return false;
      }
      for (let i = 0; i < pages; i++) {
        const name = !multiRef ? BlkifNode.ringRef : `${BlkifNode.ringRef}${i}`;
        const ref = parseUnsigned(await xs.tryRead(`${dir}/${name}`));
        if (ref === undefined) {
          await this.fatal(`reading ${dir}/${name}`, 22);
          await this.disconnect();
          return false;
        }
        refs[i] = ref;
      }
      if (!(await this.mapRing(q, refs, port, persistent))) {
        await this.disconnect();
        return false;
      }
    }
    return true;
  }

  /** `xen_blkif_map`: map the ring's pages as one area, bind the event channel, start the ring. */
  private async mapRing(q: number, refs: Int32Array, port: number, persistent: boolean): Promise<boolean> {
    const ctx = this.env.ctx;
    const mapper = ctx.mapper;
    const n = refs.length;
    const handles = new Int32Array(n);
    const offsets = new Int32Array(n);
    let failed = mapper.mapBatch(this.frontendDomid, refs, 0, n, false, handles, offsets);
    for (let i = 0; i < n && failed > 0; i++) {
      // GNTST_eagain: another thread held the entry a moment; Linux's gnttab_batch_map retries.
      for (let t = 0; t < 3 && handles[i] === GNTST_eagain; t++) {
        handles[i] = mapper.map(this.frontendDomid, refs[i]!, false);
        if (handles[i]! >= 0) {
          offsets[i] = mapper.mappedOffset(handles[i]!);
          failed--;
        }
      }
    }
    if (failed > 0) {
      let bad = 0;
      while (handles[bad]! >= 0) bad++;
      const status = handles[bad]!;
      mapper.unmapBatch(handles, n);
      await this.fatal(`mapping in shared page ${refs[bad]} from domain ${this.frontendDomid}`, -status);
      return false;
    }
    for (let i = 1; i < n; i++) {
      if (offsets[i] !== offsets[0]! + i * XEN_PAGE_SIZE) {
        mapper.unmapBatch(handles, n);
        await this.fatal(
          `mapping in shared page ${refs[i]} from domain ${this.frontendDomid}: ` +
            `ring pages must be consecutive frames (page ${i} is not after page ${i - 1})`,
          22,
        );
        return false;
      }
    }
    const local = ctx.evtchn.bindInterdomain(this.frontendDomid, port);
    if (local <= 0) {
      mapper.unmapBatch(handles, n);
      await this.fatal(`binding irq to event channel ${port}`, 22);
      return false;
    }
    const ring = new VbdRing({
      frontendDomid: this.frontendDomid,
      handle: this.devid,
      abi: this.abi,
      disk: this.disk!,
      grants: this.grants,
      notifier: { notify: () => ctx.evtchn.send(local) },
      maxIndirectSegments: this.env.maxIndirectSegments,
      persistent,
      polling: this.env.pollMode,
      wake: () => this.env.schedule(ring),
    });
    const mem = mapper.mappedMemory(handles[0]!);
    ring.connect(
      new SharedRing(mem.buffer, mem.byteOffset + offsets[0]!, n * XEN_PAGE_SIZE, blkifEntrySize(this.abi)),
    );
    this.rings[q] = { ring, handles, port: local };
    this.env.dispatcher.on(local, () => this.env.schedule(ring));
    this.env.schedule(ring);
    return true;
  }

  /** Linux `connect`: the disk's features and geometry, then Connected. */
  private async connect(): Promise<void> {
    const d = this.disk!;
    const info =
      (d.readonly ? VDISK_READONLY : 0) |
      (d.device.info.type === 5 ? VDISK_CDROM : 0) |
      (d.device.info.removable ? VDISK_REMOVABLE : 0);
    await this.env.xs.transaction(async (tx) => {
      const w = (node: string, v: string | number) => tx.write(`${this.dir}/${node}`, String(v));
      await w(BlkifNode.featureFlushCache, d.flush ? 1 : 0);
      if (d.discard) {
        await w(BlkifNode.featureDiscard, 1);
        await w(BlkifNode.discardGranularity, d.blockSize);
        await w(BlkifNode.discardAlignment, 0);
        await w(BlkifNode.discardSecure, 0);
      }
      await w(BlkifNode.featureBarrier, d.flush ? 1 : 0);
      await w(BlkifNode.featurePersistent, this.env.persistent ? 1 : 0);
      await w(BlkifNode.sectors, d.sectors);
      await w(BlkifNode.info, info);
      await w(BlkifNode.sectorSize, d.blockSize);
      await w(BlkifNode.physicalSectorSize, d.blockSize);
    });
    await this.switchTo(XenbusState.Connected);
  }

  /** `xen_blkif_disconnect`: wait until nothing is unanswered, then unbind and unmap every ring. */
  private async disconnect(): Promise<void> {
    const ctx = this.env.ctx;
    for (const c of this.rings) {
      if (!c) continue;
      const ring = c.ring;
      if (!ring.beginDrain()) {
        await new Promise<void>((resolve) => {
          ring.onDrained = resolve;
        });
      }
      ring.disconnect();
      this.env.dispatcher.off(c.port);
      ctx.evtchn.close(c.port);
      ctx.mapper.unmapBatch(c.handles, c.handles.length);
    }
    this.rings = [];
  }

  private async doRemove(): Promise<void> {
    if (this.removed) return;
    await this.disconnect();
    if (this.disk) this.disk.device.removeNexus(this.initiator);
    const w = this.watch;
    this.watch = null;
    if (w) await w.unwatch().catch(() => undefined);
    this.removed = true;
    this.onRemoved?.();
  }

  private async switchTo(state: XenbusState): Promise<void> {
    this.state = state;
    await publishState(this.env.xs, this.dir, state, debug);
  }

  private async fatal(message: string, errno?: number): Promise<void> {
    this.state = XenbusState.Closing;
    await deviceFatal(this.env.xs, this.dir, message, debug, errno);
  }
}

/** The default `feature-max-indirect-segments` blkback offers. */
export const BLKBACK_DEFAULT_MAX_INDIRECT = BLKBACK_MAX_INDIRECT_SEGMENTS;
