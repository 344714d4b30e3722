/**
 * `pvscsi sim --scenario system-…`: the whole-system simulator's part of the `sim` command
 * (one seed, a sweep in this thread, a replay, the system mutants).
 * @module
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runSummary } from "../../sim/run.js";
import { parseSystemReplay, systemReplayFile } from "../../sim/system-replay.js";
import { runSystemSim, type SystemSimResult, shrinkSystem } from "../../sim/system-run.js";
import {
  parseSystemFaults,
  SYSTEM_MUTANTS,
  SYSTEM_SCENARIOS,
  type SystemMutation,
  type SystemScenario,
  systemScenarioNamed,
} from "../../sim/system-scenario.js";
import { configError } from "../../xen/errors.js";
import { type CliIo, EXIT_FAILURE, EXIT_OK } from "../io.js";

/** The `sim` command's options a whole-system run reads. */
export interface SystemSimArgs {
  readonly scenario: string;
  readonly seed?: number;
  readonly seeds?: number;
  readonly from?: number;
  readonly faults?: string;
  readonly mutant?: string;
  readonly out: string;
  readonly trace: boolean;
  readonly json: boolean;
}

/** Lines for `pvscsi sim --list`. */
export function listSystemScenarios(): string {
  const lines = Object.values(SYSTEM_SCENARIOS).map((s) => `${s.name.padEnd(24)} ${s.description}`);
  return `${lines.join("\n")}\n\nsystem fault classes: ${parseSystemFaults("all").join(", ")}\nsystem mutants: ${SYSTEM_MUTANTS.join(", ")}\n`;
}

/** Run a whole-system scenario as the `sim` command does; returns the exit status. */
export async function runSystemCommand(a: SystemSimArgs, io: CliIo): Promise<number> {
  let scenario = systemScenarioNamed(
    a.scenario,
    a.faults === undefined ? undefined : parseSystemFaults(a.faults),
  );
  if (a.mutant !== undefined) {
    if (!(SYSTEM_MUTANTS as readonly string[]).includes(a.mutant))
      throw configError(
        "pvscsi sim",
        `no system mutant '${a.mutant}' (there are: ${SYSTEM_MUTANTS.join(", ")})`,
      );
    scenario = { ...scenario, mutation: a.mutant as SystemMutation };
  }
  if (a.seeds !== undefined) {
    const from = a.from ?? 1;
    const failures: SystemSimResult[] = [];
    let steps = 0;
    let io_ = 0;
    for (let seed = from; seed < from + a.seeds; seed++) {
      const r = await runSystemSim(scenario, seed, { trace: false });
      steps += r.stats.steps;
      io_ += r.stats.ioCompleted;
      if (!r.ok) failures.push(r);
    }
    const first = failures[0];
    if (a.json)
      io.out(
        `${JSON.stringify({ scenario: scenario.name, from, seeds: a.seeds, steps, commands: io_, failures: failures.map((f) => ({ seed: f.seed, ...f.violation })) }, null, 2)}\n`,
      );
    else {
      io.out(
        `scenario ${scenario.name}: ${a.seeds} seeds from ${from} (in this thread), ${failures.length} failing; ${steps} steps, ${io_} commands\n`,
      );
      for (const f of failures.slice(0, 10))
        io.out(
          `  seed ${f.seed}: ${f.violation!.invariant} at step ${f.violation!.step}: ${f.violation!.detail}\n`,
        );
    }
    if (first !== undefined)
      await failed(io, a, scenario, first.seed!, await runSystemSim(scenario, first.seed!));
    return failures.length === 0 ? EXIT_OK : EXIT_FAILURE;
  }
  const seed = a.seed ?? 1;
  const r = await runSystemSim(scenario, seed);
  if (a.json) io.out(`${JSON.stringify(runSummary(r), null, 2)}\n`);
  else {
    if (a.trace) io.out(`${r.trace.join("\n")}\n`);
    io.out(describe(r));
  }
  if (r.ok) return EXIT_OK;
  await failed(io, a, scenario, seed, r);
  return EXIT_FAILURE;
}

/** `pvscsi sim --replay FILE` for a whole-system replay file. */
export async function replaySystem(text: string, source: string, json: boolean, io: CliIo): Promise<number> {
  const file = parseSystemReplay(text, source);
  const r = await runSystemSim(file.scenario, file.choices);
  if (json) io.out(`${JSON.stringify(runSummary(r), null, 2)}\n`);
  else {
    io.out(`${r.trace.join("\n")}\n`);
    io.out(describe(r));
  }
  return r.ok ? EXIT_OK : EXIT_FAILURE;
}

async function failed(
  io: CliIo,
  a: SystemSimArgs,
  scenario: SystemScenario,
  seed: number,
  r: SystemSimResult,
) {
  const shrunk = await shrinkSystem(scenario, r);
  const base = join(a.out, `sim-${scenario.name}-${seed}`);
  writeFileSync(`${base}.replay.json`, `${JSON.stringify(systemReplayFile(scenario, seed, shrunk))}\n`);
  writeFileSync(`${base}.trace.txt`, `${shrunk.trace.join("\n")}\n`);
  const lines = shrunk.trace.length > 80 ? ["...", ...shrunk.trace.slice(-80)] : shrunk.trace;
  if (a.json) io.err(`wrote ${base}.replay.json and ${base}.trace.txt\n`);
  else
    io.out(
      `\nshrunk: seed ${seed} reproduces in ${shrunk.stats.steps} steps (${shrunk.choices.length} choices); its last steps:\n${lines.join("\n")}\nwrote ${base}.replay.json (pvscsi sim --replay it) and ${base}.trace.txt\n`,
    );
}

function describe(r: SystemSimResult): string {
  const s = r.stats;
  const head = `scenario ${r.scenario}${r.seed === null ? " (replay)" : `, seed ${r.seed}`}: ${s.steps} steps, ${s.virtualMs} virtual ms; ${s.xenstoredPasses} xenstored passes, ${s.eventDeliveries} event deliveries, ${s.ringPasses} ring passes, ${s.diskCompletions} disk completions, ${s.timersFired} timers; ${s.ioSubmitted} commands, ${s.ioFailed} failed; ${s.toolstackOps} toolstack operations, ${s.toolstackFailed} failed; ${s.eagainInjected} EAGAIN injected, ${s.hostileWrites} hostile writes, ${s.xenbusErrors} xenbus errors recorded${s.backendCrashes > 0 ? `; ${s.backendCrashes} backend crashes, ${s.backendRestarts} restarts, ${s.ioFailedByCrash} commands failed by them, ${s.ioAfterRestart} GOOD after a restart` : ""}\n`;
  const tail = `trace sha256 ${r.traceDigest}\n`;
  if (r.violation === null) return `${head}no invariant violated\n${tail}`;
  const v = r.violation;
  return `${head}VIOLATION of ${v.invariant} at step ${v.step}: ${v.detail}\n${tail}`;
}
