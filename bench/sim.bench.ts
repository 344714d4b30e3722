/**
 * The simulator's speed: seeds per second and simulated requests per second, per scenario, in one
 * thread (CPU time, so a busy machine changes the wall time but less the figures), then a sweep
 * over every core. `npm run bench sim`; `SIM_BENCH_SEEDS=N` sets the seeds per scenario (default 100).
 */
import { availableParallelism } from "node:os";
import { runSim } from "../src/sim/run.js";
import { SCENARIOS } from "../src/sim/scenario.js";
import { sweep } from "../src/sim/sweep.js";

const SEEDS = Number(process.env.SIM_BENCH_SEEDS ?? 100);

const rows: Record<string, string | number>[] = [];
for (const s of Object.values(SCENARIOS)) {
  const c0 = process.cpuUsage();
  let requests = 0;
  let steps = 0;
  for (let seed = 1; seed <= SEEDS; seed++) {
    const r = runSim(s, seed, { trace: false });
    requests += r.stats.completed;
    steps += r.stats.steps;
  }
  const c = process.cpuUsage(c0);
  const cpu = (c.user + c.system) / 1e6;
  rows.push({
    scenario: s.name,
    seeds: SEEDS,
    "seeds/s (1 thread, CPU)": Math.round(SEEDS / cpu),
    "requests/s (CPU)": Math.round(requests / cpu),
    "steps/s (CPU)": Math.round(steps / cpu),
  });
}
console.table(rows);

const cores = availableParallelism();
const r = await sweep(SCENARIOS["all-faults"]!, 1, SEEDS * 4, { workers: cores });
process.stdout.write(
  `sweep all-faults over ${cores} workers: ${r.seeds} seeds in ${r.seconds.toFixed(1)} s wall (${Math.round(r.seeds / r.seconds)} seeds/s, ${Math.round(r.requests / r.seconds)} simulated requests/s, worker start-up included), ${r.failures.length} failing\n`,
);
