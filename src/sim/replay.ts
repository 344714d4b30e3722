/**
 * Replay files: the scenario, the seed it came from, and the (shrunk) choice sequence that
 * reproduces a violation exactly. JSON, so a bug report can carry one.
 * @module
 */
import type { SimResult } from "./run.js";
import type { Scenario } from "./scenario.js";

/** The format version of {@link ReplayFile}. */
export const REPLAY_VERSION = 1;

/** What `pvscsi sim` writes on a violation and `--replay` reads. */
export interface ReplayFile {
  readonly pvscsiSimReplay: typeof REPLAY_VERSION;
  readonly scenario: Scenario;
  readonly seed: number | null;
  readonly invariant: string | null;
  readonly detail: string | null;
  readonly choices: readonly number[];
}

/** The replay file of a run (usually a shrunk one) of `scenario` found from `seed`. */
export function replayFile(scenario: Scenario, seed: number | null, r: SimResult): ReplayFile {
  return {
    pvscsiSimReplay: REPLAY_VERSION,
    scenario,
    seed,
    invariant: r.violation?.invariant ?? null,
    detail: r.violation?.detail ?? null,
    choices: [...r.choices],
  };
}

/** Parse and check a replay file's text; throws a readable error. */
export function parseReplay(text: string, source: string): ReplayFile {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`${source}: not JSON (${e instanceof Error ? e.message : e})`);
  }
  const o = v as Partial<ReplayFile>;
  if (typeof o !== "object" || o === null || o.pvscsiSimReplay !== REPLAY_VERSION) {
    throw new Error(`${source}: not a pvscsi sim replay file (version ${REPLAY_VERSION})`);
  }
  if (!Array.isArray(o.choices) || !o.choices.every((c) => Number.isInteger(c) && c >= 0)) {
    throw new Error(`${source}: 'choices' must be a list of non-negative integers`);
  }
  if (typeof o.scenario !== "object" || o.scenario === null || typeof o.scenario.name !== "string") {
    throw new Error(`${source}: 'scenario' is missing`);
  }
  return o as ReplayFile;
}
