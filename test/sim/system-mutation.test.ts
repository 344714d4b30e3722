/**
 * The whole-system invariants bite: deliberately broken toolstacks are caught by a system
 * scenario within a few seeds, by the invariant that names what they break, and the failure
 * shrinks to a short run that replays exactly.
 * - `destroy-leaves-nodes` (libxl forgetting `libxl__xs_path_cleanup` of the backend dirs): the
 *   store differs from boot at teardown (cleanup);
 * - `no-eagain-retry` (no retry loop around a transaction): an `xl` operation fails under
 *   injected `EAGAIN` (toolstack);
 * - `disconnect-keeps-inflight` (scsifront not failing the commands its crashed backend left
 *   unanswered when it disconnects): they never complete (liveness).
 */
import { describe, expect, it } from "vitest";
import { runSystemSim, shrinkSystem } from "../../src/sim/system-run.js";
import { SYSTEM_SCENARIOS, type SystemMutation } from "../../src/sim/system-scenario.js";

const CASES: ReadonlyArray<[SystemMutation, string, string, RegExp]> = [
  ["destroy-leaves-nodes", "system-io", "cleanup", /xenstore differs from boot: .*backend\/vscsi/],
  ["no-eagain-retry", "system-xs-conflicts", "toolstack", /EAGAIN/],
  ["disconnect-keeps-inflight", "system-backend-crash", "liveness", /commands in flight/],
];

describe("whole-system mutants are caught", () => {
  for (const [mutation, scenario, invariant, detail] of CASES) {
    it(`${mutation} by ${scenario} (${invariant})`, { timeout: 120_000 }, async () => {
      const s = { ...SYSTEM_SCENARIOS[scenario]!, mutation };
      let caught = null;
      for (let seed = 1; seed <= 5 && caught === null; seed++) {
        const r = await runSystemSim(s, seed, { trace: false });
        if (!r.ok) caught = r;
      }
      expect(caught?.violation?.invariant).toBe(invariant);
      expect(caught!.violation!.detail).toMatch(detail);
      const shrunk = await shrinkSystem(s, caught!, 12);
      expect(shrunk.violation?.invariant).toBe(invariant);
      expect(shrunk.choices.length).toBeLessThanOrEqual(caught!.choices.length);
      const again = await runSystemSim(s, shrunk.choices);
      expect(again.traceDigest).toBe(shrunk.traceDigest);
      // The same seeds pass without the mutant.
      const honest = await runSystemSim(SYSTEM_SCENARIOS[scenario]!, caught!.seed!, { trace: false });
      expect(honest.ok, honest.violation?.detail).toBe(true);
    });
  }
});
