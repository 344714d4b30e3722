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
  BLKIF_SECTOR_SIZE,
  BLKIF_SECTORS_PER_PAGE,
  BLKIF_SEGS_PER_INDIRECT_FRAME,
} from "../blkif/constants.js";
import { BLKIF_SEGMENT_SIZE, BlkifRequest, writeIndirectSegment } from "../blkif/request.js";
import { BlkifResponse } from "../blkif/response.js";
import { FrontRing } from "../ring/front-ring.js";
import type { SharedRing } from "../ring/shared-ring.js";
import { invalidState } from "../xen/errors.js";
import type { GrantAccess, GuestMemory, Notifier } from "./ports.js";

const debug = createDebug("pvscsi:blkfront");

/** Linux blkfront's `max_indirect_segments` module parameter default: segments it uses per indirect request. */
export const BLKFRONT_MAX_INDIRECT_SEGMENTS = 32;
const PAGE = 4096;

/**
 * One block request as the guest's block layer builds it (Linux's `struct request` after the
 * split): READ or WRITE of `length` bytes at `sector` held in whole guest frames, a FLUSH, or a
 * DISCARD of `discardSectors`. Reusable: set the fields, {@link BlkfrontRing.submit}, read
 * `status` in `onComplete`.
 */
export class BlkCommand {
  /** `BLKIF_OP_READ`, `_WRITE`, `_FLUSH_DISKCACHE`, `_WRITE_BARRIER` or `_DISCARD`. */
  op = BLKIF_OP_READ;
  /** In 512-byte sectors. */
  sector = 0;
  /** Guest frames holding the data, in order, each used from its start. */
  readonly frames: Int32Array;
  frameCount = 0;
  /** Bytes to move: a multiple of 512, at most `frameCount` pages. */
  length = 0;
  /** DISCARD: sectors to discard. */
  discardSectors = 0;
  /** `BLKIF_RSP_*` of the response; `BLKIF_RSP_ERROR` when the ring failed the command. */
  status = 0;
  /** Called once when answered. */
  onComplete: ((cmd: BlkCommand) => void) | null = null;

  constructor(maxFrames: number) {
    this.frames = new Int32Array(maxFrames);
  }
}

/**
 * One page of the persistent-grant pool (Linux blkfront's `struct grant` with its own page): a
 * guest frame that stays granted to the backend while the backend keeps it mapped.
 */
class PoolPage {
  /** The grant ref, or -1 while the page is not granted. */
  ref = -1;
  constructor(readonly frame: number) {}
}

/** Per-id bookkeeping (Linux's `struct blk_shadow`). */
class Shadow {
  cmd: BlkCommand | null = null;
  operation = 0;
  readonly refs: Int32Array;
  nRefs = 0;
  /** Persistent mode: the pool pages carrying the request's data segments, in order. */
  readonly pages: Array<PoolPage | null>;
  nPages = 0;
  /** Persistent mode: the pool pages holding its indirect descriptors. */
  readonly indirectPages: Array<PoolPage | null>;
  nIndirect = 0;
  /** Frames of indirect descriptors, allocated when first needed and kept. */
  readonly descFrames: number[] = [];
  constructor(maxRefs: number) {
    this.refs = new Int32Array(maxRefs);
    this.pages = new Array<PoolPage | null>(maxRefs).fill(null);
    this.indirectPages = new Array<PoolPage | null>(maxRefs).fill(null);
  }
}

/** What one ring of a {@link BlkfrontRing} works through. */
export interface BlkfrontRingOptions {
  readonly memory: GuestMemory;
  readonly grants: GrantAccess;
  readonly notifier: Notifier;
  /** The guest polls for responses: never re-arm `rsp_event`. */
  readonly polling?: boolean;
  /**
   * A grant still mapped by the backend at completion or teardown: end it later, then free
   * `frame` if one is given (a persistent-grant pool page).
   */
  readonly deferEndAccess?: (ref: number, frame?: number) => void;
}

/** A ring: not yet connected, serving, or failed for good (Linux `BLKIF_STATE_ERROR`). */
export type BlkfrontState = "disconnected" | "connected" | "error";

/**
 * blkfront for one ring of one virtual disk, as a synchronous core (Linux `xen-blkfront.c`:
 * `blkif_queue_rw_req`, `blkif_queue_discard_req`, `blkif_interrupt`/`blkif_completion`): each
 * request's id is its shadow slot; each data frame is granted for the request (read-only when the
 * data goes to the disk) and its access ended at completion; up to 11 segments go in the request,
 * more (when the backend offers `feature-max-indirect-segments`) in granted indirect pages.
 * Responses are copied once and checked: a producer overflow, an unknown id or an operation
 * that does not echo the request's put the ring in a permanent error state.
 *
 * Persistent grants (both ends offered `feature-persistent`; Linux's `fill_grant_buffer`,
 * `get_grant`, `blkif_completion`): data and indirect descriptors go through a pool of the
 * ring's own pages, granted once and reused while the backend keeps them mapped. A write's data
 * is copied into pool pages before the request, a read's copied out at completion. At
 * completion a page the backend still maps goes back to the front of the pool, granted; one the
 * backend let go has its grant ended and goes to the back. The pool holds at most Linux's
 * `(segments + indirect pages) × RING_SIZE` pages; its pages are allocated as first needed.
 */
export class BlkfrontRing {
  /** Requests submitted and not yet answered. */
  inFlight = 0;
  errorReason: string | null = null;
  /** Segments per request: 11, or the indirect maximum negotiated. */
  maxSegments = BLKIF_MAX_SEGMENTS_PER_REQUEST;
  /** The backend took FLUSH/BARRIER (cleared when it answers EOPNOTSUPP, as Linux does). */
  flushOp = 0;
  discard = false;
  /** Persistent grants negotiated (both ends offered `feature-persistent`). */
  persistent = false;
  /** Every grant this ring has made (data, indirect and pool pages): what persistence saves. */
  grantsIssued = 0;
  private _state: BlkfrontState = "disconnected";
  private front: FrontRing | null = null;
  private readonly memory: GuestMemory;
  private readonly grants: GrantAccess;
  private readonly notifier: Notifier;
  private readonly polling: boolean;
  private readonly deferEnd: (ref: number, frame?: number) => void;
  private shadows: Shadow[] = [];
  private readonly freeIds: number[] = [];
  private req: BlkifRequest = new BlkifRequest("x86_64");
  /** Every pool page this ring allocated. */
  private readonly pool: PoolPage[] = [];
  /** Free pool pages still granted (reused first), and free ones without a grant. */
  private readonly poolGranted: PoolPage[] = [];
  private readonly poolUngranted: PoolPage[] = [];
  private poolCap = 0;
  private readonly rsp = new BlkifResponse("x86_64");
  private unpushed = false;

  constructor(options: BlkfrontRingOptions) {
    this.memory = options.memory;
    this.grants = options.grants;
    this.notifier = options.notifier;
    this.polling = options.polling ?? false;
    this.deferEnd = options.deferEndAccess ?? (() => {});
  }

  get state(): BlkfrontState {
    return this._state;
  }

  /** `RING_SIZE` of the connected ring (0 before). */
  get size(): number {
    return this.front?.size ?? 0;
  }

  /** Free slots for requests. */
  get freeSlots(): number {
    return this.front === null ? 0 : Math.min(this.freeIds.length, this.front.freeRequests());
  }

  /**
   * `XEN_FRONT_RING_INIT` over the ring page(s) the caller granted, with the segment limit the
   * backend's `feature-max-indirect-segments` allows (0: 11 direct segments only).
   */
  connect(sring: SharedRing): void {
    if (this._state !== "disconnected") throw invalidState("blkfront", `connect while ${this._state}`);
    this.front = FrontRing.init(sring);
    this.negotiate(0);
  }

  /**
   * The backend connected: take its `feature-max-indirect-segments` (0 or absent: 11 direct
   * segments only; else at most Linux's default of 32) and whether persistent grants are on
   * (both ends offered them). Only while nothing is in flight.
   */
  negotiate(backendMaxIndirect: number, persistent = false): void {
    const sring = this.front!.sring;
    if (this.inFlight !== 0) throw invalidState("blkfront", "renegotiating with requests in flight");
    this.releaseFrames();
    this.maxSegments =
      backendMaxIndirect > BLKIF_MAX_SEGMENTS_PER_REQUEST
        ? Math.min(backendMaxIndirect, BLKFRONT_MAX_INDIRECT_SEGMENTS)
        : BLKIF_MAX_SEGMENTS_PER_REQUEST;
    const descPages = Math.ceil(this.maxSegments / BLKIF_SEGS_PER_INDIRECT_FRAME);
    this.shadows = [];
    this.freeIds.length = 0;
    for (let i = sring.size - 1; i >= 0; i--) this.freeIds.push(i);
    for (let i = 0; i < sring.size; i++) this.shadows.push(new Shadow(this.maxSegments + descPages));
    this.persistent = persistent;
    // `blkfront_setup_indirect`: `(grants + INDIRECT_GREFS(grants)) * BLK_RING_SIZE` pool entries.
    this.poolCap = persistent ? (this.maxSegments + descPages) * sring.size : 0;
    if (this._state === "disconnected") this._state = "connected";
  }

  /** Largest READ/WRITE in bytes: `maxSegments` whole pages. */
  get maxTransfer(): number {
    return this.maxSegments * PAGE;
  }

  /**
   * Queue `cmd`. "busy" when no slot is free (retry after a completion); "error" when the ring
   * failed or the command cannot be expressed (the caller splits at {@link maxTransfer}).
   * Responses are published by {@link push} (or at once with `push = true`).
   */
  submit(cmd: BlkCommand, push = true): "queued" | "busy" | "error" {
    const front = this.front;
    if (front === null || this._state !== "connected") return "error";
    if (this.freeIds.length === 0 || front.full()) return "busy";
    const op = cmd.op;
    const dataOp = op === BLKIF_OP_READ || op === BLKIF_OP_WRITE || op === BLKIF_OP_WRITE_BARRIER;
    const nseg =
      dataOp || (op === BLKIF_OP_FLUSH_DISKCACHE && cmd.length > 0) ? Math.ceil(cmd.length / PAGE) : 0;
    if (cmd.length % BLKIF_SECTOR_SIZE !== 0 || nseg > this.maxSegments || nseg > cmd.frameCount)
      return "error";
    if ((op === BLKIF_OP_READ || op === BLKIF_OP_WRITE) && nseg === 0) return "error";
    const id = this.freeIds.pop()!;
    const sh = this.shadows[id]!;
    sh.cmd = cmd;
    sh.nRefs = 0;
    sh.nPages = 0;
    sh.nIndirect = 0;
    const pers = this.persistent;
    const req = this.req.clear();
    req.setId(id);
    req.sectorNumber = cmd.sector;
    if (op === BLKIF_OP_DISCARD) {
      req.operation = BLKIF_OP_DISCARD;
      req.discardNrSectors = cmd.discardSectors;
    } else {
      const ro = op !== BLKIF_OP_READ;
      const indirect = nseg > BLKIF_MAX_SEGMENTS_PER_REQUEST;
      const descMem = this.memory.bytes;
      let descOff = 0;
      let page = -1;
      let left = cmd.length;
      for (let i = 0; i < nseg; i++) {
        const last = Math.min(BLKIF_SECTORS_PER_PAGE, left / BLKIF_SECTOR_SIZE) - 1;
        left -= (last + 1) * BLKIF_SECTOR_SIZE;
        let ref: number;
        if (pers) {
          const pg = this.takePoolPage();
          if (pg === null) return this.undo(sh, id);
          sh.pages[sh.nPages++] = pg;
          ref = pg.ref;
          // `need_copy`: a write's data goes into the persistently granted page.
          if (op !== BLKIF_OP_READ) {
            const src = cmd.frames[i]! * PAGE;
            descMem.copyWithin(pg.frame * PAGE, src, src + (last + 1) * BLKIF_SECTOR_SIZE);
          }
        } else {
          ref = this.grants.grantAccess(cmd.frames[i]!, ro);
          if (ref < 0) return this.undo(sh, id);
          this.grantsIssued++;
          sh.refs[sh.nRefs++] = ref;
        }
        if (!indirect) {
          req.setSegment(i, ref, 0, last);
          continue;
        }
        const p = Math.floor(i / BLKIF_SEGS_PER_INDIRECT_FRAME);
        if (p !== page) {
          page = p;
          let dref: number;
          if (pers) {
            // `get_indirect_grant`: the descriptor page is a pool page too.
            const pg = this.takePoolPage();
            if (pg === null) return this.undo(sh, id);
            sh.indirectPages[sh.nIndirect++] = pg;
            descOff = pg.frame * PAGE;
            dref = pg.ref;
          } else {
            let f = sh.descFrames[p];
            if (f === undefined) {
              f = this.memory.allocFrame();
              if (f < 0) return this.undo(sh, id);
              sh.descFrames[p] = f;
            }
            descOff = f * PAGE;
            dref = this.grants.grantAccess(f, true);
            if (dref < 0) return this.undo(sh, id);
            this.grantsIssued++;
            sh.refs[sh.nRefs++] = dref;
          }
          descMem.fill(0, descOff, descOff + PAGE);
          req.setIndirectGref(p, dref);
        }
        writeIndirectSegment(
          descMem,
          descOff + (i % BLKIF_SEGS_PER_INDIRECT_FRAME) * BLKIF_SEGMENT_SIZE,
          ref,
          0,
          last,
        );
      }
      if (indirect) {
        req.operation = BLKIF_OP_INDIRECT;
        req.indirectOp = op;
        req.indirectNrSegments = nseg;
        req.indirectHandle = 0;
        req.sectorNumber = cmd.sector;
      } else {
        req.operation = op;
        req.nrSegments = nseg;
      }
    }
    sh.operation = req.operation;
    req.writeTo(front);
    this.inFlight++;
    this.unpushed = true;
    if (push) this.push();
    return "queued";
  }

  /** `RING_PUSH_REQUESTS_AND_CHECK_NOTIFY`, then the event channel when the backend asked. */
  push(): void {
    if (!this.unpushed || this.front === null) return;
    this.unpushed = false;
    if (this.front.pushRequestsAndCheckNotify()) this.notifier.notify();
  }

  /** The event handler (`blkif_interrupt`): complete every response, then re-arm. */
  onEvent(): number {
    const front = this.front;
    if (front === null || this._state !== "connected") return 0;
    let n = 0;
    for (;;) {
      const rp = front.sring.rspProd;
      if (front.responseProdOverflow(rp)) {
        this.fail(`illegal number of responses ${(rp - front.rspCons) >>> 0}`);
        return n;
      }
      while (front.rspCons !== rp) {
        this.rsp.readFrom(front, front.rspCons);
        front.rspCons = (front.rspCons + 1) >>> 0;
        const id = this.rsp.idLo;
        const sh = this.rsp.idHi === 0 && id < this.shadows.length ? this.shadows[id]! : null;
        if (sh === null || sh.cmd === null) {
          this.fail(`response has incorrect id (${id})`);
          return n;
        }
        if (this.rsp.operation !== sh.operation) {
          this.fail(`response for id ${id} has operation ${this.rsp.operation}, request had ${sh.operation}`);
          return n;
        }
        const cmd = sh.cmd;
        // A read's data comes out of the pool pages (`blkif_completion`'s copy back).
        if (sh.nPages > 0 && cmd.op === BLKIF_OP_READ && this.rsp.status === 0) this.copyOut(sh, cmd);
        this.endGrants(sh);
        sh.cmd = null;
        this.freeIds.push(id);
        this.inFlight--;
        let status = this.rsp.status;
        if (status === BLKIF_RSP_EOPNOTSUPP) {
          if (cmd.op === BLKIF_OP_FLUSH_DISKCACHE || cmd.op === BLKIF_OP_WRITE_BARRIER) {
            debug("flush/barrier op failed: not supported by the backend; disabled");
            this.flushOp = 0;
          } else if (cmd.op === BLKIF_OP_DISCARD) {
            debug("discard op failed: not supported by the backend; disabled");
            this.discard = false;
          }
        } else if (status !== 0 && status !== BLKIF_RSP_ERROR) status = BLKIF_RSP_ERROR;
        cmd.status = status;
        n++;
        cmd.onComplete?.(cmd);
      }
      if (this.polling) return n;
      if (front.finalCheckForResponses() === 0) return n;
    }
  }

  /** Fail every request in flight (backend gone or ring broken); ends what grants it can. */
  failAll(reason: string): void {
    this.fail(reason);
  }

  private fail(reason: string): void {
    if (this._state === "error") return;
    this._state = "error";
    this.errorReason = reason;
    debug("ring failed: %s", reason);
    for (let id = 0; id < this.shadows.length; id++) {
      const sh = this.shadows[id]!;
      const cmd = sh.cmd;
      if (cmd === null) continue;
      this.endGrants(sh);
      sh.cmd = null;
      this.inFlight--;
      cmd.status = BLKIF_RSP_ERROR;
      cmd.onComplete?.(cmd);
    }
  }

  private endGrants(sh: Shadow): void {
    for (let i = 0; i < sh.nRefs; i++) {
      const ref = sh.refs[i]!;
      if (!this.grants.endAccess(ref)) this.deferEnd(ref);
    }
    sh.nRefs = 0;
    // Persistent pages: still mapped by the backend → kept granted, reused first; let go → the
    // grant is ended and the page waits at the back of the pool (Linux's list_add / list_add_tail).
    this.returnPages(sh.pages, sh.nPages);
    this.returnPages(sh.indirectPages, sh.nIndirect);
    sh.nPages = 0;
    sh.nIndirect = 0;
  }

  private returnPages(pages: Array<PoolPage | null>, n: number): void {
    for (let i = 0; i < n; i++) {
      const pg = pages[i]!;
      pages[i] = null;
      if (this.grants.endAccess(pg.ref)) {
        pg.ref = -1;
        this.poolUngranted.push(pg);
      } else this.poolGranted.push(pg);
    }
  }

  /** A pool page to carry a segment: a granted one first, else grant a free or a new page. */
  private takePoolPage(): PoolPage | null {
    const g = this.poolGranted.pop();
    if (g !== undefined) return g;
    let pg = this.poolUngranted.pop();
    if (pg === undefined) {
      if (this.pool.length >= this.poolCap) return null;
      const f = this.memory.allocFrame();
      if (f < 0) return null;
      pg = new PoolPage(f);
      this.pool.push(pg);
    }
    const ref = this.grants.grantAccess(pg.frame, false);
    if (ref < 0) {
      this.poolUngranted.push(pg);
      return null;
    }
    this.grantsIssued++;
    pg.ref = ref;
    return pg;
  }

  /** Copy a completed read's data from its pool pages to the command's frames. */
  private copyOut(sh: Shadow, cmd: BlkCommand): void {
    const mem = this.memory.bytes;
    let left = cmd.length;
    for (let i = 0; i < sh.nPages; i++) {
      const n = Math.min(PAGE, left);
      const src = sh.pages[i]!.frame * PAGE;
      mem.copyWithin(cmd.frames[i]! * PAGE, src, src + n);
      left -= n;
    }
  }

  /** Give back what a request took before it could be sent (out of refs or frames): retry later. */
  private undo(sh: Shadow, id: number): "busy" {
    this.endGrants(sh);
    sh.cmd = null;
    this.freeIds.push(id);
    return "busy";
  }

  /** Pool pages granted now (persistent grants the frontend holds). */
  get persistentGrants(): number {
    let n = 0;
    for (const pg of this.pool) if (pg.ref >= 0) n++;
    return n;
  }

  /** Pages in the persistent-grant pool. */
  get poolPages(): number {
    return this.pool.length;
  }

  /**
   * Frames this ring allocated for indirect descriptors and the persistent-grant pool, to free at
   * teardown (only with nothing in flight). A pool page the backend still maps is ended later.
   */
  releaseFrames(): void {
    for (const sh of this.shadows) {
      for (const f of sh.descFrames) this.memory.freeFrame(f);
      sh.descFrames.length = 0;
    }
    for (const pg of this.pool) {
      if (pg.ref < 0) this.memory.freeFrame(pg.frame);
      else if (this.grants.endAccess(pg.ref)) this.memory.freeFrame(pg.frame);
      else this.deferEnd(pg.ref, pg.frame);
      pg.ref = -1;
    }
    this.pool.length = 0;
    this.poolGranted.length = 0;
    this.poolUngranted.length = 0;
  }
}
