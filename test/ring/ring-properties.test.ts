import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BackRing, FrontRing, RingEntry, SharedRing } from "../../src/ring/index.js";

/**
 * Any interleaving of producer and consumer operations, from any starting index (including just
 * below 2^32), keeps the ring's contract: requests come out in order and exactly once, never
 * more than RING_SIZE are outstanding, and a push notifies exactly when the peer's event index
 * lies in (old, new].
 */

const ENTRY = 12; // any entry size works; the ring is generic
type Op =
  | { k: "produce"; n: number }
  | { k: "push"; notify: boolean }
  | { k: "consume"; max: number }
  | { k: "respond"; n: number }
  | { k: "rpush"; notify: boolean }
  | { k: "fconsume" }
  | { k: "bfinal" }
  | { k: "ffinal" };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant("produce" as const), n: fc.integer({ min: 1, max: 20 }) }),
  fc.record({ k: fc.constant("push" as const), notify: fc.boolean() }),
  fc.record({ k: fc.constant("consume" as const), max: fc.integer({ min: 1, max: 20 }) }),
  fc.record({ k: fc.constant("respond" as const), n: fc.integer({ min: 1, max: 20 }) }),
  fc.record({ k: fc.constant("rpush" as const), notify: fc.boolean() }),
  fc.constant({ k: "fconsume" as const }),
  fc.constant({ k: "bfinal" as const }),
  fc.constant({ k: "ffinal" as const }),
);

const startArb = fc.oneof(
  fc.integer({ min: 0, max: 0xffffffff }),
  fc.integer({ min: 0xffffffff - 40, max: 0xffffffff }),
  fc.constant(0),
);

/** `event` lies in the half-open interval (old, new] modulo 2^32, computed without the ring's formula. */
function inWindow(event: number, oldIdx: number, newIdx: number): boolean {
  const d = (event - oldIdx) >>> 0;
  return d >= 1 && d <= (newIdx - oldIdx) >>> 0;
}

function simulate(
  pages: number,
  start: number,
  ops: readonly Op[],
): { produced: number; consumed: number; answered: number } {
  const buf = new SharedArrayBuffer(pages * 4096);
  const sring = new SharedRing(buf, 0, pages * 4096, ENTRY);
  sring.init();
  sring.reqProd = sring.rspProd = start;
  sring.reqEvent = sring.rspEvent = (start + 1) >>> 0;
  const front = FrontRing.attach(sring, start);
  const back = BackRing.attach(sring, start);
  const e = new RingEntry(ENTRY);
  const view = new DataView(e.buffer);

  let nextSeq = 0; // sequence number written into each request
  let expectSeq = 0; // next sequence the backend must see
  const unanswered: number[] = []; // consumed, not yet responded
  let responsesOut = 0; // responses produced by the back
  let responsesIn = 0; // responses consumed by the front
  let backAsleep = false; // the back's final check found nothing: it waits for a notify
  let frontAsleep = false;

  for (const op of ops) {
    switch (op.k) {
      case "produce":
        for (let i = 0; i < op.n && !front.full(); i++) {
          view.setUint32(0, nextSeq++, true);
          front.putRequest(e);
        }
        break;
      case "push": {
        const oldIdx = sring.reqProd;
        const event = sring.reqEvent;
        const newIdx = front.reqProdPvt;
        if (op.notify) {
          const notify = front.pushRequestsAndCheckNotify();
          expect(notify).toBe(inWindow(event, oldIdx, newIdx));
          // No lost wake-up: a sleeping backend is notified of any new request.
          if (backAsleep && newIdx !== oldIdx) expect(notify).toBe(true);
          if (notify) backAsleep = false;
        } else {
          front.pushRequests();
          if (newIdx !== oldIdx) backAsleep = false; // a polling backend would see it; stop asserting
        }
        break;
      }
      case "consume": {
        const rp = sring.reqProd;
        expect(back.requestProdOverflow(rp)).toBe(false);
        let rc = back.reqCons;
        let n = 0;
        while (rc !== rp && n < op.max) {
          expect(back.requestConsOverflow(rc)).toBe(false);
          back.copyRequest(rc, e);
          expect(view.getUint32(0, true)).toBe(expectSeq++);
          unanswered.push(expectSeq - 1);
          rc = (rc + 1) >>> 0;
          back.reqCons = rc;
          n++;
        }
        break;
      }
      case "respond":
        for (let i = 0; i < op.n && unanswered.length > 0; i++) {
          view.setUint32(0, unanswered.shift()!, true);
          back.putResponse(e);
          responsesOut++;
        }
        break;
      case "rpush": {
        const oldIdx = sring.rspProd;
        const event = sring.rspEvent;
        const newIdx = back.rspProdPvt;
        if (op.notify) {
          const notify = back.pushResponsesAndCheckNotify();
          expect(notify).toBe(inWindow(event, oldIdx, newIdx));
          if (frontAsleep && newIdx !== oldIdx) expect(notify).toBe(true);
          if (notify) frontAsleep = false;
        } else {
          back.pushResponses();
          if (newIdx !== oldIdx) frontAsleep = false;
        }
        break;
      }
      case "fconsume": {
        const rp = sring.rspProd;
        expect(front.responseProdOverflow(rp)).toBe(false);
        while (front.rspCons !== rp) {
          front.copyResponse(front.rspCons, e);
          front.rspCons = (front.rspCons + 1) >>> 0;
          responsesIn++;
        }
        break;
      }
      case "bfinal":
        if (back.finalCheckForRequests() === 0) backAsleep = true;
        break;
      case "ffinal":
        if (front.finalCheckForResponses() === 0) frontAsleep = true;
        break;
    }
    // Invariants after every step.
    const outstanding = (front.reqProdPvt - front.rspCons) >>> 0;
    expect(outstanding).toBeLessThanOrEqual(sring.size);
    expect(front.freeRequests()).toBe(sring.size - outstanding);
    expect(responsesIn).toBeLessThanOrEqual(responsesOut);
    expect(expectSeq).toBeLessThanOrEqual(nextSeq);
  }
  return { produced: nextSeq, consumed: expectSeq, answered: responsesIn };
}

describe("ring properties under arbitrary interleavings", () => {
  it("in-order exactly-once delivery, bounded outstanding, exact notify window (1 page)", () => {
    fc.assert(
      fc.property(startArb, fc.array(opArb, { maxLength: 200 }), (start, ops) => {
        simulate(1, start, ops);
      }),
      { numRuns: 400 },
    );
  });

  it("the same holds for 2-, 4- and 8-page rings", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(2, 4, 8),
        startArb,
        fc.array(opArb, { maxLength: 300 }),
        (pages, start, ops) => {
          simulate(pages, start, ops);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("every request produced is eventually consumed exactly once when the consumer drains", () => {
    fc.assert(
      fc.property(
        startArb,
        fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 50 }),
        (start, batches) => {
          const ops: Op[] = [];
          for (const n of batches) {
            ops.push({ k: "produce", n }, { k: "push", notify: true }, { k: "consume", max: 1000 });
            ops.push({ k: "respond", n: 1000 }, { k: "rpush", notify: true }, { k: "fconsume" });
          }
          const r = simulate(1, start, ops);
          expect(r.consumed).toBe(r.produced);
          expect(r.answered).toBe(r.produced);
        },
      ),
      { numRuns: 200 },
    );
  });
});
