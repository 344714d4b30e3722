import { describe, expect, it } from "vitest";
import {
  MODE_PARAMETERS_CHANGED,
  NOT_READY_TO_READY_CHANGE,
  POWER_ON_RESET_OCCURRED,
  REPORTED_LUNS_DATA_HAS_CHANGED,
} from "../../../src/scsi/sense.js";
import { UnitAttentionQueue } from "../../../src/targets/spc/unit-attention.js";

describe("UnitAttentionQueue", () => {
  it("is FIFO, ignores a condition already pending, and drops the newest when full", () => {
    const q = new UnitAttentionQueue();
    q.push(REPORTED_LUNS_DATA_HAS_CHANGED);
    q.push(MODE_PARAMETERS_CHANGED);
    q.push(REPORTED_LUNS_DATA_HAS_CHANGED);
    expect(q.count).toBe(2);
    for (let i = 0; i < 20; i++) q.push(0x062a00 + i);
    expect(q.count).toBe(UnitAttentionQueue.CAPACITY);
    expect(q.shift()).toBe(REPORTED_LUNS_DATA_HAS_CHANGED);
    expect(q.shift()).toBe(MODE_PARAMETERS_CHANGED);
    expect(q.peek()).toBe(0x062a00);
  });

  it("a reset replaces everything pending; later conditions queue behind it", () => {
    const q = new UnitAttentionQueue();
    q.push(MODE_PARAMETERS_CHANGED);
    q.push(POWER_ON_RESET_OCCURRED);
    q.push(NOT_READY_TO_READY_CHANGE);
    expect([q.shift(), q.shift(), q.shift()]).toEqual([
      POWER_ON_RESET_OCCURRED,
      NOT_READY_TO_READY_CHANGE,
      -1,
    ]);
  });

  it("removes one condition wherever it sits, keeping the order of the rest", () => {
    const q = new UnitAttentionQueue();
    for (let i = 0; i < 6; i++) {
      q.push(0x062a00 + i); // move the ring's head towards the end of the array
      q.shift();
    }
    q.push(MODE_PARAMETERS_CHANGED);
    q.push(REPORTED_LUNS_DATA_HAS_CHANGED);
    q.push(NOT_READY_TO_READY_CHANGE);
    q.remove(REPORTED_LUNS_DATA_HAS_CHANGED);
    expect([q.shift(), q.shift(), q.shift()]).toEqual([
      MODE_PARAMETERS_CHANGED,
      NOT_READY_TO_READY_CHANGE,
      -1,
    ]);
  });
});
