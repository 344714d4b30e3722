import { describe, expect, it } from "vitest";
import { defaultPollThreads, PollBudget } from "../../src/system/poll-budget.js";

describe("poll budget", () => {
  it("is the cores less one for the main thread, and never below one", () => {
    expect(defaultPollThreads(1)).toBe(1);
    expect(defaultPollThreads(2)).toBe(1);
    expect(defaultPollThreads(4)).toBe(3);
    expect(defaultPollThreads(64)).toBe(63);
    expect(defaultPollThreads()).toBeGreaterThanOrEqual(1);
  });

  it("grants places up to its size, not to kernels that do not want one, and takes them back", () => {
    const b = new PollBudget(2);
    expect(b.claim(false)).toBe(false);
    expect(b.claim(true)).toBe(true);
    expect(b.claim(true)).toBe(true);
    expect(b.claim(true)).toBe(false);
    b.release();
    expect(b.claim(true)).toBe(true);
  });
});
