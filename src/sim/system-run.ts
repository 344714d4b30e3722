/**
 * One whole-system run as a pure function of (scenario, seed) — or of (scenario, choices) for a
 * replay — and a small shrinker over its choice sequence. Async: the toolstack and the xenbus
 * drivers are promise code, whose callbacks run between steps.
 * @module
 */
import { Chooser } from "./chooser.js";
import { ddmin, type RunResult, runResult } from "./run.js";
import type { SystemScenario } from "./system-scenario.js";
import { type SystemInvariant, SystemViolation, SystemWorld, type SystemWorldStats } from "./system-world.js";

/** What one whole-system run found. */
export type SystemSimResult = RunResult<SystemInvariant, SystemWorldStats>;

/** Run a whole-system `scenario` with choices from `seed` (a number) or replayed from `choices`. */
export async function runSystemSim(
  scenario: SystemScenario,
  source: number | readonly number[],
  options: { readonly trace?: boolean } = {},
): Promise<SystemSimResult> {
  const chooser = typeof source === "number" ? Chooser.seeded(source) : Chooser.replay(source);
  const world = new SystemWorld(scenario, chooser, options.trace ?? true);
  let violation: SystemSimResult["violation"] = null;
  try {
    await world.boot();
    await world.run();
  } catch (e) {
    if (!(e instanceof SystemViolation)) throw e;
    violation = { invariant: e.invariant, detail: e.detail, step: e.step };
  } finally {
    await world.shutdown();
  }
  return runResult(scenario.name, source, violation, world, chooser);
}

/**
 * Shorten a failing whole-system run's choice sequence (chunk removal, then zeroing values)
 * while the same invariant still fails, within `budget` replays (each is a whole run, so keep it
 * small). Returns the shortest failing replay found, with its trace.
 */
export async function shrinkSystem(
  scenario: SystemScenario,
  failing: SystemSimResult,
  budget = 40,
): Promise<SystemSimResult> {
  const inv = failing.violation?.invariant;
  if (inv === undefined) return failing;
  const fails = async (script: readonly number[]): Promise<number[] | null> => {
    if (budget <= 0) return null;
    budget--;
    const r = await runSystemSim(scenario, script, { trace: false });
    if (r.violation?.invariant !== inv) return null;
    return script.slice(0, Math.min(script.length, r.choices.length));
  };
  const search = ddmin(failing.choices);
  let step = search.next();
  while (!step.done) step = search.next(await fails(step.value));
  const cur = step.value;
  const r = await runSystemSim(scenario, cur, { trace: true });
  return r.violation?.invariant === inv ? { ...r, choices: cur } : failing;
}
