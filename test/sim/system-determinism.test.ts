/**
 * The whole-system simulator is a pure function of (scenario, seed): xenstored, the xenbus state
 * machines, the toolstack's promise code, every vcpu's events, scsiback, scsifront and the disks
 * all move only when the seeded scheduler says, in virtual time. Two runs of one seed give the
 * same trace byte for byte; a replay of its choices gives it again; another seed gives another.
 */
import { describe, expect, it } from "vitest";
import { runSystemSim } from "../../src/sim/system-run.js";
import { SYSTEM_SCENARIOS } from "../../src/sim/system-scenario.js";

describe("whole-system determinism", () => {
  for (const s of Object.values(SYSTEM_SCENARIOS)) {
    it(`${s.name}: seed 42 twice gives the same trace; its choices replay it; seed 43 differs`, {
      timeout: 120_000,
    }, async () => {
      const a = await runSystemSim(s, 42);
      const b = await runSystemSim(s, 42);
      expect(a.ok, a.violation?.detail).toBe(true);
      expect(a.trace.length).toBeGreaterThan(500);
      expect(b.trace).toEqual(a.trace);
      expect(b.traceDigest).toBe(a.traceDigest);
      expect(b.stats).toEqual(a.stats);
      expect(b.choices).toEqual(a.choices);
      const replay = await runSystemSim(s, a.choices);
      expect(replay.traceDigest).toBe(a.traceDigest);
      const other = await runSystemSim(s, 43);
      expect(other.traceDigest).not.toBe(a.traceDigest);
    });
  }

  it("runs the toolstack, xenstored and the drivers as separate steps", { timeout: 60_000 }, async () => {
    const r = await runSystemSim(SYSTEM_SCENARIOS["system-io"]!, 7);
    const actors = new Set(r.trace.map((l) => l.replace(/^\d+ t=\d+ +/, "").replace(/ .*$/, "")));
    for (const a of ["xenstored", "scsiback", "scsifront", "disk", "xl", "g0", "g1"])
      expect(actors).toContain(a);
    expect(r.trace.some((l) => / xl create g0: done$/.test(l))).toBe(true);
    expect(r.trace.some((l) => / xl destroy g1: done$/.test(l))).toBe(true);
    expect(r.stats.ioCompleted).toBe(r.stats.ioSubmitted);
    expect(r.stats.ioSubmitted).toBe(2 * SYSTEM_SCENARIOS["system-io"]!.ops);
  });
});
