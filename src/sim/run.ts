/**
 * One simulation run as a pure function of (scenario, seed) — or of (scenario, choice sequence)
 * for a replay — and the shrinker that turns a failing run into a short one.
 * @module
 */

import { createHash } from "node:crypto";
import type { TraceBuffer } from "../trace/trace-buffer.js";
import { setTracer } from "../trace/tracer.js";
import { Chooser } from "./chooser.js";
import type { Scenario } from "./scenario.js";
import { type InvariantName, SimViolation, World, type WorldStats } from "./world.js";

/** What one run found. */
/** What one run found, for a simulator whose invariants are `I` and whose counters are `S`. */
export interface RunResult<I extends string, S> {
  readonly scenario: string;
  /** The seed, or null for a replay of a choice sequence. */
  readonly seed: number | null;
  readonly ok: boolean;
  /** The invariant that failed, and how. */
  readonly violation: {
    readonly invariant: I;
    readonly detail: string;
    readonly step: number;
  } | null;
  readonly stats: S;
  /** Every choice the run made (replaying them reproduces the run exactly). */
  readonly choices: readonly number[];
  /** One line per step (empty unless traced). */
  readonly trace: readonly string[];
  /** SHA-256 of the trace, hex: equal traces, equal digests. */
  readonly traceDigest: string;
}

/** What one run of the core simulator found. */
export type SimResult = RunResult<InvariantName, WorldStats>;

/** A finished run as a {@link RunResult}: the trace digested, the counters copied. */
export function runResult<I extends string, S extends object>(
  scenario: string,
  source: number | readonly number[],
  violation: RunResult<I, S>["violation"],
  world: { readonly stats: S; readonly trace: readonly string[] },
  chooser: Chooser,
): RunResult<I, S> {
  const digest = createHash("sha256");
  for (const line of world.trace) digest.update(`${line}\n`);
  return {
    scenario,
    seed: typeof source === "number" ? source : null,
    ok: violation === null,
    violation,
    stats: { ...world.stats },
    choices: chooser.taken,
    trace: world.trace,
    traceDigest: digest.digest("hex"),
  };
}

/** A run for `--json`: everything but the trace, and the number of choices rather than the list. */
export function runSummary<I extends string, S>(r: RunResult<I, S>) {
  return {
    scenario: r.scenario,
    seed: r.seed,
    ok: r.ok,
    violation: r.violation,
    stats: r.stats,
    choices: r.choices.length,
    traceDigest: r.traceDigest,
  };
}

/** Options of {@link runSim}. */
export interface RunOptions {
  /** Record the step-by-step trace (default true; sweeps turn it off for speed). */
  readonly trace?: boolean;
  /**
   * Record the run into this trace recorder (`pvscsi/trace`), stamped with virtual time (one
   * tick = 1 µs), for `toChromeTrace`: the same seed gives the same Perfetto trace.
   */
  readonly recorder?: TraceBuffer;
}

/** Run `scenario` with choices from `seed` (a number) or replayed from `choices` (an array). */
export function runSim(
  scenario: Scenario,
  source: number | readonly number[],
  options: RunOptions = {},
): SimResult {
  const chooser = typeof source === "number" ? Chooser.seeded(source) : Chooser.replay(source);
  const world = new World(scenario, chooser, { trace: options.trace ?? true });
  let violation: SimResult["violation"] = null;
  const recorder = options.recorder;
  const previous = recorder !== undefined ? setTracer(recorder) : null;
  if (recorder !== undefined) recorder.clock = () => world.now;
  try {
    world.run();
  } catch (e) {
    if (!(e instanceof SimViolation)) throw e;
    violation = { invariant: e.invariant, detail: e.detail, step: e.step };
  } finally {
    if (recorder !== undefined) setTracer(previous);
  }
  return runResult(scenario.name, source, violation, world, chooser);
}

/**
 * The shrinking search over a failing choice script, without the runs: Zeller's ddmin (chunks
 * removed), then values made 0 (the first enabled action, the smallest operation). Each `yield`
 * is a candidate; the answer sent back is the part of it a run read before failing the same way,
 * or null if it did not fail (or the caller's budget is spent). It returns the shortest failing
 * script, without the trailing zeros an exhausted script answers anyway. Both simulators drive
 * it: {@link shrink} synchronously, the whole-system shrinker with awaited runs.
 */
export function* ddmin(choices: readonly number[]): Generator<readonly number[], number[], number[] | null> {
  let cur = choices.slice();
  let n = 2;
  while (cur.length >= 2) {
    const chunk = Math.ceil(cur.length / n);
    let reduced = false;
    for (let i = 0; i < cur.length; i += chunk) {
      const next = yield [...cur.slice(0, i), ...cur.slice(i + chunk)];
      if (next !== null) {
        cur = next;
        n = Math.max(n - 1, 2);
        reduced = true;
        break;
      }
    }
    if (!reduced) {
      if (n >= cur.length) break;
      n = Math.min(cur.length, n * 2);
    }
  }
  for (let i = 0; i < cur.length; i++) {
    if (cur[i] === 0) continue;
    const candidate = cur.slice();
    candidate[i] = 0;
    const next = yield candidate;
    if (next !== null) cur = next;
  }
  while (cur.length > 0 && cur[cur.length - 1] === 0) cur.pop();
  return cur;
}

/** Options of {@link shrink}. */
export interface ShrinkOptions {
  /** Most replays to try (default 400). */
  readonly budget?: number;
}

/**
 * Delta debugging (Zeller's ddmin, then value minimisation) over a failing run's choice
 * sequence: the shortest sequence it finds that still fails the same invariant, replayed with
 * its trace. Its `choices` is the shortened script (replayed, an exhausted script answers 0),
 * so the result reproduces exactly by replaying them.
 */
export function shrink(scenario: Scenario, failing: SimResult, options: ShrinkOptions = {}): SimResult {
  const inv = failing.violation?.invariant;
  if (inv === undefined) return failing;
  let budget = options.budget ?? 400;
  // A candidate script fails the same way: keep only the part of it the run read before failing
  // (an exhausted script answers 0, so the replay of the prefix is the same run).
  const fails = (script: readonly number[]): number[] | null => {
    if (budget <= 0) return null;
    budget--;
    const r = runSim(scenario, script, { trace: false });
    if (r.violation?.invariant !== inv) return null;
    return script.slice(0, Math.min(script.length, r.choices.length));
  };
  const search = ddmin(failing.choices);
  let step = search.next();
  while (!step.done) step = search.next(fails(step.value));
  const cur = step.value;
  const r = runSim(scenario, cur, { trace: true });
  return { ...r, choices: cur };
}
