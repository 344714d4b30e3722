import { TraceKind } from "../trace/trace-buffer.js";
import { tracer } from "../trace/tracer.js";
import type { RingEntry } from "./entry.js";
import type { SharedRing } from "./shared-ring.js";

/**
 * The backend's private half of a ring (`struct X_back_ring`): it consumes requests and produces
 * responses. The backend never initialises the shared page; the frontend does.
 */
export class BackRing {
  /** Next response slot to fill; published by {@link pushResponses}. */
  rspProdPvt: number;
  /** Next request to consume. */
  reqCons: number;
  readonly sring: SharedRing;

  private constructor(sring: SharedRing, start: number) {
    this.sring = sring;
    this.rspProdPvt = start >>> 0;
    this.reqCons = start >>> 0;
  }

  /** `BACK_RING_INIT`: private indices 0; the shared page is left as the frontend set it. */
  static init(sring: SharedRing): BackRing {
    return new BackRing(sring, 0);
  }

  /** `BACK_RING_ATTACH`: both private indices at `start`. */
  static attach(sring: SharedRing, start: number): BackRing {
    return new BackRing(sring, start);
  }

  /** `RING_SIZE`. */
  get size(): number {
    return this.sring.size;
  }

  /**
   * `RING_HAS_UNCONSUMED_REQUESTS` (`XEN_RING_NR_UNCONSUMED_REQUESTS`):
   * `min(req_prod - req_cons, RING_SIZE - (req_cons - rsp_prod_pvt))`, so a frontend that claims
   * too many requests is never trusted for more than the free slots.
   */
  unconsumedRequests(): number {
    const req = (this.sring.reqProd - this.reqCons) >>> 0;
    const rsp = (this.sring.size - ((this.reqCons - this.rspProdPvt) >>> 0)) >>> 0;
    return Math.min(req, rsp);
  }

  /**
   * `RING_FINAL_CHECK_FOR_REQUESTS`: if nothing is pending, re-arm `req_event = req_cons + 1` and
   * look again. Returns the unconsumed count; 0 means the backend may sleep until notified.
   */
  finalCheckForRequests(): number {
    let work = this.unconsumedRequests();
    if (work !== 0) return work;
    // Store only a changed value: a polling peer re-arms constantly, and a store, even of the same
    // value, takes the cache line the producer is writing its index to.
    const event = (this.reqCons + 1) >>> 0;
    if (this.sring.reqEvent !== event) this.sring.reqEvent = event;
    work = this.unconsumedRequests();
    return work;
  }

  /**
   * `RING_REQUEST_PROD_OVERFLOW`: more than `RING_SIZE` requests outstanding is impossible for an
   * honest frontend. Callers treat it as a hostile frontend (scsiback halts the ring for good).
   */
  requestProdOverflow(prod: number): boolean {
    return (prod - this.rspProdPvt) >>> 0 > this.sring.size;
  }

  /**
   * `RING_REQUEST_CONS_OVERFLOW`: the loop stop. With a ring's worth of requests unanswered,
   * consuming `cons` would read a slot whose response is not yet written.
   */
  requestConsOverflow(cons: number): boolean {
    return (cons - this.rspProdPvt) >>> 0 >= this.sring.size;
  }

  /** `RING_COPY_REQUEST`: copy the request at `idx` once into private memory (XSA-155). */
  copyRequest(idx: number, dst: RingEntry): void {
    this.sring.copyOut(idx, dst);
  }

  /** `RING_GET_RESPONSE(rsp_prod_pvt)`: byte offset of the next response slot in `sring.bytes`. */
  nextResponseSlot(): number {
    return this.sring.slotOffset(this.rspProdPvt);
  }

  /**
   * `RING_GET_RESPONSE(rsp_prod_pvt++)`: the byte offset, in `sring.bytes`, of the next response
   * slot, which the caller now owns and must write whole (a codec writing field by field);
   * `rsp_prod_pvt` advances (not yet published).
   */
  claimResponseSlot(): number {
    const off = this.sring.slotOffset(this.rspProdPvt);
    this.rspProdPvt = (this.rspProdPvt + 1) >>> 0;
    return off;
  }

  /** Write `rsp` (all of it) into the next response slot and advance `rsp_prod_pvt`. */
  putResponse(rsp: RingEntry): void {
    this.sring.copyIn(this.rspProdPvt, rsp);
    this.rspProdPvt = (this.rspProdPvt + 1) >>> 0;
  }

  /** `RING_PUSH_RESPONSES`. */
  pushResponses(): void {
    this.sring.rspProd = this.rspProdPvt;
  }

  /** `RING_PUSH_RESPONSES_AND_CHECK_NOTIFY`: notify iff `rsp_event` lies in `(old, new]`. */
  pushResponsesAndCheckNotify(): boolean {
    const sring = this.sring;
    const oldProd = sring.rspProd;
    const newProd = this.rspProdPvt;
    sring.rspProd = newProd;
    const event = sring.rspEvent;
    const notify = (newProd - event) >>> 0 < (newProd - oldProd) >>> 0;
    const t = tracer;
    if (t !== null && sring.traceDomid >= 0)
      t.record(
        notify ? TraceKind.NotifySent : TraceKind.NotifySuppressed,
        sring.traceDomid,
        sring.traceDevid,
        1,
        newProd,
        oldProd,
        event,
      );
    return notify;
  }
}
