import createDebug from "debug";
import { BackRing } from "../ring/back-ring.js";
import { PublishBatch } from "../ring/publish-batch.js";
import type { SharedRing } from "../ring/shared-ring.js";
import {
  type Initiator,
  SAM_STAT_GOOD,
  SAM_STAT_TASK_ABORTED,
  type ScsiDevice,
  type TmfResponse,
} from "../scsi/device.js";
import { REPORTED_LUNS_DATA_HAS_CHANGED } from "../scsi/sense.js";
import { TraceKind } from "../trace/trace-buffer.js";
import { tracer } from "../trace/tracer.js";
import {
  DMA_NONE,
  DMA_TO_DEVICE,
  makeRslt,
  VSCSIIF_ACT_SCSI_ABORT,
  VSCSIIF_ACT_SCSI_CDB,
  VSCSIIF_ACT_SCSI_RESET,
  VSCSIIF_MAX_COMMAND_SIZE,
  VSCSIIF_PAGE_SIZE,
  VSCSIIF_SG_GRANT,
  VSCSIIF_SG_TABLESIZE,
  XEN_VSCSIIF_RSLT_HOST_ABORT,
  XEN_VSCSIIF_RSLT_HOST_ERROR,
  XEN_VSCSIIF_RSLT_HOST_NO_CONNECT,
  XEN_VSCSIIF_RSLT_HOST_OK,
  XEN_VSCSIIF_RSLT_RESET_FAILED,
  XEN_VSCSIIF_RSLT_RESET_SUCCESS,
} from "../vscsiif/constants.js";
import { VscsiifRequest } from "../vscsiif/request.js";
import { VscsiifResponse, validSenseLength, writeResponse } from "../vscsiif/response.js";
import { readIndirectSegments, readRequestSegments, SEGMENT_SIZE, SegmentList } from "../vscsiif/segments.js";
import { invalidState } from "../xen/errors.js";
import { VSCSIIF_MAX_REQS } from "../xen/vscsiif-layout.js";
import { PendingRequest } from "./pending.js";
import type { MungingPolicy } from "./policy.js";
import { type GrantMapper, MappedFrame, type Notifier } from "./ports.js";
import { type EmulatedResult, emulateReportLuns, REPORT_LUNS, reportLunsLength } from "./report-luns.js";
import { type TranslationEntry, TranslationTable } from "./translation.js";

const debug = createDebug("pvscsi:scsiback");

/** `SG_ALL`: what Linux scsiback writes to `feature-sg-grant`. */
export const SCSIBACK_SG_GRANT = 128;
/** Requests one `service()` call consumes before returning, so one busy guest cannot starve the others. */
export const DEFAULT_SERVICE_BUDGET = 64;

/** Why the backend answered a request with an error instead of running it (for logs and stats). */
export type RejectCause =
  | "bad-direction"
  | "bad-cmd-len"
  | "no-translation"
  | "no-tag"
  | "bad-segments"
  | "grant-map-failed"
  | "invalid-act"
  | "device-error";

/** Counters a vhost keeps for observability (`pvscsi demo`, `scsi-list`, benchmarks). */
export interface VhostStats {
  requests: number;
  responses: number;
  notifies: number;
  bytesIn: number;
  bytesOut: number;
  rejected: Record<RejectCause, number>;
}

/** What a {@link Vhost} serves and through which ports it reaches the guest's memory and event channel. */
export interface VhostOptions {
  /** The frontend's domain id. */
  readonly frontendDomid: number;
  /** The vhost's device id (`devid` in `backend/vscsi/<domid>/<devid>`). */
  readonly devid: number;
  /** The I_T nexus this vhost presents to every device. */
  readonly initiator: Initiator;
  /** `feature-host`: pass every CDB through untouched (no REPORT LUNS emulation). */
  readonly featureHost: boolean;
  /** Per-opcode munging filters (policy.ts); default none: every CDB goes to the device. */
  readonly policy?: MungingPolicy;
  /** Largest number of indirect segments accepted (`feature-sg-grant`); Linux uses 128. */
  readonly sgGrant?: number;
  /** Maps and unmaps the guest's granted pages (the backend's grant-map port). */
  readonly grants: GrantMapper;
  /** Signals the frontend (the event channel's send). */
  readonly notifier: Notifier;
  /** Requests consumed per `service()` call before yielding. */
  readonly budget?: number;
  /** The driver polls this ring: never re-arm `req_event` (no notifications wanted). */
  readonly polling?: boolean;
  /**
   * Asks the driver to call `service()` soon, without an event: used when an asynchronous task
   * management function finishes, since requests that arrived meanwhile were announced by an
   * event the vhost already took.
   */
  readonly wake?: () => void;
  /** The simulator's mutation check only: a deliberately broken variant ({@link VhostMutation}). */
  readonly mutation?: VhostMutation;
}

/**
 * Deliberately broken variants of scsiback, for the simulator's mutation check only
 * (`pvscsi sim --mutant`, test/sim/mutation.test.ts): each must be caught by an invariant.
 * Never set outside that check.
 * - `no-unmap-on-abort`: a command completed TASK ABORTED keeps its grants mapped;
 * - `double-answer-abort`: a command completed TASK ABORTED is answered twice;
 * - `skip-notify`: responses are pushed but the event `rsp_event` asks for is never sent.
 */
export type VhostMutation = "no-unmap-on-abort" | "double-answer-abort" | "skip-notify";

/** Life of a vhost's ring: not yet mapped, serving, draining for a disconnect, or halted for good. */
export type VhostState = "disconnected" | "connected" | "draining" | "halted";

/**
 * scsiback for one vhost — a guest's virtual SCSI host — as a synchronous core: it consumes
 * requests from the shared ring, validates them in Linux scsiback's order, maps the guest's
 * grants, translates the virtual (channel, target, lun) and hands each command to its device;
 * completions write responses and notify the frontend when its `rsp_event` asks for it.
 *
 * Validation order (Linux `drivers/xen/xen-scsiback.c`, `scsiback_do_cmd_fn` and
 * `prepare_pending_reqs`, current mainline): a producer overflow halts the ring for
 * good; the consumer stops at CONS_OVERFLOW; each request is copied once; then `sc_data_direction`
 * in 0..3 and `cmd_len` ≤ 16 (else HOST_ERROR), translation (else HOST_NO_CONNECT), a free slot
 * (else HOST_ERROR) — before `act` is looked at, so they apply to ABORT and RESET too — then by
 * `act`: a CDB's grants (bounds of §2.6, else HOST_ERROR), ABORT/RESET as task management answered
 * 0x2002/0x2003, anything else HOST_ERROR.
 *
 * Deliberate differences from Linux, each because Linux is silent or wrong there:
 * - A command aborted by ABORT (or a LUN reset) is answered, with host byte ABORT and status TASK
 *   ABORTED, before the task-management response. Linux's `scsiback_aborted_task` sends nothing,
 *   which leaves the frontend's rqid in flight forever; ring.h's protocol is one response per
 *   request, so pvscsi keeps it.
 * - Indirect segment descriptors are copied out of the guest's pages once and validated from the
 *   copy (Linux reads them from the mapped page twice).
 * - Without `feature-host`, REPORT LUNS is emulated (as the classic backend did) at any
 *   (channel, target) that has an attached LUN, even when the addressed LUN itself is not attached:
 *   SAM makes REPORT LUNS a target-level command.
 */
export class Vhost {
  readonly frontendDomid: number;
  readonly devid: number;
  readonly initiator: Initiator;
  readonly featureHost: boolean;
  /** The munging policy at the device hook, or null. */
  readonly policy: MungingPolicy | null;
  readonly sgGrant: number;
  readonly translations = new TranslationTable();
  readonly stats: VhostStats = {
    requests: 0,
    responses: 0,
    notifies: 0,
    bytesIn: 0,
    bytesOut: 0,
    rejected: {
      "bad-direction": 0,
      "bad-cmd-len": 0,
      "no-translation": 0,
      "no-tag": 0,
      "bad-segments": 0,
      "grant-map-failed": 0,
      "invalid-act": 0,
      "device-error": 0,
    },
  };
  /** Called once when a drain completes (no request left unanswered). */
  onDrained: (() => void) | null = null;

  private _state: VhostState = "disconnected";
  private back: BackRing | null = null;
  private readonly grants: GrantMapper;
  private readonly notifier: Notifier;
  private readonly budget: number;
  private readonly pool: PendingRequest[] = [];
  private readonly free: PendingRequest[] = [];
  private inFlightCount = 0;
  private inService = false;
  /** Responses written since the last push. */
  private unpushed = 0;
  /** How many responses to write before publishing them mid-pass (adaptive; see {@link PublishBatch}). */
  private batch = new PublishBatch(VSCSIIF_MAX_REQS);
  /** A task-management request is outstanding: consume nothing more until it is answered. */
  private tmrPending = false;
  private readonly logged = new Set<string>();
  // Scratch, allocated once.
  private readonly req = new VscsiifRequest();
  private readonly rsp = new VscsiifResponse();
  private readonly mapped = new MappedFrame();
  /** Byte offsets, in the guest's memory, of the pages a batch mapped. */
  private readonly bases: Int32Array;
  /** Grant refs of the indirect descriptor pages, and their handles while mapped. */
  private readonly sglRefs = new Int32Array(VSCSIIF_SG_TABLESIZE);
  private readonly sglHandles = new Int32Array(VSCSIIF_SG_TABLESIZE);
  /** The request's data segments, copied out of `seg[]` or its indirect pages once. */
  private readonly segs: SegmentList;
  private readonly lunList: number[] = [];
  private readonly entryList: TranslationEntry[] = [];
  private readonly emulated: EmulatedResult = { status: 0, transferred: 0, senseLength: 0 };
  private emulationScratch = new Uint8Array(8 + 8 * 256);
  private readonly wake: () => void;
  private readonly polling: boolean;
  private readonly mutation: VhostMutation | null;

  constructor(options: VhostOptions) {
    this.frontendDomid = options.frontendDomid;
    this.devid = options.devid;
    this.initiator = options.initiator;
    this.featureHost = options.featureHost;
    this.policy = options.policy ?? null;
    this.sgGrant = options.sgGrant ?? SCSIBACK_SG_GRANT;
    this.grants = options.grants;
    this.notifier = options.notifier;
    this.budget = options.budget ?? DEFAULT_SERVICE_BUDGET;
    this.wake = options.wake ?? (() => {});
    this.polling = options.polling ?? false;
    this.mutation = options.mutation ?? null;
    const maxData = Math.max(VSCSIIF_SG_TABLESIZE, this.sgGrant);
    this.segs = new SegmentList(maxData);
    this.bases = new Int32Array(Math.max(maxData, VSCSIIF_SG_TABLESIZE));
    for (let i = 0; i < VSCSIIF_MAX_REQS; i++) {
      const p = new PendingRequest(i, this, this.initiator, maxData, maxData + VSCSIIF_SG_TABLESIZE);
      this.pool.push(p);
      this.free.push(p);
    }
  }

  get state(): VhostState {
    return this._state;
  }

  /** The backend's private half of the ring, for inspectors (`pvscsi ui`); null when not connected. */
  get ring(): BackRing | null {
    return this.back;
  }

  /** Requests taken off the ring and not yet answered (Linux's `nr_unreplied_reqs`). */
  get inFlight(): number {
    return this.inFlightCount;
  }

  /** `BACK_RING_INIT` over the mapped ring page; the vhost starts serving. */
  connect(sring: SharedRing): void {
    if (this._state !== "disconnected")
      throw invalidState(`vhost dom${this.frontendDomid}/${this.devid}`, `connect while ${this._state}`);
    this.back = BackRing.init(sring);
    this.batch = new PublishBatch(sring.size);
    this.unpushed = 0;
    this._state = "connected";
  }

  /**
   * Stop consuming and wait for every request in flight to be answered (frontend Closing).
   * Returns true when already drained; otherwise `onDrained` fires when the last one completes.
   */
  beginDrain(): boolean {
    if (this._state === "connected") this._state = "draining";
    return this.inFlightCount === 0;
  }

  /** Forget the ring (after a drain, or to tear down a halted vhost). */
  disconnect(): void {
    if (this.inFlightCount !== 0) {
      throw invalidState(
        `vhost dom${this.frontendDomid}/${this.devid}`,
        `disconnect with ${this.inFlightCount} requests unanswered`,
      );
    }
    this.back = null;
    if (this._state !== "halted") this._state = "disconnected";
  }

  /**
   * The event handler's body (Linux `scsiback_irq_fn` → `scsiback_do_cmd_fn`): consume what the
   * frontend produced, dispatch it, answer what completes at once, push responses with the notify
   * check, then `RING_FINAL_CHECK_FOR_REQUESTS`. Returns true when the budget ran out with work
   * left — the driver should call again after serving others — and false when the ring is idle
   * (the event index is re-armed) or halted.
   */
  service(): boolean {
    const back = this.back;
    if (back === null || this._state !== "connected" || this.tmrPending) return false;
    this.inService = true;
    let budget = this.budget;
    const t = tracer;
    const traced = t !== null && back.sring.traceDomid >= 0;
    if (traced) t.record(TraceKind.ServiceBegin, back.sring.traceDomid, this.frontendDomid, this.devid);
    try {
      for (;;) {
        const rp = back.sring.reqProd;
        if (back.requestProdOverflow(rp)) {
          this.halt(rp, back.rspProdPvt);
          return false;
        }
        let rc = back.reqCons;
        let consOverflow = false;
        while (rc !== rp) {
          if (back.requestConsOverflow(rc)) {
            consOverflow = true;
            break;
          }
          if (budget === 0) return true;
          const p = this.free.pop();
          this.req.readFrom(back, rc);
          rc = (rc + 1) >>> 0;
          back.reqCons = rc;
          budget--;
          this.stats.requests++;
          if (p === undefined) {
            // Cannot happen while CONS_OVERFLOW holds the ring to 16 unanswered; kept as Linux's
            // "no tag" path so a logic error answers the guest instead of losing a request.
            this.rejectRaw(this.req.rqid, XEN_VSCSIIF_RSLT_HOST_ERROR);
            continue;
          }
          this.dispatch(p);
          if (this.tmrPending) return false;
        }
        this.flush();
        // CONS_OVERFLOW with requests left (reachable only if rsp_prod_pvt got ahead of req_cons,
        // a bug of this end): come back later instead of spinning here, so the kernel's other
        // rings still run (found by `pvscsi sim`, which hung on the double-answer mutant).
        if (consOverflow) return true;
        // A polling backend never asks to be notified: it leaves req_event where it is, so the
        // frontend's push-and-check finds the event index behind it and sends nothing.
        if (this.polling) return false;
        if (back.finalCheckForRequests() === 0) return false;
      }
    } catch (e) {
      // A bug reached by this ring's requests: stop this ring, answer what it holds, carry on.
      this.inService = false;
      this.quarantine(errorText(e));
      return false;
    } finally {
      this.inService = false;
      this.flushSafely();
      if (traced)
        t.record(
          TraceKind.ServiceEnd,
          back.sring.traceDomid,
          this.frontendDomid,
          this.devid,
          this.budget - budget,
        );
    }
  }

  /** Complete a request (the device's `done`, or an emulation). Writes its response. */
  complete(p: PendingRequest, status: number, transferred: number, senseLength: number): void {
    if (!p.inUse) {
      // Completed twice (a device bug, not the guest's), or after the request was abandoned:
      // answering again would corrupt the ring, so this completion goes.
      this.logOnce("completed-twice", `a device completed request slot ${p.index}, not in flight; ignored`);
      return;
    }
    const expected = p.data.length;
    const moved = Math.max(0, Math.min(transferred, expected));
    const aborted = status === SAM_STAT_TASK_ABORTED;
    if (!(aborted && this.mutation === "no-unmap-on-abort")) this.unmapAll(p);
    if (p.direction === DMA_TO_DEVICE) this.stats.bytesOut += moved;
    else this.stats.bytesIn += moved;
    const host = aborted ? XEN_VSCSIIF_RSLT_HOST_ABORT : XEN_VSCSIIF_RSLT_HOST_OK;
    const answers = aborted && this.mutation === "double-answer-abort" ? 2 : 1;
    for (let i = 0; i < answers; i++)
      this.respond(
        p.rqid,
        makeRslt(host, status),
        p.sense,
        validSenseLength(p.sense, senseLength),
        expected - moved,
      );
    this.release(p);
  }

  /**
   * Stop serving this ring for good (an exception escaped a request's handling, a bug it cannot
   * attribute): as a producer overflow does, so one broken vhost never stops the others. Unlike a
   * halt, nothing in flight can be trusted to complete, so every request is abandoned at once
   * ({@link abandonAll}): its grants unmapped, the guest answered HOST_ERROR, the drain let finish.
   * In Linux terms the vhost stops; it does not hang `scsiback_disconnect` on `nr_unreplied_reqs`.
   */
  quarantine(reason: string): void {
    this._state = "halted";
    this.logOnce("quarantined", `stopped serving this ring: ${reason}`);
    this.abandonAll();
  }

  /**
   * Give up on every request in flight: unmap its grants, answer it HOST_ERROR while the ring is
   * still mapped (so the frontend's rqid and grants are freed), and release its slot; a device
   * completing one later finds it no longer in use and is ignored ({@link complete}). Used when
   * the ring is quarantined and when the device is removed without waiting (the toolstack gave
   * up). Never throws: a ring it cannot write to is only not answered.
   */
  abandonAll(): void {
    // Nothing more is consumed: a slot freed here must not be reused while a device may still
    // hold its task and complete it late.
    this._state = "halted";
    this.tmrPending = false;
    for (const p of this.pool) {
      if (!p.inUse) continue;
      try {
        this.unmapAll(p);
      } catch (e) {
        this.logOnce("abandon-unmap", `unmapping an abandoned request failed: ${errorText(e)}`);
        p.nHandles = 0;
        p.data.reset(true);
      }
      try {
        this.respond(p.rqid, makeRslt(XEN_VSCSIIF_RSLT_HOST_ERROR, 0), p.sense, 0, 0);
      } catch (e) {
        this.logOnce("abandon-respond", `answering an abandoned request failed: ${errorText(e)}`);
      }
      this.release(p);
    }
    try {
      this.flush();
    } catch {
      // The ring cannot take responses: the frontend's requests stay unanswered, nothing is mapped.
    }
  }

  /** Log a guest's misbehaviour once per cause, so a flood cannot flood the log. */
  private logOnce(cause: string, message: string): void {
    if (this.logged.has(cause)) return;
    this.logged.add(cause);
    debug("dom%d vhost %d: %s", this.frontendDomid, this.devid, message);
  }

  private halt(rp: number, rspProdPvt: number): void {
    this._state = "halted";
    this.logOnce(
      "halted",
      `Dom${this.frontendDomid} provided bogus ring requests (${hex(rp)} - ${hex(rspProdPvt)} = ${(rp - rspProdPvt) >>> 0}). Halting ring processing`,
    );
  }

  private dispatch(p: PendingRequest): void {
    const req = this.req;
    p.inUse = true;
    this.inFlightCount++;
    p.rqid = req.rqid;
    p.act = req.act;
    p.chn = req.channel;
    p.tgt = req.id;
    p.vlun = req.lun;
    p.tag = req.rqid;
    p.nHandles = 0;
    p.entry = null;
    p.data.reset(true);

    const direction = req.scDataDirection;
    if (direction > DMA_NONE) {
      this.reject(p, XEN_VSCSIIF_RSLT_HOST_ERROR, "direction", direction);
      return;
    }
    p.direction = direction as 0 | 1 | 2 | 3;
    const cmdLen = req.cmdLen;
    if (cmdLen > VSCSIIF_MAX_COMMAND_SIZE) {
      this.reject(p, XEN_VSCSIIF_RSLT_HOST_ERROR, "cmd-len", cmdLen);
      return;
    }
    p.setCdb(req.cmnd, cmdLen);

    const entry = this.translations.lookup(p.chn, p.tgt, p.vlun);
    const act = req.act;
    if (entry === undefined) {
      if (act === VSCSIIF_ACT_SCSI_CDB && this.emulatesReportLuns(p)) {
        if (this.mapData(p)) this.runReportLuns(p);
        return;
      }
      this.reject(p, XEN_VSCSIIF_RSLT_HOST_NO_CONNECT, "no-v2p");
      return;
    }
    p.entry = entry;
    p.lun = entry.physLun;

    switch (act) {
      case VSCSIIF_ACT_SCSI_CDB:
        if (!this.mapData(p)) return;
        if (this.emulatesReportLuns(p)) this.runReportLuns(p);
        else this.submitToDevice(p, entry.device);
        return;
      case VSCSIIF_ACT_SCSI_ABORT:
      case VSCSIIF_ACT_SCSI_RESET: {
        let r: TmfResponse | Promise<TmfResponse>;
        try {
          r =
            act === VSCSIIF_ACT_SCSI_ABORT
              ? entry.device.abortTask(this.initiator, req.refRqid)
              : entry.device.lunReset(this.initiator);
        } catch {
          r = "rejected";
        }
        this.taskManagement(p, r);
        return;
      }
      default:
        this.reject(p, XEN_VSCSIIF_RSLT_HOST_ERROR, "act", act);
    }
  }

  /**
   * Hand the task to its device. A pluggable device that throws instead of completing gets the
   * guest HOST_ERROR, and every other vhost carries on.
   */
  private submitToDevice(p: PendingRequest, device: ScsiDevice): void {
    const t = tracer;
    const sring = this.back?.sring;
    if (t !== null && sring !== undefined && sring.traceDomid >= 0)
      t.record(
        TraceKind.DeviceBegin,
        sring.traceDomid,
        this.frontendDomid,
        this.devid,
        p.rqid,
        p.cdb[0] ?? 0,
      );
    try {
      if (this.policy) this.policy.submit(p, device);
      else device.submit(p);
    } catch (e) {
      if (!this.logged.has("device-error"))
        this.logOnce("device-error", `device threw: ${e instanceof Error ? e.message : e}`);
      if (p.inUse) {
        this.unmapAll(p);
        this.reject(p, XEN_VSCSIIF_RSLT_HOST_ERROR, "device-error");
      }
    }
  }

  private emulatesReportLuns(p: PendingRequest): boolean {
    return (
      !this.featureHost &&
      p.cdb.length > 0 &&
      p.cdb[0] === REPORT_LUNS &&
      this.translations.lunsAt(p.chn, p.tgt, this.lunList).length > 0
    );
  }

  private runReportLuns(p: PendingRequest): void {
    const luns = this.translations.lunsAt(p.chn, p.tgt, this.lunList);
    const needed = reportLunsLength(luns.length);
    if (needed > this.emulationScratch.length) this.emulationScratch = new Uint8Array(needed);
    const r = emulateReportLuns(p, luns, this.emulationScratch, this.emulated);
    if (r.status === SAM_STAT_GOOD) {
      // SPC-4 §6.33: REPORT LUNS clears 06/3F/0E REPORTED LUNS DATA HAS CHANGED for the I_T
      // nexus; answered here rather than by a device, scsiback clears it on the units it listed.
      for (const e of this.translations.entriesAt(p.chn, p.tgt, this.entryList))
        e.device.clearUa?.(this.initiator.id, REPORTED_LUNS_DATA_HAS_CHANGED);
      this.entryList.length = 0;
    }
    this.complete(p, r.status, r.transferred, r.senseLength);
  }

  /** ABORT / RESET: Linux waits for the TMR synchronously; pvscsi stops consuming until it resolves. */
  private taskManagement(p: PendingRequest, result: TmfResponse | Promise<TmfResponse>): void {
    if (typeof result === "string") {
      this.answerTmr(p, result);
      return;
    }
    this.tmrPending = true;
    result.then(
      (r) => this.finishTmr(p, r),
      () => this.finishTmr(p, "rejected"),
    );
  }

  private finishTmr(p: PendingRequest, r: TmfResponse): void {
    if (!p.inUse) return; // abandoned meanwhile (quarantine or forced removal): already answered
    this.tmrPending = false;
    this.answerTmr(p, r);
    this.flush();
    this.wake();
  }

  private answerTmr(p: PendingRequest, r: TmfResponse): void {
    this.respond(
      p.rqid,
      r === "complete" ? XEN_VSCSIIF_RSLT_RESET_SUCCESS : XEN_VSCSIIF_RSLT_RESET_FAILED,
      p.sense,
      0,
      0,
    );
    this.release(p);
  }

  /**
   * Map the request's data grants (Linux `scsiback_gnttab_data_map`) in one batch, building the
   * task's data buffer. Every segment's bounds are checked first; then one `GNTTABOP_map_grant_ref`
   * with a count maps them all. On any failure everything mapped is unmapped, the guest gets
   * HOST_ERROR (the log names the first failed op), and false is returned. Segments whose bytes
   * follow each other in the guest's memory (adjacent frames, the first ending where the next
   * starts) become one window of the data buffer, so a device copies them in one `set`.
   */
  private mapData(p: PendingRequest): boolean {
    const req = this.req;
    const raw = req.nrSegments;
    const n = raw & ~VSCSIIF_SG_GRANT;
    if (n === 0) return true;
    if (n > VSCSIIF_SG_TABLESIZE) return this.mapFailed(p, "nr-seg", raw);

    const segs = this.segs;
    segs.clear();
    if ((raw & VSCSIIF_SG_GRANT) !== 0) {
      if (!this.readIndirect(p, n)) return false;
    } else {
      readRequestSegments(req, n, segs);
    }
    const count = segs.count;
    if (count === 0) return true; // indirect pages of no descriptors: no data
    const offsets = segs.offset;
    const lengths = segs.length;
    for (let i = 0; i < count; i++) {
      const off = offsets[i]!;
      const len = lengths[i]!;
      if (off >= VSCSIIF_PAGE_SIZE || len > VSCSIIF_PAGE_SIZE || off + len > VSCSIIF_PAGE_SIZE) {
        return this.mapFailed(p, "seg-bounds", i, off, len);
      }
    }

    const readonly = p.direction === DMA_TO_DEVICE;
    p.data.reset(!readonly);
    const out = this.mapped;
    const handles = p.handles;
    const bases = this.bases;
    const failed = this.mapBatch(segs.gref, 0, count, readonly, handles, bases, out);
    if (failed !== 0) {
      // Keep the mapped ops' handles for the unwind; report the first failure.
      let first = -1;
      let k = 0;
      for (let i = 0; i < count; i++) {
        const h = handles[i]!;
        if (h >= 0) handles[k++] = h;
        else if (first < 0) first = i;
      }
      const status = first >= 0 ? (handles[first] ?? 0) : 0;
      p.nHandles = k;
      return this.mapFailed(p, "map-data", segs.gref[first]!, status);
    }
    p.nHandles = count;
    const mem = out.mem;
    let runStart = bases[0]! + offsets[0]!;
    let runLen = lengths[0]!;
    for (let i = 1; i < count; i++) {
      const at = bases[i]! + offsets[i]!;
      const len = lengths[i]!;
      if (at === runStart + runLen) {
        runLen += len;
        continue;
      }
      p.data.add(mem, runStart, runLen);
      runStart = at;
      runLen = len;
    }
    p.data.add(mem, runStart, runLen);
    return true;
  }

  /**
   * `VSCSIIF_SG_GRANT`: `seg[0..n)` name pages of segment descriptors. Check
   * `offset + length ≤ 4096` and that `length` is whole descriptors, map the pages read-only in one
   * batch, copy the descriptors out once into `segs`, unmap. Returns false after answering the guest.
   */
  private readIndirect(p: PendingRequest, n: number): boolean {
    const req = this.req;
    let total = 0;
    const refs = this.sglRefs;
    for (let i = 0; i < n; i++) {
      const off = req.segOffset(i);
      const len = req.segLength(i);
      if (off + len > VSCSIIF_PAGE_SIZE || len % SEGMENT_SIZE !== 0) {
        this.mapFailed(p, "sgl-page", i, off, len);
        return false;
      }
      total += len / SEGMENT_SIZE;
      refs[i] = req.segGref(i);
    }
    if (total > this.sgGrant) {
      this.mapFailed(p, "sgl-total", total, this.sgGrant);
      return false;
    }
    const out = this.mapped;
    const handles = this.sglHandles;
    const bases = this.bases;
    const failed = this.mapBatch(refs, 0, n, true, handles, bases, out);
    if (failed === 0) {
      for (let i = 0; i < n; i++)
        readIndirectSegments(
          out.mem,
          bases[i]! + req.segOffset(i),
          req.segLength(i) / SEGMENT_SIZE,
          this.segs,
        );
    }
    let first = -1;
    for (let i = 0; i < n; i++) {
      const h = handles[i]!;
      if (h >= 0) this.grants.unmap(h);
      else if (first < 0) first = i;
    }
    if (failed !== 0) {
      this.mapFailed(p, "map-sgl", refs[first]! >>> 0, handles[first]!);
      return false;
    }
    return true;
  }

  /**
   * Map `refs[from, from + count)` through the port's batch when it has one, else one `map` each
   * (a port such as a test's fake grant table). Same contract as {@link GrantMapper.mapBatch}.
   */
  private mapBatch(
    refs: ArrayLike<number>,
    from: number,
    count: number,
    readonly: boolean,
    handles: Int32Array,
    bases: Int32Array,
    out: MappedFrame,
  ): number {
    const grants = this.grants;
    if (grants.mapBatch !== undefined)
      return grants.mapBatch(refs, from, count, readonly, handles, bases, out);
    let failed = 0;
    for (let i = 0; i < count; i++) {
      const status = grants.map(refs[from + i]!, readonly, out);
      if (status !== 0) {
        handles[i] = status < 0 ? status : -1;
        failed++;
        continue;
      }
      handles[i] = out.handle;
      bases[i] = out.base;
    }
    return failed;
  }

  private mapFailed(p: PendingRequest, why: RejectWhy, a = 0, b = 0, c = 0): false {
    this.unmapAll(p);
    this.reject(p, XEN_VSCSIIF_RSLT_HOST_ERROR, why, a, b, c);
    return false;
  }

  private unmapAll(p: PendingRequest): void {
    const grants = this.grants;
    if (grants.unmapBatch !== undefined) grants.unmapBatch(p.handles, p.nHandles);
    else for (let i = 0; i < p.nHandles; i++) grants.unmap(p.handles[i]!);
    p.nHandles = 0;
    p.data.reset(true);
  }

  /**
   * Answer a request that was taken into a slot but will not run. The log line is built only the
   * first time `why` happens on this vhost: a guest repeating a mistake costs no string per request.
   */
  private reject(p: PendingRequest, host: number, why: RejectWhy, a = 0, b = 0, c = 0): void {
    this.stats.rejected[REJECT_CAUSE[why]]++;
    if (!this.logged.has(why)) this.logOnce(why, rejectMessage(why, a, b, c, p));
    this.respond(p.rqid, makeRslt(host, 0), p.sense, 0, 0);
    this.release(p);
  }

  /** Answer a request that never got a slot. */
  private rejectRaw(rqid: number, host: number): void {
    this.stats.rejected["no-tag"]++;
    this.logOnce("no-tag", "Unable to obtain tag for vscsiif_request");
    this.respond(rqid, makeRslt(host, 0), this.rsp.senseBuffer, 0, 0);
  }

  private release(p: PendingRequest): void {
    p.inUse = false;
    p.entry = null;
    this.free.push(p);
    this.inFlightCount--;
    // A drain waits for the last answer whether the ring is draining or halted meanwhile.
    if (this.inFlightCount === 0 && this.onDrained) {
      const cb = this.onDrained;
      this.onDrained = null;
      cb();
    }
  }

  /**
   * Write a whole response, field by field straight into the slot (every byte: no byte of an
   * earlier response survives; {@link writeResponse}) at
   * `rsp_prod_pvt`. Inside `service()` responses are pushed in adaptive batches
   * ({@link PublishBatch}), so the frontend completes the first ones while later requests still
   * run, and whatever is left at the end of the pass; outside (a device completing later) each is
   * pushed at once.
   */
  private respond(
    rqid: number,
    rslt: number,
    sense: Uint8Array,
    senseLength: number,
    residual: number,
  ): void {
    const back = this.back;
    if (back === null) return; // the ring is gone (halted and torn down); nobody to answer
    writeResponse(back, rqid, rslt, sense, senseLength, residual);
    this.stats.responses++;
    const t = tracer;
    if (t !== null && back.sring.traceDomid >= 0)
      t.record(TraceKind.DeviceEnd, back.sring.traceDomid, this.frontendDomid, this.devid, rqid, rslt);
    this.unpushed++;
    if (!this.inService || this.batch.due(this.unpushed)) this.flush();
  }

  /** {@link flush} that never throws (after a quarantine the ring may be what failed). */
  private flushSafely(): void {
    try {
      this.flush();
    } catch (e) {
      this.quarantine(errorText(e));
    }
  }

  /** `RING_PUSH_RESPONSES_AND_CHECK_NOTIFY`, and the event channel send it asks for. */
  private flush(): void {
    if (this.unpushed === 0 || this.back === null) return;
    this.unpushed = 0;
    const notify = this.back.pushResponsesAndCheckNotify();
    this.batch.pushed(notify);
    if (notify && this.mutation !== "skip-notify") {
      this.stats.notifies++;
      this.notifier.notify();
    }
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function hex(v: number): string {
  return `0x${(v >>> 0).toString(16)}`;
}

/** Why a request was answered without running, finer than {@link RejectCause}: one log line each. */
type RejectWhy =
  | "direction"
  | "cmd-len"
  | "no-v2p"
  | "act"
  | "nr-seg"
  | "seg-bounds"
  | "map-data"
  | "sgl-page"
  | "sgl-total"
  | "map-sgl"
  | "device-error";

const REJECT_CAUSE: Readonly<Record<RejectWhy, RejectCause>> = {
  direction: "bad-direction",
  "cmd-len": "bad-cmd-len",
  "no-v2p": "no-translation",
  act: "invalid-act",
  "nr-seg": "bad-segments",
  "seg-bounds": "bad-segments",
  "map-data": "grant-map-failed",
  "sgl-page": "bad-segments",
  "sgl-total": "bad-segments",
  "map-sgl": "grant-map-failed",
  "device-error": "device-error",
};

/** The log line for a rejection (Linux scsiback's wording where it has one). Built once per cause. */
function rejectMessage(why: RejectWhy, a: number, b: number, c: number, p: PendingRequest): string {
  switch (why) {
    case "direction":
      return `invalid parameter data_dir = ${a}`;
    case "cmd-len":
      return `invalid parameter cmd_len = ${a}`;
    case "no-v2p":
      return `the v2p of (chn:${p.chn}, tgt:${p.tgt}, lun:${p.vlun}) doesn't exist.`;
    case "act":
      return `invalid request (act ${a})`;
    case "nr-seg":
      return `invalid parameter nr_seg = ${a}`;
    case "seg-bounds":
      return `data segment ${a} out of its page (offset ${b}, length ${c})`;
    case "map-data":
      return `invalid buffer -- could not remap it (gref ${a}, status ${b})`;
    case "sgl-page":
      return `SG list page ${a} malformed (offset ${b}, length ${c})`;
    case "sgl-total":
      return `invalid nr_seg = ${a} (feature-sg-grant ${b})`;
    case "map-sgl":
      return `invalid buffer -- could not remap SG list page (gref ${a}, status ${b})`;
    case "device-error":
      return "the device failed the command";
  }
}
