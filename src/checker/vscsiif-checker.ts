import {
  VSCSIIF_ACT_SCSI_ABORT,
  VSCSIIF_ACT_SCSI_CDB,
  VSCSIIF_ACT_SCSI_RESET,
  VSCSIIF_SG_GRANT,
  VSCSIIF_SG_TABLESIZE,
} from "../vscsiif/constants.js";
import { GTF_permit_access, GTF_readonly, GTF_type_mask } from "../xen/grant-constants.js";
import { GE_DOMID_SHIFT, GE_W_COMBO, GRANT_ENTRY_WORDS } from "../xen/grant-layout.js";
import { SRING_REQ_EVENT, SRING_REQ_PROD, SRING_RING, SRING_RSP_PROD } from "../xen/sring-layout.js";
import { VSCSIIF_ENTRY_SIZE, VSCSIIF_MAX_REQS, vscsiifRequestLayout } from "../xen/vscsiif-layout.js";

/** The rules a vscsiif frontend can break that {@link VscsiifFrontChecker} sees. */
export type VscsiifRule =
  /** More requests published than the ring has free slots (`req_prod - rsp_prod > RING_SIZE`). */
  | "ring-overflow"
  /** A request reuses the `rqid` of one still in flight (no response yet). */
  | "rqid-in-flight"
  /** Requests pushed past `req_event` without an event: the backend asked to be told. */
  | "missing-notify"
  /** A segment names a grant the backend cannot use (not granted, to another domain, or read-only for data in). */
  | "grant-not-usable"
  /** A grant ended (tried) while the backend still maps it (XSA-396: the page must not be reused). */
  | "end-while-mapped";

/** One violation: the rule, the request it concerns, and what happened. */
export interface VscsiifViolation {
  readonly rule: VscsiifRule;
  /** The request's `rqid`, when one request is at fault. */
  readonly rqid: number | null;
  /** The ring index (`req_prod` value) of that request, when known. */
  readonly index: number | null;
  readonly message: string;
}

/** Where a {@link VscsiifFrontChecker} looks. */
export interface VscsiifFrontCheckerOptions {
  /** The frontend domain's memory. */
  readonly memory: Uint8Array;
  /** Byte offset of the shared ring page in `memory`. */
  readonly ringOffset: number;
  /** The frontend's grant table (`grant_entry_v1[]` as words). */
  readonly grantTable: Int32Array;
  /** The backend's domain id (who the grants must name). */
  readonly backendDomid: number;
  /** Ring slots (16 for one page). */
  readonly slots?: number;
  /** Violations kept (later ones counted, not stored); default 100. */
  readonly limit?: number;
}

const OFF_RQID = vscsiifRequestLayout.fields.rqid.offset;
const OFF_ACT = vscsiifRequestLayout.fields.act.offset;
const OFF_DIR = vscsiifRequestLayout.fields.sc_data_direction.offset;
const OFF_NSEG = vscsiifRequestLayout.fields.nr_segments.offset;
const OFF_SEG = vscsiifRequestLayout.fields.seg.offset;
const OFF_CMND = vscsiifRequestLayout.fields.cmnd.offset;
const SEG_SIZE = 8;
const DMA_FROM_DEVICE = 2;

/**
 * A protocol checker for a vscsiif frontend, reading only the shared state: the ring page, the
 * frontend's grant table, and what it is told about notifications. Call {@link observe} after
 * every step of the frontend (a pass of its event loop), {@link notified} when it sends an event
 * on the ring's port, {@link endedWhileMapped} when a try-end of one of its grants failed. Each
 * broken rule becomes a {@link VscsiifViolation} naming the request and the rule.
 *
 * Sans-IO and driver-agnostic: it serves a C driver running as a wasm kernel and pvscsi's own
 * TypeScript scsifront alike. `missing-notify` is exact when the checker runs in the frontend's
 * thread with the backend stopped in between (single-thread mode); with a backend running
 * concurrently it may be late to see `req_event` move.
 */
export class VscsiifFrontChecker {
  /** What was broken, oldest first (at most `limit`). */
  readonly violations: VscsiifViolation[] = [];
  /** Every violation seen, including those past `limit`. */
  total = 0;
  /** Requests looked at so far. */
  requests = 0;
  private readonly memory: Uint8Array;
  private readonly dv: DataView;
  private readonly ring: number;
  private readonly gt: Int32Array;
  private readonly backend: number;
  private readonly slots: number;
  private readonly limit: number;
  private lastReq: number;
  private lastRsp: number;
  private notifiedSince = false;
  private overflowAt = -1;
  /** rqid -> ring index of the request in flight with it. */
  private readonly inFlight = new Map<number, number>();
  /** rqid -> responses seen in the current look. */
  private readonly answered = new Map<number, number>();
  /** gref -> rqid of the in-flight request that uses it. */
  private readonly grefUse = new Map<number, number>();

  constructor(o: VscsiifFrontCheckerOptions) {
    this.memory = o.memory;
    this.dv = new DataView(o.memory.buffer, o.memory.byteOffset, o.memory.byteLength);
    this.ring = o.ringOffset;
    this.gt = o.grantTable;
    this.backend = o.backendDomid;
    this.slots = o.slots ?? VSCSIIF_MAX_REQS;
    this.limit = o.limit ?? 100;
    this.lastReq = this.u32(SRING_REQ_PROD);
    this.lastRsp = this.u32(SRING_RSP_PROD);
  }

  /** The frontend sent an event on the ring's port. */
  notified(): void {
    this.notifiedSince = true;
  }

  /** The frontend tried to end `ref` and the backend still maps it. */
  endedWhileMapped(ref: number): void {
    const rqid = this.grefUse.get(ref) ?? null;
    this.report(
      "end-while-mapped",
      rqid,
      rqid === null ? null : (this.inFlight.get(rqid) ?? null),
      `ended grant ref ${ref} while dom${this.backend} still maps it${
        rqid === null ? "" : ` (request rqid ${rqid} has no response yet)`
      }: gnttab_end_access refused (XSA-396); the page must not be reused until it succeeds`,
    );
  }

  /** Look at the ring and grant table now; returns how many new violations were found. */
  observe(): number {
    const before = this.total;
    // Responses published since the last look, counted per rqid: between two looks a request may
    // have been answered and its rqid reused, which is legal; only a reuse with no answer is not.
    const rspProd = this.u32(SRING_RSP_PROD);
    const answered = this.answered;
    answered.clear();
    for (let i = this.lastRsp, n = 0; i !== rspProd && n < 4 * this.slots; i = (i + 1) >>> 0, n++) {
      const rqid = this.dv.getUint16(this.entry(i) + OFF_RQID, true);
      answered.set(rqid, (answered.get(rqid) ?? 0) + 1);
    }
    this.lastRsp = rspProd;
    const reqProd = this.u32(SRING_REQ_PROD);
    const pushed = (reqProd - this.lastReq) >>> 0;
    if (pushed !== 0) {
      const reqEvent = this.u32(SRING_REQ_EVENT);
      const outstanding = (reqProd - rspProd) >>> 0;
      if (outstanding > this.slots && this.overflowAt !== reqProd) {
        this.overflowAt = reqProd;
        this.report(
          "ring-overflow",
          null,
          reqProd,
          `req_prod ${reqProd} is ${outstanding} requests ahead of rsp_prod ${rspProd}, but the ring has ${this.slots} slots: ` +
            "requests were written over ones the backend has not answered (check RING_FULL before RING_GET_REQUEST)",
        );
      }
      for (let i = this.lastReq, n = 0; i !== reqProd && n < this.slots; i = (i + 1) >>> 0, n++)
        this.request(i);
      // RING_PUSH_REQUESTS_AND_CHECK_NOTIFY: notify iff req_event lies in (old, new].
      if ((reqProd - reqEvent) >>> 0 < pushed && !this.notifiedSince) {
        this.report(
          "missing-notify",
          null,
          reqProd,
          `pushed requests ${this.lastReq}..${(reqProd - 1) >>> 0} past req_event ${reqEvent} without an event: ` +
            "the backend asked to be notified (RING_PUSH_REQUESTS_AND_CHECK_NOTIFY said notify) and may sleep forever",
        );
      }
      this.lastReq = reqProd;
    }
    this.notifiedSince = false;
    for (const [rqid] of answered) this.complete(rqid);
    return this.total - before;
  }

  private complete(rqid: number): void {
    this.inFlight.delete(rqid);
    for (const [g, r] of this.grefUse) if (r === rqid) this.grefUse.delete(g);
  }

  private request(index: number): void {
    this.requests++;
    const e = this.entry(index);
    const rqid = this.dv.getUint16(e + OFF_RQID, true);
    const act = this.memory[e + OFF_ACT]!;
    const prev = this.inFlight.get(rqid);
    const answers = this.answered.get(rqid) ?? 0;
    if (prev !== undefined && answers > 0) {
      // Answered since the last look: the reuse is legal.
      this.answered.set(rqid, answers - 1);
      if (answers === 1) this.answered.delete(rqid);
      this.complete(rqid);
    } else if (prev !== undefined) {
      this.report(
        "rqid-in-flight",
        rqid,
        index,
        `request at ring index ${index} (${actName(act)}) reuses rqid ${rqid}, still in flight since index ${prev}: ` +
          "the backend cannot tell their responses apart",
      );
    }
    this.inFlight.set(rqid, index);
    if (act !== VSCSIIF_ACT_SCSI_CDB) return;
    const nseg = this.memory[e + OFF_NSEG]!;
    const dataIn = this.memory[e + OFF_DIR] === DMA_FROM_DEVICE;
    const op = `0x${this.memory[e + OFF_CMND]!.toString(16).padStart(2, "0")}`;
    if ((nseg & VSCSIIF_SG_GRANT) !== 0) {
      const pages = nseg & ~VSCSIIF_SG_GRANT;
      for (let d = 0; d < pages && d < VSCSIIF_SG_TABLESIZE; d++) {
        const gref = this.dv.getUint32(e + OFF_SEG + d * SEG_SIZE, true);
        this.checkGrant(gref, false, rqid, index, `${op} indirect page ${d}`);
      }
      return;
    }
    for (let s = 0; s < nseg && s < VSCSIIF_SG_TABLESIZE; s++) {
      const gref = this.dv.getUint32(e + OFF_SEG + s * SEG_SIZE, true);
      this.checkGrant(gref, dataIn, rqid, index, `${op} segment ${s}`);
    }
  }

  private checkGrant(gref: number, needWrite: boolean, rqid: number, index: number, where: string): void {
    this.grefUse.set(gref, rqid);
    const entries = this.gt.length / GRANT_ENTRY_WORDS;
    let why = "";
    if (gref >= entries) why = `is past the grant table's ${entries} entries`;
    else {
      const combo = Atomics.load(this.gt, gref * GRANT_ENTRY_WORDS + GE_W_COMBO);
      const flags = combo & 0xffff;
      const domid = combo >>> GE_DOMID_SHIFT;
      if ((flags & GTF_type_mask) !== GTF_permit_access) why = "is not granted (GTF_permit_access unset)";
      else if (domid !== this.backend) why = `is granted to dom${domid}, not the backend dom${this.backend}`;
      else if (needWrite && (flags & GTF_readonly) !== 0)
        why = "is read-only, but the device writes into it (DMA_FROM_DEVICE)";
    }
    if (why !== "")
      this.report("grant-not-usable", rqid, index, `request rqid ${rqid} (${where}): gref ${gref} ${why}`);
  }

  private report(rule: VscsiifRule, rqid: number | null, index: number | null, message: string): void {
    this.total++;
    if (this.violations.length < this.limit)
      this.violations.push({ rule, rqid, index, message: `${rule}: ${message}` });
  }

  private u32(off: number): number {
    return this.dv.getUint32(this.ring + off, true);
  }

  private entry(index: number): number {
    return this.ring + SRING_RING + (index % this.slots) * VSCSIIF_ENTRY_SIZE;
  }
}

function actName(act: number): string {
  switch (act) {
    case VSCSIIF_ACT_SCSI_CDB:
      return "CDB";
    case VSCSIIF_ACT_SCSI_ABORT:
      return "ABORT";
    case VSCSIIF_ACT_SCSI_RESET:
      return "RESET";
    default:
      return `act ${act}`;
  }
}
