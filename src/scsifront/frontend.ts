import createDebug from "debug";
import { FrontRing } from "../ring/front-ring.js";
import { PublishBatch } from "../ring/publish-batch.js";
import type { SharedRing } from "../ring/shared-ring.js";
import type { DataDirection } from "../scsi/device.js";
import { TraceKind } from "../trace/trace-buffer.js";
import { tracer } from "../trace/tracer.js";
import {
  DMA_NONE,
  DMA_TO_DEVICE,
  rsltHost,
  rsltStatus,
  VSCSIIF_ACT_SCSI_ABORT,
  VSCSIIF_ACT_SCSI_CDB,
  VSCSIIF_MAX_COMMAND_SIZE,
  VSCSIIF_PAGE_SIZE,
  VSCSIIF_SENSE_BUFFERSIZE,
  VSCSIIF_SG_GRANT,
  VSCSIIF_SG_PER_PAGE,
  VSCSIIF_SG_TABLESIZE,
  XEN_VSCSIIF_RSLT_RESET_SUCCESS,
} from "../vscsiif/constants.js";
import { VscsiifRequest } from "../vscsiif/request.js";
import { VscsiifResponse } from "../vscsiif/response.js";
import {
  indirectPages,
  SEGMENT_SIZE,
  SegmentList,
  writeIndirectSegments,
  writeRequestSegments,
} from "../vscsiif/segments.js";
import { invalidArgument, invalidState } from "../xen/errors.js";
import { VSCSIIF_MAX_REQS } from "../xen/vscsiif-layout.js";
import { DID_ERROR, DID_RESET, scsifrontHostByte } from "./host-byte.js";
import type { GrantAccess, GuestMemory, Notifier } from "./ports.js";
import type { SavedCommand, SavedFrontend } from "./saved-state.js";

const debug = createDebug("pvscsi:scsifront");

/** The response scsifront synthesizes on resume for a command still in flight: `DID_RESET << 16`. */
export const RESUME_RSLT = DID_RESET << 16;

/** `SG_ALL`: the most segments a Linux frontend uses, whatever the backend offers. */
export const SCSIFRONT_SG_ALL = 128;
/** Upper bound of `feature-sg-grant` a frontend honours: 26 pages of 512 descriptors. */
export const SCSIFRONT_SG_MAX = VSCSIIF_SG_TABLESIZE * VSCSIIF_SG_PER_PAGE;

/**
 * One SCSI command (or task-management request) as the guest builds it. Reusable: set the
 * fields, {@link Frontend.submit}, and read the result fields in `onComplete`.
 */
export class FrontCommand {
  channel = 0;
  id = 0;
  lun = 0;
  /** `VSCSIIF_ACT_SCSI_CDB`, `_ABORT` or `_RESET`. */
  act = VSCSIIF_ACT_SCSI_CDB;
  /** For ABORT: the rqid of the command to abort. */
  refRqid = 0;
  readonly cdb = new Uint8Array(VSCSIIF_MAX_COMMAND_SIZE);
  cdbLength = 0;
  direction: DataDirection = DMA_NONE;
  /** Guest frames holding the data, in order; data starts at `offset` in the first. */
  readonly frames: Int32Array;
  frameCount = 0;
  offset = 0;
  /** Bytes to transfer (`scsi_bufflen`). */
  length = 0;
  /** `timeout_per_command` in seconds (informational; the backend does not enforce it). */
  timeoutSeconds = 0;

  /** The rqid while in flight, else -1. */
  rqid = -1;
  /** Raw `rslt` of the response. */
  rslt = 0;
  /** SAM status byte. */
  status = 0;
  /** Linux host byte (`DID_*`) after `scsifront_host_byte`. */
  host = 0;
  residual = 0;
  readonly sense = new Uint8Array(VSCSIIF_SENSE_BUFFERSIZE);
  senseLength = 0;
  /** Called once when the response arrives (or the host fails the command). */
  onComplete: ((cmd: FrontCommand) => void) | null = null;

  constructor(maxFrames = SCSIFRONT_SG_ALL + 1) {
    this.frames = new Int32Array(maxFrames);
  }

  /** Set the CDB. */
  setCdb(cdb: ArrayLike<number>): this {
    if (cdb.length > VSCSIIF_MAX_COMMAND_SIZE)
      throw invalidArgument("cdb length", `at most ${VSCSIIF_MAX_COMMAND_SIZE}`, cdb.length);
    this.cdb.fill(0);
    for (let i = 0; i < cdb.length; i++) this.cdb[i] = cdb[i]!;
    this.cdbLength = cdb.length;
    return this;
  }

  /** This command as data (its rqid, or -1 when it waits for a slot). */
  toSaved(rqid: number): SavedCommand {
    return {
      rqid,
      act: this.act,
      channel: this.channel,
      id: this.id,
      lun: this.lun,
      refRqid: this.refRqid,
      cdb: Array.from(this.cdb.subarray(0, this.cdbLength)),
      direction: this.direction,
      frames: Array.from(this.frames.subarray(0, this.frameCount)),
      offset: this.offset,
      length: this.length,
      timeoutSeconds: this.timeoutSeconds,
    };
  }

  /** A command rebuilt from {@link toSaved}'s data (no callback yet). */
  static fromSaved(s: SavedCommand): FrontCommand {
    const c = new FrontCommand(Math.max(1, s.frames.length));
    c.act = s.act;
    c.channel = s.channel;
    c.id = s.id;
    c.lun = s.lun;
    c.refRqid = s.refRqid;
    c.setCdb(s.cdb);
    c.direction = s.direction as DataDirection;
    for (let i = 0; i < s.frames.length; i++) c.frames[i] = s.frames[i]!;
    c.frameCount = s.frames.length;
    c.offset = s.offset;
    c.length = s.length;
    c.timeoutSeconds = s.timeoutSeconds;
    return c;
  }

  /** For ABORT/RESET: whether the backend reported SUCCESS (0x2002 exactly, as Linux checks). */
  get tmfSucceeded(): boolean {
    return this.rslt === XEN_VSCSIIF_RSLT_RESET_SUCCESS;
  }
}

/** Why `submit` did not queue a command. */
export type SubmitResult = "queued" | "busy" | "error";

/** Per-rqid bookkeeping (Linux's `vscsifrnt_shadow`). */
class Shadow {
  cmd: FrontCommand | null = null;
  inflight = false;
  readonly refs: Int32Array;
  nRefs = 0;
  /** The data segments of the command, as the backend will read them. */
  readonly sg: SegmentList;
  /** Frames holding indirect descriptors (allocated when first needed, kept for reuse). */
  readonly descFrames: number[] = [];
  constructor(maxData: number, maxRefs: number) {
    this.refs = new Int32Array(maxRefs);
    this.sg = new SegmentList(maxData);
  }
}

/** The ports a {@link Frontend} works through, and the backend it grants to. */
export interface FrontendOptions {
  /** The backend's domain id: data pages are granted to it. */
  readonly backendDomid: number;
  /** The guest's own memory and frame allocator. */
  readonly memory: GuestMemory;
  /** The granting half of the guest's grant table. */
  readonly grants: GrantAccess;
  /** Signals the backend (the event channel's send). */
  readonly notifier: Notifier;
  /** The guest polls this ring for responses: never re-arm `rsp_event`. */
  readonly polling?: boolean;
  /** The simulator's mutation check only: a deliberately broken variant ({@link FrontendMutation}). */
  readonly mutation?: FrontendMutation;
}

/**
 * Deliberately broken variants of scsifront, for the simulator's mutation check only
 * (test/sim/mutation.test.ts): each must be caught by an invariant. Never set outside it.
 * - `reuse-rqid`: an rqid is not marked busy when used, so the next command reuses it in flight;
 * - `end-grant-on-abort`: on sending ABORT for a command, its grants are ended at once (as a
 *   careless timeout handler might) while the backend may still map them.
 */
export type FrontendMutation = "reuse-rqid" | "end-grant-on-abort";

/** A frontend's host: not yet on a ring, serving, or failed for good (Linux STATE_ERROR). */
export type FrontendState = "disconnected" | "connected" | "error";

/**
 * scsifront for one vscsi controller, as a synchronous core (Linux `xen-scsifront.c`): rqid is
 * the lowest free of 16; each data page is granted (read-only when data goes to the device); more
 * than 26 pages go through indirect descriptor pages, up to the backend's `feature-sg-grant`;
 * responses are copied once and checked — a producer overflow, a bad rqid, or a grant the backend
 * still maps at completion put the host in a permanent error state instead of corrupting memory.
 */
export class Frontend {
  readonly backendDomid: number;
  /** Commands submitted and not yet answered. */
  inFlight = 0;
  /** Why the host entered the error state. */
  errorReason: string | null = null;
  private _state: FrontendState = "disconnected";
  private front: FrontRing | null = null;
  private sgTables = VSCSIIF_SG_TABLESIZE;
  private readonly memory: GuestMemory;
  private readonly grants: GrantAccess;
  private readonly notifier: Notifier;
  private readonly polling: boolean;
  private readonly mutation: FrontendMutation | null;
  private readonly shadows: Shadow[] = [];
  /** Grant refs of commands failed by the error state, not ended yet: see {@link takeOrphanGrants}. */
  private readonly orphans: number[] = [];
  private freeBits = (1 << VSCSIIF_MAX_REQS) - 1;
  private readonly req = new VscsiifRequest();
  private readonly rsp = new VscsiifResponse();
  /** Requests written since the last push. */
  private unpushed = 0;
  /** How many requests to write before publishing them without waiting for {@link flush}. */
  private batch = new PublishBatch(VSCSIIF_MAX_REQS);
  /** Linux `info->pause`: suspended; new commands are refused as HOST_BUSY until the backend reconnects. */
  private paused = false;

  constructor(options: FrontendOptions) {
    this.backendDomid = options.backendDomid;
    this.memory = options.memory;
    this.grants = options.grants;
    this.notifier = options.notifier;
    this.polling = options.polling ?? false;
    this.mutation = options.mutation ?? null;
    // At most SG_ALL data pages plus one page of their descriptors.
    for (let i = 0; i < VSCSIIF_MAX_REQS; i++)
      this.shadows.push(new Shadow(SCSIFRONT_SG_ALL, SCSIFRONT_SG_ALL + 1));
  }

  get state(): FrontendState {
    return this._state;
  }

  /** Whether the host is paused for a suspend (Linux `info->pause`). */
  get isPaused(): boolean {
    return this.paused;
  }

  /**
   * Linux `scsifront_suspend`: no new commands for the backend — {@link submit} answers "busy"
   * (`SCSI_MLQUEUE_HOST_BUSY`) until {@link unpause}, so the midlayer keeps them queued. Commands
   * already on the ring stay there: the resume decides their fate ({@link finishAllForResume}).
   */
  pause(): void {
    this.paused = true;
  }

  /** The backend is Connected again after a resume (Linux clears `info->pause`): commands flow. */
  unpause(): void {
    this.paused = false;
  }

  /** The frontend's private half of the ring, for inspectors (`pvscsi ui`); null when not connected. */
  get ring(): FrontRing | null {
    return this.front;
  }

  /** The grant refs held by the command in flight as `rqid`, for inspectors; empty if none. */
  grantsOf(rqid: number): number[] {
    const s = this.shadows[rqid];
    if (s === undefined || !s.inflight) return [];
    return Array.from(s.refs.subarray(0, s.nRefs));
  }

  /** Segments a command may use: 26 until the backend offers indirect segments. */
  get sgTablesize(): number {
    return this.sgTables;
  }

  /**
   * `XEN_FRONT_RING_INIT` over the frontend's ring page (the caller grants it and writes
   * `ring-ref`). Only the frontend initialises the shared page.
   */
  connect(sring: SharedRing): void {
    if (this._state !== "disconnected") throw invalidState("scsifront", `connect while ${this._state}`);
    if (sring.size !== VSCSIIF_MAX_REQS)
      throw invalidArgument("sring", `a one-page vscsiif ring (${VSCSIIF_MAX_REQS} entries)`, sring.size);
    this.front = FrontRing.init(sring);
    this.batch = new PublishBatch(sring.size);
    this.unpushed = 0;
    this._state = "connected";
  }

  /**
   * The backend's `feature-sg-grant` (0 when absent): `nr_segs = min(max(min(v, SG_ALL), 26), 13312)`,
   * as Linux's `scsifront_read_backend_params` computes it.
   */
  setFeatureSgGrant(value: number): void {
    const v = Number.isInteger(value) && value > 0 ? value : 0;
    this.sgTables = Math.min(Math.max(Math.min(v, SCSIFRONT_SG_ALL), VSCSIIF_SG_TABLESIZE), SCSIFRONT_SG_MAX);
  }

  /** Largest transfer in bytes (`max_sectors = (sg_tablesize - 1) * PAGE_SIZE / 512`). */
  get maxTransfer(): number {
    return (this.sgTables - 1) * VSCSIIF_PAGE_SIZE;
  }

  /**
   * Queue `cmd` on the ring (not yet published: call {@link flush}). `patch`, for protocol
   * tests, may rewrite the request's fields just before it is written to the slot. "busy" when the ring is
   * full, no rqid is free or grant refs ran out — retry after a completion, as Linux's
   * `SCSI_MLQUEUE_HOST_BUSY`; "error" when the host has failed. A command needing more pages
   * than `sg_tablesize` completes at once with DID_ERROR (Linux's -E2BIG).
   */
  submit(cmd: FrontCommand, patch?: (req: VscsiifRequest) => void): SubmitResult {
    const front = this.front;
    if (this._state === "error") return "error";
    if (front === null || this._state !== "connected" || this.paused) return "busy";
    if (front.full() || this.freeBits === 0) return "busy";
    const rqid = 31 - Math.clz32(this.freeBits & -this.freeBits);
    const shadow = this.shadows[rqid]!;
    const req = this.req;
    // A patched request is built the old way, on a cleared copy, since a patch may set anything;
    // otherwise every header field is set below and the slot is written field by field.
    if (patch !== undefined) req.clear();
    shadow.nRefs = 0;
    shadow.sg.clear();

    if (cmd.act === VSCSIIF_ACT_SCSI_CDB && cmd.direction !== DMA_NONE && cmd.length > 0) {
      const pages = Math.ceil((cmd.offset + cmd.length) / VSCSIIF_PAGE_SIZE);
      if (pages > this.sgTables || pages > cmd.frameCount || cmd.offset >= VSCSIIF_PAGE_SIZE) {
        this.failAtOnce(cmd, DID_ERROR);
        return "queued";
      }
      if (!this.mapData(cmd, shadow, pages)) return "busy";
    }

    if (this.mutation !== "reuse-rqid") this.freeBits &= ~(1 << rqid);
    if (this.mutation === "end-grant-on-abort" && cmd.act === VSCSIIF_ACT_SCSI_ABORT) {
      const victim = this.shadows[cmd.refRqid & 0x1f];
      if (victim?.inflight) {
        for (let i = 0; i < victim.nRefs; i++) this.grants.endAccess(victim.refs[i]!);
        victim.nRefs = 0;
      }
    }
    shadow.cmd = cmd;
    shadow.inflight = true;
    cmd.rqid = rqid;
    req.rqid = rqid;
    req.act = cmd.act;
    const cdbLength = cmd.cdbLength;
    req.cmdLen = cdbLength;
    const cmnd = req.cmnd;
    for (let i = 0; i < VSCSIIF_MAX_COMMAND_SIZE; i++) cmnd[i] = i < cdbLength ? cmd.cdb[i]! : 0;
    req.timeoutPerCommand = cmd.timeoutSeconds;
    req.channel = cmd.channel;
    req.id = cmd.id;
    req.lun = cmd.lun;
    req.refRqid = cmd.refRqid;
    req.scDataDirection = cmd.direction;
    const segments = this.fillSegments(shadow);
    if (patch === undefined) {
      req.writeFieldsTo(front, segments);
    } else {
      // A protocol test may rewrite any field (act, cmd_len, segments, even rqid) before the slot is written.
      patch(req);
      req.writeTo(front);
    }
    this.inFlight++;
    const t = tracer;
    if (t !== null && front.sring.traceDomid >= 0)
      t.record(
        TraceKind.RequestSubmit,
        front.sring.traceDomid,
        front.sring.traceDevid,
        rqid,
        cmd.act === VSCSIIF_ACT_SCSI_CDB ? cmd.cdb[0]! : -cmd.act,
        cmd.length,
      );
    // Publish in adaptive batches, so the backend starts on these while later ones are built.
    if (this.batch.due(++this.unpushed)) this.flush();
    return "queued";
  }

  /**
   * `RING_PUSH_REQUESTS_AND_CHECK_NOTIFY`, and the event it asks for. Returns whether it notified.
   * {@link submit} also calls it every few requests (an adaptive {@link PublishBatch}); call it
   * after the last submit of a burst.
   */
  flush(): boolean {
    const front = this.front;
    if (front === null || this._state !== "connected") return false;
    this.unpushed = 0;
    if (front.reqProdPvt === front.sring.reqProd) return false;
    const notify = front.pushRequestsAndCheckNotify();
    this.batch.pushed(notify);
    if (!notify) return false;
    this.notifier.notify();
    return true;
  }

  /**
   * The event handler (Linux `scsifront_ring_drain` + `scsifront_irq_fn`): take every response,
   * complete its command, then re-arm `rsp_event`. Returns the number of responses handled.
   */
  service(): number {
    // Suspended: the guest's vcpu is not running; what the backend answers meanwhile stays on
    // the ring for the resume to drain (`scsifront_finish_all`).
    if (this.paused) return 0;
    return this.drain();
  }

  /** Take every response on the ring (the body of {@link service}, also the resume's drain). */
  private drain(): number {
    const front = this.front;
    if (front === null || this._state !== "connected") return 0;
    let handled = 0;
    for (;;) {
      const rp = front.sring.rspProd;
      if (front.responseProdOverflow(rp)) {
        this.setError("illegal number of responses");
        return handled;
      }
      while (front.rspCons !== rp) {
        this.rsp.readFrom(front, front.rspCons);
        front.rspCons = (front.rspCons + 1) >>> 0;
        handled++;
        if (!this.completeResponse()) return handled;
      }
      // A polling frontend never asks to be notified of responses (rsp_event stays behind).
      if (this.polling) return handled;
      if (front.rspCons !== front.reqProdPvt) {
        if (front.finalCheckForResponses() === 0) return handled;
      } else {
        const event = (front.rspCons + 1) >>> 0;
        if (front.sring.rspEvent !== event) front.sring.rspEvent = event;
        return handled;
      }
    }
  }

  /** Give up the ring (after the backend closed): frees descriptor frames; requires no command in flight. */
  disconnect(): void {
    if (this.inFlight !== 0 && this._state !== "error")
      throw invalidState("scsifront", `disconnect with ${this.inFlight} commands in flight`);
    this.front = null;
    for (const s of this.shadows) {
      for (const f of s.descFrames) this.memory.freeFrame(f);
      s.descFrames.length = 0;
    }
    if (this._state !== "error") this._state = "disconnected";
  }

  /**
   * Linux `scsifront_resume`'s first half (`scsifront_finish_all`), after a save/restore or a
   * migration: drain the responses really on the ring, then complete every rqid still allocated
   * locally with a synthesized response — `rslt = DID_RESET << 16` (0x00080000), `sense_len` 0,
   * `residual_len` 0 — through the normal completion path (grants ended, rqid freed), so the
   * midlayer retries those commands on the new ring. Then the old ring is given up (the caller
   * frees its page and port, connects a new ring with {@link connect} and goes Initialised).
   * Returns how many commands were completed with DID_RESET. Nothing in flight survives.
   */
  finishAllForResume(): number {
    if (this._state === "connected") this.drain();
    let reset = 0;
    for (let rqid = 0; rqid < VSCSIIF_MAX_REQS && this._state !== "error"; rqid++) {
      if ((this.freeBits & (1 << rqid)) !== 0) continue;
      const rsp = this.rsp;
      rsp.rqid = rqid;
      rsp.rslt = RESUME_RSLT;
      rsp.senseLen = 0;
      rsp.residualLen = 0;
      this.completeResponse();
      reset++;
    }
    if (this._state === "error") return reset;
    this.disconnect();
    return reset;
  }

  /**
   * The suspended frontend as data, for a kernel saved to resume elsewhere: its old ring's
   * private indexes and every command holding an rqid. Nothing changes here.
   */
  saveInFlight(): SavedFrontend {
    if (!this.paused) throw invalidState("scsifront", "save while not suspended");
    const inFlight: SavedCommand[] = [];
    for (let rqid = 0; rqid < VSCSIIF_MAX_REQS; rqid++) {
      const sh = this.shadows[rqid]!;
      if (sh.inflight && sh.cmd !== null) inFlight.push(sh.cmd.toSaved(rqid));
    }
    return {
      reqProdPvt: this.front?.reqProdPvt ?? 0,
      rspCons: this.front?.rspCons ?? 0,
      sgTables: this.sgTables,
      inFlight,
      descFrames: this.shadows.map((sh) => [...sh.descFrames]),
    };
  }

  /**
   * The other half: this (new) frontend takes over a saved one's old ring page — `FRONT_RING_ATTACH`
   * at the saved private indexes, the page's bytes being the memory image's — with `commands`
   * (rebuilt from `saved.inFlight`, in order) holding their rqids again, paused, so that
   * {@link finishAllForResume} drains what the old backend answered and resets the rest. Their
   * grants are not carried (Xen does not migrate grant entries): they have none to end.
   */
  restoreInFlight(sring: SharedRing, saved: SavedFrontend, commands: readonly FrontCommand[]): void {
    if (this._state !== "disconnected") throw invalidState("scsifront", `restore while ${this._state}`);
    if (commands.length !== saved.inFlight.length)
      throw invalidArgument("commands", `${saved.inFlight.length} commands`, commands.length);
    const front = FrontRing.attach(sring, 0);
    front.reqProdPvt = saved.reqProdPvt >>> 0;
    front.rspCons = saved.rspCons >>> 0;
    this.front = front;
    this.batch = new PublishBatch(sring.size);
    this.unpushed = 0;
    this._state = "connected";
    this.paused = true;
    this.sgTables = saved.sgTables;
    saved.descFrames.forEach((frames, rqid) => {
      const sh = this.shadows[rqid];
      if (sh !== undefined) sh.descFrames.push(...frames);
    });
    saved.inFlight.forEach((s, i) => {
      const rqid = s.rqid;
      const sh = this.shadows[rqid];
      if (sh === undefined || sh.inflight) throw invalidArgument("saved rqid", "a free rqid below 16", rqid);
      const cmd = commands[i]!;
      sh.cmd = cmd;
      sh.inflight = true;
      sh.nRefs = 0;
      cmd.rqid = rqid;
      this.freeBits &= ~(1 << rqid);
      this.inFlight++;
    });
  }

  /**
   * The shared ring, for protocol tests that write the guest's own ring page by hand (a hostile
   * frontend: `req_prod` pushed past the ring); null when not connected.
   */
  get sharedRing(): SharedRing | null {
    return this.front?.sring ?? null;
  }

  /** Notify the backend (after writing the ring by hand). */
  kick(): void {
    this.notifier.notify();
  }

  /**
   * The grant refs of commands the error state failed while the backend may still map them:
   * handed over (and forgotten here) so that the driver ends each once the backend lets go, as
   * Linux's `gnttab_end_foreign_access` defers the end. Without this they stayed granted for
   * good (found by the whole-system simulator: `pvscsi sim --scenario system-xs-conflicts
   * --seed 15`). Their pages are still never reused.
   */
  takeOrphanGrants(): number[] {
    return this.orphans.splice(0, this.orphans.length);
  }

  /** Put the host in the error state from outside (the backend went away): see `setError`. */
  fail(reason: string): void {
    this.setError(reason);
  }

  /**
   * Grant the data pages into `shadow.sg`, and when more than 26 are needed write their
   * descriptors into the guest's own indirect pages and grant those read-only (Linux
   * `map_data_for_request`).
   */
  private mapData(cmd: FrontCommand, shadow: Shadow, pages: number): boolean {
    const readonly = cmd.direction === DMA_TO_DEVICE;
    const sg = shadow.sg;
    let remaining = cmd.length;
    for (let i = 0; i < pages; i++) {
      const ref = this.grants.grantAccess(cmd.frames[i]!, readonly);
      if (ref < 0) return this.unwindGrants(shadow);
      shadow.refs[shadow.nRefs++] = ref;
      const off = i === 0 ? cmd.offset : 0;
      const bytes = Math.min(remaining, VSCSIIF_PAGE_SIZE - off);
      remaining -= bytes;
      sg.push(ref, off, bytes);
    }
    if (pages > VSCSIIF_SG_TABLESIZE) {
      const descPages = indirectPages(pages);
      while (shadow.descFrames.length < descPages) {
        const f = this.memory.allocFrame();
        if (f < 0) return this.unwindGrants(shadow);
        shadow.descFrames.push(f);
      }
      const mem = this.memory.bytes;
      for (let d = 0; d < descPages; d++) {
        const from = d * VSCSIIF_SG_PER_PAGE;
        const n = Math.min(pages - from, VSCSIIF_SG_PER_PAGE);
        writeIndirectSegments(mem, shadow.descFrames[d]! * VSCSIIF_PAGE_SIZE, sg, from, n);
      }
      for (let d = 0; d < descPages; d++) {
        const ref = this.grants.grantAccess(shadow.descFrames[d]!, true);
        if (ref < 0) return this.unwindGrants(shadow);
        shadow.refs[shadow.nRefs++] = ref;
      }
    }
    return true;
  }

  /**
   * Write `seg[]` and `nr_segments`: the data segments themselves, or with `VSCSIIF_SG_GRANT` one
   * segment per indirect page covering its descriptors. Returns the `seg[]` entries used.
   */
  private fillSegments(shadow: Shadow): number {
    const req = this.req;
    const pages = shadow.sg.count;
    req.nrSegments = 0;
    if (pages === 0) return 0;
    if (pages > VSCSIIF_SG_TABLESIZE) {
      const descPages = shadow.nRefs - pages;
      for (let d = 0; d < descPages; d++) {
        const n = Math.min(pages - d * VSCSIIF_SG_PER_PAGE, VSCSIIF_SG_PER_PAGE);
        req.setSeg(d, shadow.refs[pages + d]!, 0, n * SEGMENT_SIZE);
      }
      req.nrSegments = VSCSIIF_SG_GRANT | descPages;
      return descPages;
    }
    writeRequestSegments(req, shadow.sg, 0, pages);
    req.nrSegments = pages;
    return pages;
  }

  private unwindGrants(shadow: Shadow): false {
    for (let i = 0; i < shadow.nRefs; i++) this.grants.endAccess(shadow.refs[i]!);
    shadow.nRefs = 0;
    return false;
  }

  /** Handle `this.rsp`; false when the host entered the error state. */
  private completeResponse(): boolean {
    const rsp = this.rsp;
    const rqid = rsp.rqid;
    const shadow = rqid < VSCSIIF_MAX_REQS ? this.shadows[rqid]! : null;
    if (shadow === null || !shadow.inflight || shadow.cmd === null) {
      this.setError("illegal rqid returned by backend!");
      return false;
    }
    const cmd = shadow.cmd;
    // Grants first (XSA-396: `gnttab_try_end_foreign_access`): one still mapped is a broken backend.
    let ok = true;
    for (let i = 0; i < shadow.nRefs; i++) {
      if (!this.grants.endAccess(shadow.refs[i]!)) {
        ok = false;
        break;
      }
    }
    shadow.nRefs = 0;
    shadow.inflight = false;
    shadow.cmd = null;
    this.freeBits |= 1 << rqid;
    this.inFlight--;
    this.traceComplete(rqid, rsp.rslt);
    cmd.rqid = -1;
    cmd.rslt = rsp.rslt;
    cmd.status = rsltStatus(rsp.rslt);
    cmd.host = scsifrontHostByte(rsltHost(rsp.rslt));
    cmd.residual = rsp.residualLen;
    const n = Math.min(rsp.senseLen, VSCSIIF_SENSE_BUFFERSIZE);
    cmd.sense.fill(0);
    for (let i = 0; i < n; i++) cmd.sense[i] = rsp.senseBuffer[i]!;
    cmd.senseLength = n;
    if (!ok) this.setError("grant still in use by backend");
    cmd.onComplete?.(cmd);
    return ok;
  }

  private traceComplete(rqid: number, rslt: number): void {
    const t = tracer;
    const sring = this.front?.sring;
    if (t !== null && sring !== undefined && sring.traceDomid >= 0)
      t.record(TraceKind.RequestComplete, sring.traceDomid, sring.traceDevid, rqid, rslt);
  }

  private failAtOnce(cmd: FrontCommand, host: number): void {
    cmd.rqid = -1;
    cmd.rslt = host << 16;
    cmd.status = 0;
    cmd.host = host;
    cmd.residual = cmd.length;
    cmd.senseLength = 0;
    cmd.onComplete?.(cmd);
  }

  /**
   * STATE_ERROR (Linux `scsifront_set_error`): permanent. Commands in flight are failed with
   * DID_ERROR so callers are not left waiting (Linux leaves that to the midlayer's timeouts and
   * error handler, which end the same way); their grants are not reused, since the backend may
   * still hold them.
   */
  private setError(reason: string): void {
    if (this._state === "error") return;
    this._state = "error";
    this.errorReason = reason;
    debug("backend dom%d: %s; host disabled", this.backendDomid, reason);
    for (const shadow of this.shadows) {
      const cmd = shadow.cmd;
      if (!shadow.inflight || cmd === null) continue;
      shadow.inflight = false;
      shadow.cmd = null;
      for (let i = 0; i < shadow.nRefs; i++) this.orphans.push(shadow.refs[i]!);
      shadow.nRefs = 0;
      this.inFlight--;
      this.traceComplete(cmd.rqid, DID_ERROR << 16);
      this.failAtOnce(cmd, DID_ERROR);
    }
  }
}
