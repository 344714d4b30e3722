import { describe, expect, it } from "vitest";
import { PUBLISH_BATCH_MIN, PUBLISH_BATCH_START, PublishBatch } from "../../src/ring/index.js";

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
