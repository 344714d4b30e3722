/**
 * Replay files of the whole-system simulator: the scenario, the seed, the invariant and the
 * (shrunk) choices that reproduce it. JSON, like {@link ReplayFile}, with its own marker.
 * @module
 */
import type { SystemSimResult } from "./system-run.js";
import type { SystemScenario } from "./system-scenario.js";

/** The format version of {@link SystemReplayFile}. */
export const SYSTEM_REPLAY_VERSION = 1;

/** What `pvscsi sim --scenario system-…` writes on a violation and `--replay` reads. */
export interface SystemReplayFile {
  readonly pvscsiSystemSimReplay: typeof SYSTEM_REPLAY_VERSION;
  readonly scenario: SystemScenario;
  readonly seed: number | null;
  readonly invariant: string | null;
  readonly detail: string | null;
  readonly choices: readonly number[];
}

/** The replay file of a whole-system run found from `seed`. */
export function systemReplayFile(
  scenario: SystemScenario,
  seed: number | null,
  r: SystemSimResult,
): SystemReplayFile {
  return {
    pvscsiSystemSimReplay: SYSTEM_REPLAY_VERSION,
    scenario,
    seed,
    invariant: r.violation?.invariant ?? null,
    detail: r.violation?.detail ?? null,
    choices: [...r.choices],
  };
}

/** Whether a replay file's text is a whole-system one (its marker is present). */
export function isSystemReplay(text: string): boolean {
  try {
    const o = JSON.parse(text) as { pvscsiSystemSimReplay?: unknown };
    return typeof o === "object" && o !== null && o.pvscsiSystemSimReplay === SYSTEM_REPLAY_VERSION;
  } catch {
    return false;
  }
}

/** Parse and check a whole-system replay file's text; throws a readable error. */
export function parseSystemReplay(text: string, source: string): SystemReplayFile {
  if (!isSystemReplay(text))
    throw new Error(
      `${source}: not a pvscsi whole-system sim replay file (version ${SYSTEM_REPLAY_VERSION})`,
    );
  const o = JSON.parse(text) as Partial<SystemReplayFile>;
  if (!Array.isArray(o.choices) || !o.choices.every((c) => Number.isInteger(c) && c >= 0))
    throw new Error(`${source}: 'choices' must be a list of non-negative integers`);
  if (typeof o.scenario !== "object" || o.scenario === null || typeof o.scenario.name !== "string")
    throw new Error(`${source}: 'scenario' is missing`);
  return o as SystemReplayFile;
}
