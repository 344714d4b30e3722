/**
 * The mutation check: deliberately broken variants of pvscsi's own drivers (VhostMutation,
 * FrontendMutation — hooks that exist only for this check) must each be caught by the simulator
 * within a bounded number of seeds, by the invariant that guards against that bug.
 */
import { describe, expect, it } from "vitest";
import type { VhostMutation } from "../../src/scsiback/vhost.js";
import type { FrontendMutation } from "../../src/scsifront/frontend.js";
import { runSim } from "../../src/sim/run.js";
import { SCENARIOS } from "../../src/sim/scenario.js";
import type { InvariantName } from "../../src/sim/world.js";

const SEEDS = 25;

const MUTANTS: ReadonlyArray<{
  what: string;
  scenario: string;
  mutation: { backend?: VhostMutation; frontend?: FrontendMutation };
  caughtBy: InvariantName[];
}> = [
  {
    what: "backend forgets to unmap on abort",
    scenario: "abort-reset",
    mutation: { backend: "no-unmap-on-abort" },
    caughtBy: ["grants-at-completion", "cleanup"],
  },
  {
    what: "backend answers an aborted command twice",
    scenario: "abort-reset",
    mutation: { backend: "double-answer-abort" },
    caughtBy: ["rqid-unique", "exactly-once", "ring-indices"],
  },
  {
    what: "backend skips the notify rsp_event asks for",
    scenario: "io-verify",
    mutation: { backend: "skip-notify" },
    caughtBy: ["liveness"],
  },
  {
    what: "frontend reuses an rqid in flight",
    scenario: "io-verify",
    mutation: { frontend: "reuse-rqid" },
    caughtBy: ["rqid-unique", "exactly-once", "read-back"],
  },
  {
    what: "frontend ends a grant still mapped",
    scenario: "abort-reset",
    mutation: { frontend: "end-grant-on-abort" },
    caughtBy: ["grants-at-completion", "allowed-result"],
  },
];

describe("mutation check: each broken driver is caught within a bounded number of seeds", () => {
  for (const m of MUTANTS) {
    it(`${m.what} (${JSON.stringify(m.mutation)})`, () => {
      const scenario = { ...SCENARIOS[m.scenario]!, mutation: m.mutation };
      let caught: { seed: number; invariant: InvariantName } | null = null;
      for (let seed = 1; seed <= SEEDS && caught === null; seed++) {
        const r = runSim(scenario, seed, { trace: false });
        if (r.violation) caught = { seed, invariant: r.violation.invariant };
      }
      expect(caught, `not caught in ${SEEDS} seeds`).not.toBeNull();
      expect(m.caughtBy).toContain(caught!.invariant);
    });
  }

  it("the unmutated drivers pass the same seeds", () => {
    for (const name of new Set(MUTANTS.map((m) => m.scenario))) {
      for (let seed = 1; seed <= SEEDS; seed++) {
        const r = runSim(SCENARIOS[name]!, seed, { trace: false });
        expect(r.violation, `${name} seed ${seed}`).toBeNull();
      }
    }
  });
});
