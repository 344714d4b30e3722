import { describe, expect, it } from "vitest";
import {
  FrontRing,
  PUBLISH_BATCH_MIN,
  PUBLISH_BATCH_START,
  PublishBatch,
  RingEntry,
  SharedRing,
} from "../../src/ring/index.js";

describe("PublishBatch: how many entries a producer writes before a push-and-check", () => {
  it("starts at 8 on a 16-entry ring and stays within [min, ring / 2]", () => {
    const b = new PublishBatch(16);
    expect([b.size, b.min, b.max]).toEqual([PUBLISH_BATCH_START, PUBLISH_BATCH_MIN, 8]);
    expect(b.due(7)).toBe(false);
    expect(b.due(8)).toBe(true);
    for (let i = 0; i < 10; i++) b.pushed(false);
    expect(b.size).toBe(8);
    for (let i = 0; i < 10; i++) b.pushed(true);
    expect(b.size).toBe(PUBLISH_BATCH_MIN);
  });

  it("halves when a push had to wake the consumer, grows by one when it was busy", () => {
    const b = new PublishBatch(64);
    expect(b.size).toBe(8);
    b.pushed(true);
    expect(b.size).toBe(4);
    b.pushed(false);
    b.pushed(false);
    expect(b.size).toBe(6);
    for (let i = 0; i < 100; i++) b.pushed(false);
    expect(b.size).toBe(32);
  });

  it("tiny rings publish every entry or two; bad sizes are refused", () => {
    expect(new PublishBatch(1).size).toBe(1);
    expect(new PublishBatch(2).size).toBe(1);
    expect(new PublishBatch(4).size).toBe(2);
    expect(() => new PublishBatch(0)).toThrow(/ringSize/);
    expect(() => new PublishBatch(1.5)).toThrow(/ringSize/);
  });
});

describe("batched pushes across the 2^32 wrap", () => {
  it("each push notifies exactly when req_event lies in (old, new], modulo 2^32", () => {
    const start = 2 ** 32 - 6;
    for (const event of [start, start + 1, 2 ** 32 - 1, 0, 1, 2, 3, 5, 6, 9, start - 1]) {
      const sring = new SharedRing(new SharedArrayBuffer(4096), 0, 4096, 64);
      sring.reqProd = start;
      sring.rspProd = start;
      sring.reqEvent = event >>> 0;
      const front = FrontRing.attach(sring, start);
      const batch = new PublishBatch(sring.size);
      const entry = new RingEntry(64);
      const pushes: Array<[number, number, boolean]> = [];
      let unpushed = 0;
      for (let i = 0; i < 12; i++) {
        front.putRequest(entry);
        if (batch.due(++unpushed) || i === 11) {
          const old = sring.reqProd;
          const notify = front.pushRequestsAndCheckNotify();
          batch.pushed(notify);
          unpushed = 0;
          pushes.push([old, sring.reqProd, notify]);
        }
      }
      expect(sring.reqProd).toBe((start + 12) >>> 0);
      // The pushes tile (start, start + 12] and the one covering req_event, if any, notifies.
      let covered = 0;
      for (const [old, now, notify] of pushes) {
        const inRange = (event - old - 1) >>> 0 < (now - old) >>> 0;
        expect(notify).toBe(inRange);
        covered += (now - old) >>> 0;
      }
      expect(covered).toBe(12);
      expect(pushes.filter((p) => p[2]).length).toBe((event - start - 1) >>> 0 < 12 ? 1 : 0);
    }
  });
});
