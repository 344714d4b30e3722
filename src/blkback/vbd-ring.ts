import createDebug from "debug";
import {
  BLKIF_MAX_SEGMENTS_PER_REQUEST,
  BLKIF_OP_DISCARD,
  BLKIF_OP_FLUSH_DISKCACHE,
  BLKIF_OP_INDIRECT,
  BLKIF_OP_READ,
  BLKIF_OP_WRITE,
  BLKIF_OP_WRITE_BARRIER,
  BLKIF_RSP_EOPNOTSUPP,
  BLKIF_RSP_ERROR,
  BLKIF_RSP_OKAY,
  BLKIF_SECTOR_SIZE,
  BLKIF_SECTORS_PER_PAGE,
  BLKIF_SEGS_PER_INDIRECT_FRAME,
  type BlkifAbi,
} from "../blkif/constants.js";
import { BLKIF_SEGMENT_SIZE, BlkifRequest } from "../blkif/request.js";
import { BlkifResponse } from "../blkif/response.js";
import { BackRing } from "../ring/back-ring.js";
import type { SharedRing } from "../ring/shared-ring.js";
import { DataBuffer } from "../scsi/data-buffer.js";
import { type Initiator, SAM_STAT_CHECK_CONDITION, SAM_STAT_GOOD, type ScsiDevice } from "../scsi/device.js";
import { invalidState } from "../xen/errors.js";
import { BlkPending } from "./pending.js";
import { type GrantMapper, MappedFrame, type Notifier } from "./ports.js";

const debug = createDebug("pvscsi:blkback");

/** `MAX_INDIRECT_SEGMENTS` of Linux blkback: what it writes to `feature-max-indirect-segments`. */
export const BLKBACK_MAX_INDIRECT_SEGMENTS = 256;
/** `max_pgrants` default of Linux blkback: persistent grants kept per ring. */
export const BLKBACK_MAX_PERSISTENT_GRANTS = 1056;
/** Requests one `service()` call consumes before returning, so one busy guest cannot starve others. */
export const BLKBACK_SERVICE_BUDGET = 64;
/** Unit attentions a request retries before it fails (the SCSI midlayer retries them too). */
const UA_RETRIES = 3;
/** MAXIMUM UNMAP LBA COUNT pvscsi's disks report (`MAX_UNMAP_BLOCKS` in targets/sbc): discards are cut into pieces of at most this. */
const UNMAP_CHUNK_BLOCKS = 0x100000;

const DMA_TO_DEVICE = 1;
const DMA_FROM_DEVICE = 2;
const DMA_NONE = 3;
const READ_16 = 0x88;
const WRITE_16 = 0x8a;
const SYNCHRONIZE_CACHE_10 = 0x35;
const UNMAP = 0x42;
const SENSE_ILLEGAL_REQUEST = 0x5;
const SENSE_UNIT_ATTENTION = 0x6;

/** What backs a VBD: one logical unit of the backend domain, and what blkback learnt of it. */
export interface VbdDisk {
  readonly device: ScsiDevice;
  /** The LUN inside `device`. */
  readonly lun: number;
  /** The I_T nexus blkback presents to the device. */
  readonly initiator: Initiator;
  /** Size in 512-byte sectors (the `sectors` node counts 512-byte units whatever `sector-size`). */
  readonly sectors: number;
  /** The device's logical block size (`sector-size`): 512, 4096, or 2048 for a CD-ROM. */
  readonly blockSize: number;
  /** Writes, flushes and discards are refused (mode `r`, a write-protected disk, a CD-ROM). */
  readonly readonly: boolean;
  /** The device takes SYNCHRONIZE CACHE (`feature-flush-cache`, `feature-barrier`). */
  readonly flush: boolean;
  /** The device takes UNMAP (`feature-discard`). */
  readonly discard: boolean;
}

/** Why blkback answered a request BLKIF_RSP_ERROR or EOPNOTSUPP without running it. */
export type VbdRejectCause =
  | "bad-segments"
  | "bad-indirect-op"
  | "read-only"
  | "out-of-range"
  | "misaligned"
  | "grant-map-failed"
  | "unsupported-op"
  | "device-error";

/** Counters of one ring, for `xl block-list`, the demo and benchmarks. */
export interface VbdStats {
  requests: number;
  responses: number;
  notifies: number;
  reads: number;
  writes: number;
  flushes: number;
  discards: number;
  indirect: number;
  bytesIn: number;
  bytesOut: number;
  persistentGrants: number;
  rejected: Record<VbdRejectCause, number>;
}

/** A vbd's counters, all zero (a new ring's, or a VBD with no ring yet). */
export function emptyVbdStats(): VbdStats {
  return {
    requests: 0,
    responses: 0,
    notifies: 0,
    reads: 0,
    writes: 0,
    flushes: 0,
    discards: 0,
    indirect: 0,
    bytesIn: 0,
    bytesOut: 0,
    persistentGrants: 0,
    rejected: {
      "bad-segments": 0,
      "bad-indirect-op": 0,
      "read-only": 0,
      "out-of-range": 0,
      misaligned: 0,
      "grant-map-failed": 0,
      "unsupported-op": 0,
      "device-error": 0,
    },
  };
}

/** The counters of a VBD's rings added up (all zero for none): what `vbdReport` shows per VBD. */
export function sumVbdStats(all: readonly VbdStats[]): VbdStats {
  const t = emptyVbdStats();
  for (const s of all) {
    t.requests += s.requests;
    t.responses += s.responses;
    t.notifies += s.notifies;
    t.reads += s.reads;
    t.writes += s.writes;
    t.flushes += s.flushes;
    t.discards += s.discards;
    t.indirect += s.indirect;
    t.bytesIn += s.bytesIn;
    t.bytesOut += s.bytesOut;
    t.persistentGrants += s.persistentGrants;
    for (const k of Object.keys(t.rejected) as VbdRejectCause[]) t.rejected[k] += s.rejected[k];
  }
  return t;
}

/** Options of one {@link VbdRing}. */
export interface VbdRingOptions {
  readonly frontendDomid: number;
  /** The VBD's `handle` (its devid), for logs. */
  readonly handle: number;
  /** The frontend's `protocol`: the request layout on this ring. */
  readonly abi: BlkifAbi;
  readonly disk: VbdDisk;
  readonly grants: GrantMapper;
  readonly notifier: Notifier;
  /** Largest INDIRECT `nr_segments` accepted; 0 = indirect segments not offered (2007's blkback). */
  readonly maxIndirectSegments: number;
  /** Both ends offered `feature-persistent`: data grants stay mapped, keyed by gref. */
  readonly persistent: boolean;
  readonly budget?: number;
  /** The driver polls this ring: never re-arm `req_event`. */
  readonly polling?: boolean;
  /** Ask the driver to run `service()` without an event (a slot or a drain freed up). */
  readonly wake?: () => void;
}

/** Life of a ring: not mapped, serving, draining for a disconnect, or halted for good. */
export type VbdRingState = "disconnected" | "connected" | "draining" | "halted";

interface PersistentGrant {
  readonly handle: number;
  readonly mem: Uint8Array;
  readonly base: number;
}

/**
 * blkback for one ring of one VBD, as a synchronous core (Linux `drivers/block/xen-blkback/
 * blkback.c`: `__do_block_io_op`, `dispatch_rw_block_io`, `xen_blkbk_parse_indirect`,
 * `xen_vbd_translate`, `dispatch_discard_io`, `dispatch_other_io`, `make_response`).
 *
 * Per request, in Linux's order: a producer overflow halts the ring for good ("Frontend provided
 * bogus ring requests"); the consumer stops at CONS_OVERFLOW; the slot is copied once (XSA-155)
 * in the layout `protocol` chose. READ/WRITE/WRITE_BARRIER/FLUSH_DISKCACHE/INDIRECT then: an
 * INDIRECT whose `indirect_op` is not READ or WRITE, no segments on a non-flush, more than 11
 * direct or {@link VbdRingOptions.maxIndirectSegments} indirect segments, or a segment with
 * `last_sect > 7` or `last_sect < first_sect` → BLKIF_RSP_ERROR; then `xen_vbd_translate`: any
 * write to a read-only VBD, or `sector_number + nr_sects` past `sectors` (or wrapping) → ERROR;
 * then sectors not aligned to the logical block size → ERROR; then grant maps (a failure → ERROR,
 * every earlier map undone). DISCARD checks the same range as a write; a disk without UNMAP →
 * EOPNOTSUPP. Any other operation (RESERVED_1, 7..255, INDIRECT when not offered) → EOPNOTSUPP.
 * WRITE_BARRIER first drains every request in flight, then flushes; FLUSH_DISKCACHE flushes
 * (SYNCHRONIZE CACHE) before its data, as REQ_PREFLUSH does. A flush the device refuses as
 * ILLEGAL REQUEST is answered EOPNOTSUPP.
 *
 * The backing device is a SCSI logical unit of the backend domain, reached with READ(16),
 * WRITE(16), SYNCHRONIZE CACHE(10) and UNMAP — the same device objects a vscsi disk is.
 */
export class VbdRing {
  readonly frontendDomid: number;
  readonly handle: number;
  readonly abi: BlkifAbi;
  readonly disk: VbdDisk;
  readonly maxIndirectSegments: number;
  readonly persistent: boolean;
  readonly stats: VbdStats = emptyVbdStats();
  /** Called once when a drain completes. */
  onDrained: (() => void) | null = null;
  /** Why the ring halted, if it did. */
  haltReason: string | null = null;

  private _state: VbdRingState = "disconnected";
  private back: BackRing | null = null;
  private readonly grants: GrantMapper;
  private readonly notifier: Notifier;
  private readonly budget: number;
  private readonly polling: boolean;
  private readonly wake: () => void;
  private readonly pool: BlkPending[] = [];
  private readonly free: BlkPending[] = [];
  private inFlightCount = 0;
  private inService = false;
  private unpushed = false;
  /** A WRITE_BARRIER waiting for everything before it to complete; nothing more is consumed. */
  private barrier: BlkPending | null = null;
  private readonly pgrants = new Map<number, PersistentGrant>();
  private readonly logged = new Set<string>();
  // Scratch, allocated once.
  private readonly req: BlkifRequest;
  private readonly rsp: BlkifResponse;
  private readonly mapped = new MappedFrame();
  private readonly segGref: Uint32Array;
  private readonly segFirst: Uint8Array;
  private readonly segLast: Uint8Array;
  private readonly emptyData = new DataBuffer(1);

  constructor(options: VbdRingOptions) {
    this.frontendDomid = options.frontendDomid;
    this.handle = options.handle;
    this.abi = options.abi;
    this.disk = options.disk;
    this.maxIndirectSegments = options.maxIndirectSegments;
    this.persistent = options.persistent;
    this.grants = options.grants;
    this.notifier = options.notifier;
    this.budget = options.budget ?? BLKBACK_SERVICE_BUDGET;
    this.polling = options.polling ?? false;
    this.wake = options.wake ?? (() => {});
    this.req = new BlkifRequest(options.abi);
    this.rsp = new BlkifResponse(options.abi);
    const maxSegs = Math.max(BLKIF_MAX_SEGMENTS_PER_REQUEST, options.maxIndirectSegments);
    this.segGref = new Uint32Array(maxSegs);
    this.segFirst = new Uint8Array(maxSegs);
    this.segLast = new Uint8Array(maxSegs);
    this.emptyData.reset(true);
  }

  get state(): VbdRingState {
    return this._state;
  }

  /** Requests taken off the ring and not yet answered. */
  get inFlight(): number {
    return this.inFlightCount;
  }

  /** `BACK_RING_INIT` over the mapped ring; one pending request per slot. */
  connect(sring: SharedRing): void {
    if (this._state !== "disconnected") throw invalidState(this.name(), `connect while ${this._state}`);
    this.back = BackRing.init(sring);
    const maxSegs = Math.max(BLKIF_MAX_SEGMENTS_PER_REQUEST, this.maxIndirectSegments);
    while (this.pool.length < sring.size) {
      const p = new BlkPending(this.pool.length, this, this.disk.initiator, maxSegs);
      p.lun = this.disk.lun;
      this.pool.push(p);
      this.free.push(p);
    }
    this._state = "connected";
  }

  /** Stop consuming; true when nothing is in flight, else `onDrained` fires at the last answer. */
  beginDrain(): boolean {
    if (this._state === "connected") this._state = "draining";
    return this.inFlightCount === 0;
  }

  /** Forget the ring and unmap every persistent grant (after a drain). */
  disconnect(): void {
    if (this.inFlightCount !== 0)
      throw invalidState(this.name(), `disconnect with ${this.inFlightCount} requests unanswered`);
    for (const g of this.pgrants.values()) this.grants.unmap(g.handle);
    this.pgrants.clear();
    this.stats.persistentGrants = 0;
    this.back = null;
    if (this._state !== "halted") this._state = "disconnected";
  }

  /**
   * The event handler's body (Linux `do_block_io_op`): consume, validate and dispatch what the
   * frontend produced, push the responses written meanwhile with the notify check, then
   * `RING_FINAL_CHECK_FOR_REQUESTS`. True when the budget ran out with work left.
   */
  service(): boolean {
    const back = this.back;
    if (back === null || this._state !== "connected") return false;
    this.inService = true;
    let budget = this.budget;
    try {
      for (;;) {
        const rp = back.sring.reqProd;
        if (back.requestProdOverflow(rp)) {
          const rc = back.rspProdPvt;
          this.halt(
            `Frontend provided bogus ring requests (${rp} - ${rc} = ${(rp - rc) | 0}). Halting ring processing`,
          );
          return false;
        }
        let rc = back.reqCons;
        while (rc !== rp) {
          if (back.requestConsOverflow(rc)) break;
          if (this.barrier !== null) return false; // resumed by the completion that drains it
          if (budget === 0) return true;
          const p = this.free.pop();
          if (p === undefined) return false; // resumed by the next completion (st_oo_req)
          this.req.readFrom(back, rc);
          rc = (rc + 1) >>> 0;
          back.reqCons = rc;
          budget--;
          this.stats.requests++;
          this.take(p);
          this.dispatch(p);
        }
        this.flush();
        if (this.polling) return false;
        if (this.barrier !== null || this.free.length === 0) return false;
        if (back.finalCheckForRequests() === 0) return false;
      }
    } finally {
      this.inService = false;
      this.flush();
    }
  }

  /** A device completed one step of `p`. */
  complete(p: BlkPending, status: number, transferred: number, senseLength: number): void {
    if (!p.inUse) {
      this.logOnce("completed-twice", `a device completed request slot ${p.index}, not in flight; ignored`);
      return;
    }
    const key = status === SAM_STAT_CHECK_CONDITION ? senseKey(p.sense, senseLength) : -1;
    if (key === SENSE_UNIT_ATTENTION && p.retries < UA_RETRIES) {
      p.retries++;
      this.disk.device.submit(p);
      return;
    }
    if (p.phase === "preflush") {
      if (status === SAM_STAT_GOOD && p.writeAfterFlush) {
        p.phase = "io";
        p.retries = 0;
        p.cdb = p.ioCdb;
        p.data = p.ioData;
        p.direction = DMA_TO_DEVICE;
        this.disk.device.submit(p);
        return;
      }
      if (status !== SAM_STAT_GOOD)
        return this.finish(p, key === SENSE_ILLEGAL_REQUEST ? BLKIF_RSP_EOPNOTSUPP : BLKIF_RSP_ERROR);
      return this.finish(p, BLKIF_RSP_OKAY);
    }
    if (p.phase === "discard") {
      if (status !== SAM_STAT_GOOD)
        return this.finish(p, key === SENSE_ILLEGAL_REQUEST ? BLKIF_RSP_EOPNOTSUPP : BLKIF_RSP_ERROR);
      if (p.discardNext < p.discardEnd) {
        this.submitUnmapChunk(p);
        return;
      }
      return this.finish(p, BLKIF_RSP_OKAY);
    }
    const expected = p.data.length;
    const ok = status === SAM_STAT_GOOD && transferred === expected;
    if (ok) {
      if (p.direction === DMA_TO_DEVICE) this.stats.bytesOut += expected;
      else this.stats.bytesIn += expected;
    } else {
      this.stats.rejected["device-error"]++;
    }
    this.finish(p, ok ? BLKIF_RSP_OKAY : BLKIF_RSP_ERROR);
  }

  /**
   * Give up on every request in flight (the toolstack removed the device): unmap, answer ERROR
   * while the ring is mapped, free the slot; a later device completion is ignored.
   */
  abandonAll(): void {
    for (const p of this.pool) if (p.inUse) this.finish(p, BLKIF_RSP_ERROR);
    this.flush();
  }

  private name(): string {
    return `vbd dom${this.frontendDomid}/${this.handle}`;
  }

  private take(p: BlkPending): void {
    p.inUse = true;
    p.retries = 0;
    p.nHandles = 0;
    p.idLo = this.req.idLo;
    p.idHi = this.req.idHi;
    p.operation = this.req.operation;
    p.phase = "io";
    this.inFlightCount++;
  }

  private dispatch(p: BlkPending): void {
    switch (p.operation) {
      case BLKIF_OP_READ:
      case BLKIF_OP_WRITE:
      case BLKIF_OP_WRITE_BARRIER:
      case BLKIF_OP_FLUSH_DISKCACHE:
        this.dispatchRw(p, p.operation, false);
        return;
      case BLKIF_OP_INDIRECT:
        if (this.maxIndirectSegments === 0) {
          this.reject(p, "unsupported-op", BLKIF_RSP_EOPNOTSUPP);
          return;
        }
        this.dispatchRw(p, this.req.indirectOp, true);
        return;
      case BLKIF_OP_DISCARD:
        this.dispatchDiscard(p);
        return;
      default:
        // dispatch_other_io
        this.reject(p, "unsupported-op", BLKIF_RSP_EOPNOTSUPP);
    }
  }

  /** `dispatch_rw_block_io`. */
  private dispatchRw(p: BlkPending, op: number, indirect: boolean): void {
    const req = this.req;
    if (indirect && op !== BLKIF_OP_READ && op !== BLKIF_OP_WRITE) return this.reject(p, "bad-indirect-op");
    const flush = op === BLKIF_OP_WRITE_BARRIER || op === BLKIF_OP_FLUSH_DISKCACHE;
    const nseg = indirect ? req.indirectNrSegments : req.nrSegments;
    if (
      (nseg === 0 && !flush) ||
      (!indirect && nseg > BLKIF_MAX_SEGMENTS_PER_REQUEST) ||
      (indirect && nseg > this.maxIndirectSegments)
    )
      return this.reject(p, "bad-segments");
    const sector = req.sectorNumber;
    // Segments, from the request or (once, into private memory) from its indirect pages.
    if (indirect) {
      if (!this.readIndirect(nseg)) return this.reject(p, "grant-map-failed");
      this.stats.indirect++;
    } else {
      for (let i = 0; i < nseg; i++) {
        this.segGref[i] = req.segGref(i);
        this.segFirst[i] = req.segFirstSect(i);
        this.segLast[i] = req.segLastSect(i);
      }
    }
    let nsects = 0;
    for (let i = 0; i < nseg; i++) {
      const first = this.segFirst[i]!;
      const last = this.segLast[i]!;
      if (last >= BLKIF_SECTORS_PER_PAGE || last < first) return this.reject(p, "bad-segments");
      nsects += last - first + 1;
    }
    const write = op !== BLKIF_OP_READ;
    const disk = this.disk;
    // xen_vbd_translate
    if (write && disk.readonly) return this.reject(p, "read-only");
    if (nsects > 0 && !(sector + nsects <= disk.sectors)) return this.reject(p, "out-of-range");
    const per = disk.blockSize / BLKIF_SECTOR_SIZE;
    if (per > 1) {
      if (sector % per !== 0) return this.reject(p, "misaligned");
      for (let i = 0; i < nseg; i++)
        if ((this.segLast[i]! - this.segFirst[i]! + 1) % per !== 0) return this.reject(p, "misaligned");
    }
    // Grant maps: writes read the guest's pages (mapped read-only), reads fill them.
    const data = p.ioData;
    data.reset(!write);
    for (let i = 0; i < nseg; i++) {
      const g = this.mapData(p, this.segGref[i]!, write);
      if (g === null) {
        this.unmapAll(p);
        return this.reject(p, "grant-map-failed");
      }
      const first = this.segFirst[i]!;
      data.add(g.mem, g.base + first * BLKIF_SECTOR_SIZE, (this.segLast[i]! - first + 1) * BLKIF_SECTOR_SIZE);
    }
    if (nsects > 0) {
      rw16(p.ioCdb, write ? WRITE_16 : READ_16, sector / per, nsects / per);
      if (write) this.stats.writes++;
      else this.stats.reads++;
    }
    p.retries = 0;
    if (flush) {
      this.stats.flushes++;
      p.phase = "preflush";
      p.writeAfterFlush = nsects > 0;
      p.flushCdb.fill(0);
      p.flushCdb[0] = SYNCHRONIZE_CACHE_10;
      p.cdb = p.flushCdb;
      p.data = this.emptyData;
      p.direction = DMA_NONE;
    } else {
      p.phase = "io";
      p.cdb = p.ioCdb;
      p.data = data;
      p.direction = write ? DMA_TO_DEVICE : DMA_FROM_DEVICE;
    }
    if (op === BLKIF_OP_WRITE_BARRIER && this.inFlightCount > 1) {
      this.barrier = p; // xen_blk_drain_io: submitted when everything before it is answered
      return;
    }
    this.disk.device.submit(p);
  }

  /**
   * `xen_blkbk_parse_indirect`: map the indirect pages (read-only, or through the persistent-grant
   * cache when both ends offered it, as Linux's `xen_blkbk_map` does), copy the descriptors out once.
   */
  private readIndirect(nseg: number): boolean {
    const pages = Math.ceil(nseg / BLKIF_SEGS_PER_INDIRECT_FRAME);
    for (let pg = 0; pg < pages; pg++) {
      const gref = this.req.indirectGref(pg);
      let m: PersistentGrant | MappedFrame | null = null;
      let unmap = false;
      if (this.persistent) {
        m = this.pgrants.get(gref) ?? null;
        if (m === null && this.pgrants.size < BLKBACK_MAX_PERSISTENT_GRANTS) {
          m = this.mapPersistent(gref);
          if (m === null) return false;
        }
      }
      if (m === null) {
        if (this.grants.map(gref, true, this.mapped) !== 0) return false;
        m = this.mapped;
        unmap = true;
      }
      const n = Math.min(BLKIF_SEGS_PER_INDIRECT_FRAME, nseg - pg * BLKIF_SEGS_PER_INDIRECT_FRAME);
      const mem = m.mem;
      for (let k = 0; k < n; k++) {
        const off = m.base + k * BLKIF_SEGMENT_SIZE;
        const i = pg * BLKIF_SEGS_PER_INDIRECT_FRAME + k;
        this.segGref[i] =
          (mem[off]! | (mem[off + 1]! << 8) | (mem[off + 2]! << 16) | (mem[off + 3]! << 24)) >>> 0;
        this.segFirst[i] = mem[off + 4]!;
        this.segLast[i] = mem[off + 5]!;
      }
      if (unmap) this.grants.unmap(m.handle);
    }
    return true;
  }

  /**
   * Map `gref` into the persistent-grant cache (writable, as Linux blkback maps persistent grants
   * whatever the operation); null when the cache is full or the map failed.
   */
  private mapPersistent(gref: number): PersistentGrant | null {
    if (this.pgrants.size >= BLKBACK_MAX_PERSISTENT_GRANTS) return null;
    if (this.grants.map(gref, false, this.mapped) !== 0) return null;
    const pg = { handle: this.mapped.handle, mem: this.mapped.mem, base: this.mapped.base };
    this.pgrants.set(gref, pg);
    this.stats.persistentGrants = this.pgrants.size;
    return pg;
  }

  /** Map one data grant, through the persistent-grant cache when both ends offered it. */
  private mapData(p: BlkPending, gref: number, readonly: boolean): PersistentGrant | MappedFrame | null {
    if (this.persistent) {
      const g = this.pgrants.get(gref);
      if (g !== undefined) return g;
      if (this.pgrants.size < BLKBACK_MAX_PERSISTENT_GRANTS) return this.mapPersistent(gref);
    }
    if (this.grants.map(gref, readonly, this.mapped) !== 0) return null;
    p.handles[p.nHandles++] = this.mapped.handle;
    return this.mapped;
  }

  /** `dispatch_discard_io`: synchronous in Linux; here a chain of UNMAPs of at most 4 Mi blocks. */
  private dispatchDiscard(p: BlkPending): void {
    const req = this.req;
    const disk = this.disk;
    const sector = req.sectorNumber;
    const nr = req.discardNrSectors;
    if (disk.readonly) return this.reject(p, "read-only");
    if (nr > 0 && !(sector + nr <= disk.sectors)) return this.reject(p, "out-of-range");
    if (!disk.discard) return this.reject(p, "unsupported-op", BLKIF_RSP_EOPNOTSUPP);
    const per = disk.blockSize / BLKIF_SECTOR_SIZE;
    if (sector % per !== 0 || nr % per !== 0) return this.reject(p, "misaligned");
    this.stats.discards++;
    if (nr === 0) return this.finish(p, BLKIF_RSP_OKAY);
    p.phase = "discard";
    p.discardNext = sector / per;
    p.discardEnd = (sector + nr) / per;
    p.cdb = p.unmapCdb;
    p.data = p.paramData;
    p.direction = DMA_TO_DEVICE;
    this.submitUnmapChunk(p);
  }

  private submitUnmapChunk(p: BlkPending): void {
    const lba = p.discardNext;
    const n = Math.min(UNMAP_CHUNK_BLOCKS, p.discardEnd - lba);
    p.discardNext = lba + n;
    const c = p.cdb;
    c.fill(0);
    c[0] = UNMAP;
    c[8] = 24;
    const b = p.param;
    b.fill(0);
    b[1] = 22;
    b[3] = 16;
    const hi = Math.floor(lba / 2 ** 32);
    const lo = lba >>> 0;
    put32(b, 8, hi);
    put32(b, 12, lo);
    put32(b, 16, n);
    p.retries = 0;
    this.disk.device.submit(p);
  }

  private reject(p: BlkPending, cause: VbdRejectCause, status = BLKIF_RSP_ERROR): void {
    this.stats.rejected[cause]++;
    this.logOnce(cause, `request answered ${status === BLKIF_RSP_ERROR ? "ERROR" : "EOPNOTSUPP"}: ${cause}`);
    this.finish(p, status);
  }

  /** Unmap, answer (`make_response`), free the slot; let a waiting barrier or drain go on. */
  private finish(p: BlkPending, status: number): void {
    this.unmapAll(p);
    p.inUse = false;
    p.phase = "idle";
    this.inFlightCount--;
    this.free.push(p);
    if (this.back !== null) {
      this.rsp.set(p.idLo, p.idHi, p.operation, status).writeTo(this.back);
      this.stats.responses++;
      this.unpushed = true;
      if (!this.inService) this.flush();
    }
    const b = this.barrier;
    if (b !== null && b !== p && this.inFlightCount === 1) {
      this.barrier = null;
      this.disk.device.submit(b);
    } else if (b === p) {
      this.barrier = null;
    }
    if (this._state === "draining" && this.inFlightCount === 0) {
      const d = this.onDrained;
      this.onDrained = null;
      d?.();
    }
    // A slot or the barrier freed: the frontend's requests waiting for it need a pass.
    if (!this.inService && this._state === "connected") this.wake();
  }

  private unmapAll(p: BlkPending): void {
    for (let i = 0; i < p.nHandles; i++) this.grants.unmap(p.handles[i]!);
    p.nHandles = 0;
  }

  /** `RING_PUSH_RESPONSES_AND_CHECK_NOTIFY`, then the event channel when asked. */
  private flush(): void {
    if (!this.unpushed || this.back === null) return;
    this.unpushed = false;
    if (this.back.pushResponsesAndCheckNotify()) {
      this.stats.notifies++;
      this.notifier.notify();
    }
  }

  private halt(reason: string): void {
    this._state = "halted";
    this.haltReason = reason;
    this.logOnce("halted", reason);
  }

  private logOnce(key: string, message: string): void {
    if (this.logged.has(key)) return;
    this.logged.add(key);
    debug("%s: %s", this.name(), message);
  }
}

/** The sense key of fixed (0x70/0x71) or descriptor (0x72/0x73) sense data; -1 without one. */
function senseKey(sense: Uint8Array, length: number): number {
  if (length < 3) return -1;
  const code = sense[0]! & 0x7f;
  if (code === 0x70 || code === 0x71) return sense[2]! & 0xf;
  if (code === 0x72 || code === 0x73) return sense[1]! & 0xf;
  return -1;
}

function put32(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 24) & 255;
  b[off + 1] = (v >>> 16) & 255;
  b[off + 2] = (v >>> 8) & 255;
  b[off + 3] = v & 255;
}

/** READ(16)/WRITE(16) for `blocks` blocks at `lba` (SBC-3 §5.8, §5.35). */
function rw16(c: Uint8Array, op: number, lba: number, blocks: number): void {
  c.fill(0);
  c[0] = op;
  put32(c, 2, Math.floor(lba / 2 ** 32));
  put32(c, 6, lba >>> 0);
  put32(c, 10, blocks);
}
