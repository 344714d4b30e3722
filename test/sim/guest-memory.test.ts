/**
 * Guest memory is a scenario field (`guestFrames`): a guest short of frames defers commands
 * instead of failing the run, and a bad value is refused up front naming the field.
 */
import { describe, expect, it } from "vitest";
import { runSim } from "../../src/sim/run.js";
import { checkScenario, DEFAULT_GUEST_FRAMES, SCENARIOS } from "../../src/sim/scenario.js";

describe("guest memory (guestFrames)", () => {
  it("a guest with too few frames for large transfers defers them and keeps every invariant", () => {
    const s = { ...SCENARIOS["indirect-io"]!, guestFrames: 12 };
    let deferred = 0;
    for (let seed = 1; seed <= 5; seed++) {
      const r = runSim(s, seed);
      expect(r.violation, `seed ${seed}`).toBeNull();
      deferred += r.trace.filter((l) => l.includes("deferred: guest out of memory")).length;
    }
    expect(deferred).toBeGreaterThan(0);
  });

  it("more memory than the default changes nothing but the allocator's room", () => {
    const s = SCENARIOS["io-verify"]!;
    const a = runSim(s, 3);
    const b = runSim({ ...s, guestFrames: DEFAULT_GUEST_FRAMES }, 3);
    expect(b.traceDigest).toBe(a.traceDigest);
    expect(runSim({ ...s, guestFrames: 4096 }, 3).violation).toBeNull();
  });

  it("refuses a value that is not a whole number of at least 3 frames", () => {
    for (const f of [0, 2, 2.5, -1, Number.NaN]) {
      expect(() => checkScenario({ ...SCENARIOS["io-verify"]!, guestFrames: f })).toThrow(/guestFrames/);
    }
  });
});
