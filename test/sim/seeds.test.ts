/**
 * CI's sweep: a few hundred seeds of every built-in scenario over both cores (worker threads),
 * every invariant checked after every step. A failure names the seed to replay with
 * `pvscsi sim --scenario NAME --seed N`.
 */
import { describe, expect, it } from "vitest";
import { SCENARIOS } from "../../src/sim/scenario.js";
import { sweep } from "../../src/sim/sweep.js";

const SEEDS = Number(process.env.PVSCSI_SIM_SEEDS ?? 300);

describe(`every scenario passes ${SEEDS} seeds`, () => {
  for (const s of Object.values(SCENARIOS)) {
    it(s.name, { timeout: 120_000 }, async () => {
      const r = await sweep(s, 1, SEEDS, { workers: 2 });
      expect(r.seeds).toBe(SEEDS);
      expect(r.requests).toBeGreaterThan(SEEDS * 10);
      expect(
        r.failures,
        r.failures.map((f) => `seed ${f.seed}: ${f.invariant}: ${f.detail}`).join("\n"),
      ).toEqual([]);
    });
  }
});
