/**
 * CI's sweep of the whole-system scenarios: 200 seeds each by default (in this thread; each
 * run boots a machine), every invariant checked after every step. Each scenario must also have
 * exercised what it is about (EAGAIN injected, hot-plug operations, hostile writes, timeouts in
 * virtual time), so a fault class that silently stopped firing fails here. A failure names the
 * seed: `pvscsi sim --scenario NAME --seed N`.
 */
import { describe, expect, it } from "vitest";
import { runSystemSim, type SystemSimResult } from "../../src/sim/system-run.js";
import { SYSTEM_SCENARIOS } from "../../src/sim/system-scenario.js";

const SEEDS = Number(process.env.PVSCSI_SYSTEM_SIM_SEEDS ?? 200);

describe(`every whole-system scenario passes ${SEEDS} seeds`, () => {
  for (const s of Object.values(SYSTEM_SCENARIOS)) {
    it(s.name, { timeout: 300_000 }, async () => {
      const runs: SystemSimResult[] = [];
      for (let seed = 1; seed <= SEEDS; seed++) runs.push(await runSystemSim(s, seed, { trace: false }));
      const failures = runs.filter((r) => !r.ok);
      expect(
        failures.map((f) => `seed ${f.seed}: ${f.violation!.invariant}: ${f.violation!.detail}`),
      ).toEqual([]);
      const sum = (k: keyof SystemSimResult["stats"]) => runs.reduce((n, r) => n + r.stats[k], 0);
      // Every command submitted ended; an honest run submits its whole workload (a guest whose
      // backend nodes get garbage may lose its disks before it has).
      expect(sum("ioCompleted")).toBe(sum("ioSubmitted"));
      // A guest waiting for its crashed backend's restart may see the active phase end first.
      if (s.faults.includes("backend-crash"))
        expect(sum("ioSubmitted")).toBeGreaterThan(SEEDS * s.guests * s.ops * 0.9);
      else if (!s.faults.includes("hostile-xenstore-back"))
        expect(sum("ioSubmitted")).toBe(SEEDS * s.guests * s.ops);
      else expect(sum("ioSubmitted")).toBeGreaterThan((SEEDS * s.guests * s.ops) / 2);
      // Every guest created and destroyed by the toolstack.
      expect(sum("toolstackOps")).toBeGreaterThanOrEqual(SEEDS * 2 * s.guests);
      if (s.faults.includes("hotplug"))
        expect(sum("toolstackOps")).toBeGreaterThan(SEEDS * 2 * s.guests + SEEDS);
      if (s.faults.includes("xs-eagain")) expect(sum("eagainInjected")).toBeGreaterThan(SEEDS);
      if (s.faults.includes("backend-crash")) {
        // scsiback let go of a controller under I/O and came back, and the guests then went on.
        expect(sum("backendCrashes")).toBeGreaterThan(SEEDS / 2);
        expect(sum("backendRestarts")).toBe(sum("backendCrashes"));
        if (s.name === "system-backend-crash") {
          expect(sum("ioFailedByCrash")).toBeGreaterThan(0);
          expect(sum("ioAfterRestart")).toBeGreaterThan(SEEDS);
        }
      }
      if (s.faults.some((f) => f.startsWith("hostile"))) {
        expect(sum("hostileWrites")).toBeGreaterThan(SEEDS * 5);
        // A hostile frontend makes libxl's removal wait out its timeout: virtual time jumps.
        expect(sum("timersFired")).toBeGreaterThan(0);
      }
    });
  }
});
