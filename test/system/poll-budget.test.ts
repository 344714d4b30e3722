import { describe, expect, it } from "vitest";
import {
  AdaptiveSpin,
  defaultPollThreads,
  HostThreads,
  PollBudget,
  pollOversubscription,
  SPIN_MAX_MS,
  SPIN_START_MS,
} from "../../src/system/poll-budget.js";
import { ThreadedSystem } from "../../src/system/threaded-system.js";

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

describe("poll mode on too few cores", () => {
  it("warns naming cores and threads when dom0's backend and a guest cannot both poll", () => {
    const w = pollOversubscription(defaultPollThreads(2), 2);
    expect(w).toMatch(/^poll mode: 2 cores, but dom0's backend and a guest polling need 2 kernel threads/);
    expect(w).toMatch(/\(3 threads\); only dom0's backend polls/);
    expect(w).toMatch(/wait adaptively/);
    expect(pollOversubscription(defaultPollThreads(1), 1)).toMatch(
      /^poll mode: 1 kernel thread may poll on 1 core,/,
    );
    expect(pollOversubscription(0, 8)).toMatch(/no kernel polls/);
  });

  it("warns when a budget asked for spins more threads than there are cores", () => {
    expect(pollOversubscription(2, 2)).toBe(
      "poll mode: 2 kernel threads may poll on 2 cores, beside the toolstack's thread: more threads than cores, " +
        "so they take turns by time slice and every ring round trip waits for one",
    );
  });

  it("is quiet where a guest and dom0's backend can each poll on a core of their own", () => {
    expect(pollOversubscription(defaultPollThreads(3), 3)).toBeNull();
    expect(pollOversubscription(defaultPollThreads(16), 16)).toBeNull();
  });

  it("a threaded system told it has 2 cores warns, and lets only dom0's backend poll", {
    timeout: 30_000,
  }, async () => {
    const sys = await ThreadedSystem.start({ pollMode: true, cores: 2 });
    try {
      expect(sys.pollThreads).toBe(1);
      expect(sys.threads.cores).toBe(2);
      expect(sys.warnings).toHaveLength(1);
      expect(sys.warnings[0]).toMatch(/2 cores/);
      expect(sys.dom0Kernel?.pollMode).toBe(true);
      expect(sys.threads.kernels).toBe(1);
      expect(sys.threads.polling).toBe(1);
    } finally {
      await sys.shutdown(10_000);
    }
    expect(sys.threads.kernels).toBe(0);
    const quiet = await ThreadedSystem.start({ pollMode: false, cores: 2 });
    await quiet.shutdown(10_000);
    expect(quiet.warnings).toEqual([]);
  });
});

describe("the spin before sleeping", () => {
  it("starts at 20 µs, grows when spinning or a short sleep would have found work, halves after long sleeps", () => {
    const s = new AdaptiveSpin(null);
    expect(s.now()).toBe(SPIN_START_MS);
    s.hit(0.04);
    expect(s.now()).toBeCloseTo(0.08);
    s.hit(1);
    expect(s.now()).toBe(SPIN_MAX_MS);
    s.missed(5);
    expect(s.now()).toBeCloseTo(SPIN_MAX_MS / 2);
    s.hit(0.001);
    // A sleep that ended soon: a spin would have caught it, so spin longer.
    s.missed(0.09);
    expect(s.now()).toBeCloseTo(SPIN_MAX_MS);
  });

  it("switches itself off after spins that keep missing, and retries after a hold-off that doubles", () => {
    const s = new AdaptiveSpin(null);
    for (let i = 0; i < 4; i++) s.missed(0.01);
    expect(s.now()).toBe(0);
    for (let i = 0; i < 15; i++) s.missed(0.01);
    expect(s.now()).toBe(0);
    s.missed(0.01);
    expect(s.now()).toBe(SPIN_START_MS);
    for (let i = 0; i < 4; i++) s.missed(0.01);
    for (let i = 0; i < 31; i++) s.missed(0.01);
    expect(s.now()).toBe(0);
    s.missed(0.01);
    expect(s.now()).toBe(SPIN_START_MS);
    // A hit resets the hold-off.
    s.hit(0.005);
    for (let i = 0; i < 4; i++) s.missed(0.01);
    for (let i = 0; i < 16; i++) s.missed(0.01);
    expect(s.now()).toBe(SPIN_START_MS);
  });

  it("never spins on a machine whose load average is above its cores", () => {
    const host = HostThreads.create(2);
    let load = 7;
    const s = new AdaptiveSpin(host, () => load);
    expect(s.now()).toBe(0);
    const quiet = new AdaptiveSpin(host, () => 1.5);
    expect(quiet.now()).toBe(SPIN_START_MS);
    load = 1;
    // Looked at once a second, not on every sleep.
    expect(s.now()).toBe(0);
  });

  it("never spins while the host runs more kernel threads than cores", () => {
    const host = HostThreads.create(2);
    const s = new AdaptiveSpin(HostThreads.attach(host.buffer), () => 0);
    host.started(true);
    host.started(false);
    expect(host.oversubscribed()).toBe(false);
    expect(s.now()).toBe(SPIN_START_MS);
    host.started(false);
    expect(host.oversubscribed()).toBe(true);
    expect(s.now()).toBe(0);
    s.hit(0.05);
    expect(s.now()).toBe(0);
    host.stopped(false);
    expect(s.now()).toBeGreaterThan(0);
  });

  it("refuses a core count that is not a whole number", () => {
    expect(() => HostThreads.create(0)).toThrow(/cores/);
    expect(() => HostThreads.create(1.5)).toThrow(/cores/);
  });
});
