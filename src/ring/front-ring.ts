import { TraceKind } from "../trace/trace-buffer.js";
import { tracer } from "../trace/tracer.js";
import type { RingEntry } from "./entry.js";
import type { SharedRing } from "./shared-ring.js";

/**
 * The frontend's private half of a ring (`struct X_front_ring`): it produces requests and
 * consumes responses. All index arithmetic is modulo 2^32, as with C's `RING_IDX`.
 */
export class FrontRing {
  /** Next request slot to fill; published by {@link pushRequests}. */
  reqProdPvt: number;
  /** Next response to consume. */
  rspCons: number;
  readonly sring: SharedRing;

  private constructor(sring: SharedRing, start: number) {
    this.sring = sring;
    this.reqProdPvt = start >>> 0;
    this.rspCons = start >>> 0;
  }

  /** `XEN_FRONT_RING_INIT`: `SHARED_RING_INIT` then `FRONT_RING_INIT` (private indices 0). */
  static init(sring: SharedRing): FrontRing {
    sring.init();
    return new FrontRing(sring, 0);
  }

  /** `FRONT_RING_ATTACH`: take over a live shared ring with both private indices at `start`. */
  static attach(sring: SharedRing, start: number): FrontRing {
    return new FrontRing(sring, start);
  }

  /** `RING_SIZE`. */
  get size(): number {
    return this.sring.size;
  }

  /** `RING_FREE_REQUESTS`. */
  freeRequests(): number {
    return (this.sring.size - ((this.reqProdPvt - this.rspCons) >>> 0)) >>> 0;
  }

  /** `RING_FULL`. */
  full(): boolean {
    return this.freeRequests() === 0;
  }

  /** `RING_GET_REQUEST(req_prod_pvt)`: byte offset of the next request slot in `sring.bytes`. */
  nextRequestSlot(): number {
    return this.sring.slotOffset(this.reqProdPvt);
  }

  /**
   * `RING_GET_REQUEST(req_prod_pvt++)`: the byte offset, in `sring.bytes`, of the next request
   * slot, which the caller now owns and must write whole (a codec writing field by field);
   * `req_prod_pvt` advances (not yet published).
   */
  claimRequestSlot(): number {
    const off = this.sring.slotOffset(this.reqProdPvt);
    this.reqProdPvt = (this.reqProdPvt + 1) >>> 0;
    return off;
  }

  /** Write `req` into the next request slot and advance `req_prod_pvt` (not yet published). */
  putRequest(req: RingEntry): void {
    this.sring.copyIn(this.reqProdPvt, req);
    this.reqProdPvt = (this.reqProdPvt + 1) >>> 0;
  }

  /** `RING_PUSH_REQUESTS`: publish `req_prod_pvt` (the store orders the entries before it). */
  pushRequests(): void {
    this.sring.reqProd = this.reqProdPvt;
  }

  /**
   * `RING_PUSH_REQUESTS_AND_CHECK_NOTIFY`: publish, then report whether the backend asked to be
   * notified, i.e. whether `req_event` lies in `(old, new]`:
   * `(RING_IDX)(new - req_event) < (RING_IDX)(new - old)`.
   */
  pushRequestsAndCheckNotify(): boolean {
    const sring = this.sring;
    const oldProd = sring.reqProd;
    const newProd = this.reqProdPvt;
    sring.reqProd = newProd;
    // SC store then SC load: the backend sees the new index before we read its req_event (xen_mb).
    const event = sring.reqEvent;
    const notify = (newProd - event) >>> 0 < (newProd - oldProd) >>> 0;
    const t = tracer;
    if (t !== null && sring.traceDomid >= 0)
      t.record(
        notify ? TraceKind.NotifySent : TraceKind.NotifySuppressed,
        sring.traceDomid,
        sring.traceDevid,
        0,
        newProd,
        oldProd,
        event,
      );
    return notify;
  }

  /** `RING_HAS_UNCONSUMED_RESPONSES` (`XEN_RING_NR_UNCONSUMED_RESPONSES`): `rsp_prod - rsp_cons`. */
  unconsumedResponses(): number {
    return (this.sring.rspProd - this.rspCons) >>> 0;
  }

  /**
   * `RING_FINAL_CHECK_FOR_RESPONSES`: if nothing is pending, re-arm `rsp_event = rsp_cons + 1`
   * and look again, so a response pushed in between is not missed. Returns the unconsumed count.
   */
  finalCheckForResponses(): number {
    let work = this.unconsumedResponses();
    if (work !== 0) return work;
    // Store only a changed value: a polling peer re-arms constantly, and a store, even of the same
    // value, takes the cache line the producer is writing its index to.
    const event = (this.rspCons + 1) >>> 0;
    if (this.sring.rspEvent !== event) this.sring.rspEvent = event;
    work = this.unconsumedResponses();
    return work;
  }

  /**
   * `RING_RESPONSE_PROD_OVERFLOW`: can the backend's `rsp_prod` be true? More than `RING_SIZE`
   * unconsumed responses means a misbehaving backend.
   */
  responseProdOverflow(prod: number): boolean {
    return (prod - this.rspCons) >>> 0 > this.sring.size;
  }

  /** `RING_COPY_RESPONSE`: copy the response at `idx` once into private memory. */
  copyResponse(idx: number, dst: RingEntry): void {
    this.sring.copyOut(idx, dst);
  }
}
