/**
 * `backend-crash` end to end: dom0's scsiback lets go of a guest's controller under I/O (unbound,
 * as when the module is unloaded) and is restarted, the toolstack re-creating the controller
 * (Linux's scsifront does not reconnect from Closed). The run must show the whole sequence, in
 * order: the crash, the backend gone (then dom0 maps nothing of the guest's but its reserved
 * pages, checked by the world), the guest's commands left unanswered failing, the restart, and
 * GOOD I/O of the same guest afterwards; and it must end clean (checked by the world at teardown).
 */
import { describe, expect, it } from "vitest";
import { runSystemSim } from "../../src/sim/system-run.js";
import { SYSTEM_SCENARIOS } from "../../src/sim/system-scenario.js";

const S = SYSTEM_SCENARIOS["system-backend-crash"]!;

describe("system-backend-crash", () => {
  it("crash, disconnect, restart and I/O after it, in order, and a clean end", {
    timeout: 120_000,
  }, async () => {
    let shown = false;
    for (let seed = 1; seed <= 6 && !shown; seed++) {
      const r = await runSystemSim(S, seed);
      expect(r.ok, r.violation?.detail).toBe(true);
      if (r.stats.ioFailedByCrash === 0 || r.stats.ioAfterRestart === 0) continue;
      const t = r.trace;
      const crash = t.findIndex((l) => l.includes("dom0's scsiback crashes under"));
      expect(crash).toBeGreaterThanOrEqual(0);
      const g = /crashes under (g\d)/.exec(t[crash]!)![1]!;
      const gone = t.findIndex((l, i) => i > crash && l.includes(`${g}'s backend is gone`));
      const failed = t.findIndex((l, i) => i > crash && new RegExp(` ${g} \\w+ #\\d+ .* -> host 0x`).test(l));
      const done = t.findIndex(
        (l, i) => i > gone && l.includes(`restart ${g}'s backend`) && l.endsWith(": done"),
      );
      const after = t.findIndex((l, i) => i > done && new RegExp(` ${g} \\w+ #\\d+ .* -> GOOD`).test(l));
      expect(gone).toBeGreaterThan(crash);
      expect(failed).toBeGreaterThan(crash);
      expect(done).toBeGreaterThan(gone);
      expect(after).toBeGreaterThan(done);
      expect(r.stats.backendRestarts).toBe(r.stats.backendCrashes);
      shown = true;
    }
    expect(shown).toBe(true);
  });

  it("counts no crash when the fault class is off", { timeout: 60_000 }, async () => {
    const r = await runSystemSim({ ...S, faults: [], faultRate: 0 }, 1, { trace: false });
    expect(r.ok, r.violation?.detail).toBe(true);
    expect(r.stats.backendCrashes).toBe(0);
    expect(r.stats.ioFailed).toBe(0);
  });
});
