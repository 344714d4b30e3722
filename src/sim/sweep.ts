/**
 * Seed sweeps: many seeds of a scenario, split into ranges over worker threads (one per core by
 * default), each range run without traces; failing seeds come back for the caller to shrink.
 * @module
 */
import { availableParallelism } from "node:os";
import { spawnWorker } from "../system/spawn-worker.js";
import { runSim } from "./run.js";
import type { Scenario } from "./scenario.js";
import type { InvariantName } from "./world.js";

/** A seed that failed in a sweep. */
export interface SweepFailure {
  readonly seed: number;
  readonly invariant: InvariantName;
  readonly detail: string;
  readonly step: number;
}

/** What a sweep found. */
export interface SweepResult {
  readonly scenario: string;
  readonly seeds: number;
  readonly failures: readonly SweepFailure[];
  /** Simulated steps and completed commands over all seeds. */
  readonly steps: number;
  readonly requests: number;
  readonly seconds: number;
}

/** Run seeds `[from, from + count)` here, in this thread. */
export function sweepHere(scenario: Scenario, from: number, count: number): SweepResult {
  const t0 = performance.now();
  const failures: SweepFailure[] = [];
  let steps = 0;
  let requests = 0;
  for (let seed = from; seed < from + count; seed++) {
    const r = runSim(scenario, seed, { trace: false });
    steps += r.stats.steps;
    requests += r.stats.completed;
    if (r.violation !== null) failures.push({ seed, ...r.violation });
  }
  return {
    scenario: scenario.name,
    seeds: count,
    failures,
    steps,
    requests,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** Options of {@link sweep}. */
export interface SweepOptions {
  /** Worker threads (default: the machine's cores); 0 runs in this thread. */
  readonly workers?: number;
}

/** Run seeds `[from, from + count)` over worker threads, one contiguous range each. */
export async function sweep(
  scenario: Scenario,
  from: number,
  count: number,
  options: SweepOptions = {},
): Promise<SweepResult> {
  const workers = Math.min(options.workers ?? availableParallelism(), count);
  if (workers <= 0) return sweepHere(scenario, from, count);
  const t0 = performance.now();
  const per = Math.ceil(count / workers);
  const parts: Promise<SweepResult>[] = [];
  for (let w = 0; w < workers; w++) {
    const start = from + w * per;
    const n = Math.min(per, from + count - start);
    if (n <= 0) break;
    parts.push(
      new Promise<SweepResult>((resolve, reject) => {
        const worker = spawnWorker(import.meta.url, "./sweep-worker", {
          workerData: { scenario, from: start, count: n },
        });
        worker.once("message", (r: SweepResult) => {
          resolve(r);
          void worker.terminate();
        });
        worker.once("error", reject);
        worker.once("exit", (code) => {
          if (code !== 0) reject(new Error(`sim sweep worker exited with ${code}`));
        });
      }),
    );
  }
  const results = await Promise.all(parts);
  return {
    scenario: scenario.name,
    seeds: count,
    failures: results.flatMap((r) => r.failures).sort((a, b) => a.seed - b.seed),
    steps: results.reduce((a, r) => a + r.steps, 0),
    requests: results.reduce((a, r) => a + r.requests, 0),
    seconds: (performance.now() - t0) / 1000,
  };
}
