import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { VhostMutation } from "../../scsiback/vhost.js";
import type { FrontendMutation } from "../../scsifront/frontend.js";
import { BACK_ATTACK_CLASSES, type BackAttackClass } from "../../sim/hostile.js";
import { parseReplay, replayFile } from "../../sim/replay.js";
import { runSim, runSummary, type SimResult, shrink } from "../../sim/run.js";
import {
  MIN_GUEST_FRAMES,
  parseFaults,
  SCENARIOS,
  type Scenario,
  scenarioNamed,
} from "../../sim/scenario.js";
import { sweep } from "../../sim/sweep.js";
import { isSystemReplay } from "../../sim/system-replay.js";
import { isSystemScenario } from "../../sim/system-scenario.js";
import { attackWasmFrontend, XENSTORE_ATTACKS, type XenstoreAttack } from "../../sim/wasm-attack.js";
import { toChromeTrace } from "../../trace/chrome-trace.js";
import { TraceBuffer } from "../../trace/trace-buffer.js";
import { configError } from "../../xen/errors.js";
import { checkWritable, parseCommandArgs } from "../args.js";
import { type CliIo, type Command, EXIT_FAILURE, EXIT_OK } from "../io.js";
import { listSystemScenarios, replaySystem, runSystemCommand } from "./sim-system.js";

const BACKEND_MUTANTS: readonly VhostMutation[] = ["no-unmap-on-abort", "double-answer-abort", "skip-notify"];
const FRONTEND_MUTANTS: readonly FrontendMutation[] = ["reuse-rqid", "end-grant-on-abort"];

const USAGE = `Usage: pvscsi sim [--scenario NAME] [--seed N | --seeds N [--from S]] [--faults LIST]
       pvscsi sim --replay FILE
       pvscsi sim --attack-wasm FILE [--seed N] [--attacks LIST] [--xenstore CLASS]
       pvscsi sim --list

Deterministic simulation of scsifront and scsiback: a seeded scheduler picks every interleaving
(submissions, ring pushes, event delivery, device completions in any order, the guest's error
handler, faults), time is virtual, and the invariants of docs/sim.md are checked after every step.
The same seed gives the same trace, byte for byte. On a violation it prints the seed, the
invariant, the shortest step sequence shrinking found, and writes a replay file and a trace.

  --scenario NAME   a built-in scenario (default io-verify; --list shows them); system-* runs
                    the whole system (xenstored, xenbus, the toolstack) under the scheduler
  --seed N          run one seed (default 1) and print its summary
  --seeds N         sweep N seeds (from --from, default 1) over worker threads
  --workers N       worker threads of a sweep (default: the machine's cores; 0: this thread)
  --faults LIST     replace the scenario's faults: comma-separated classes, 'all' or 'none'
  --guest-frames N  each guest's memory in 4 KiB frames (default 168; commands wait when it is full)
  --mutant NAME     the mutation check: run a deliberately broken driver (${[...BACKEND_MUTANTS, ...FRONTEND_MUTANTS].join(", ")})
  --replay FILE     replay a replay file exactly and print its trace
  --attack-wasm FILE  boot FILE (a wasm frontend driver) as a guest's kernel and attack it as its
                    backend: --attacks (ring attacks, comma-separated or 'all'; default all),
                    --xenstore (${XENSTORE_ATTACKS.join(", ")}); fails if the module traps,
                    writes a frame it does not hold, or spins (docs/sim.md)
  --out DIR         where replay and trace files go (default .)
  --trace           print the whole trace of a single run
  --perfetto FILE   write a single run as Chrome trace-event JSON (ui.perfetto.dev), in virtual time
  --json            print the summary as JSON
  --list            list the scenarios and fault classes

Exit status: 0 no violation, 1 a violation (or a replay that reproduces one), 2 usage error.
`;

export const simCommand: Command = {
  name: "sim",
  summary: "deterministic simulation: seeded interleavings, faults, invariants, shrinking, replay",
  usage: USAGE,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    const { values } = parseCommandArgs(
      "sim",
      argv,
      {
        scenario: { type: "string" },
        seed: { type: "string" },
        seeds: { type: "string" },
        from: { type: "string" },
        workers: { type: "string" },
        faults: { type: "string" },
        "guest-frames": { type: "string" },
        mutant: { type: "string" },
        replay: { type: "string" },
        "attack-wasm": { type: "string" },
        attacks: { type: "string" },
        xenstore: { type: "string" },
        out: { type: "string" },
        trace: { type: "boolean" },
        perfetto: { type: "string" },
        json: { type: "boolean" },
        list: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      false,
    );
    if (values.help) {
      io.out(USAGE);
      return EXIT_OK;
    }
    const json = values.json === true;
    const outDir = typeof values.out === "string" ? values.out : ".";
    if (typeof values.out === "string") checkOutDir(outDir);
    if (values.list) {
      for (const s of Object.values(SCENARIOS)) io.out(`${s.name.padEnd(18)} ${s.description}\n`);
      io.out(`\nfault classes: ${parseFaults("all").join(", ")}\n\n`);
      io.out(listSystemScenarios());
      return EXIT_OK;
    }
    if (typeof values.replay === "string") {
      const text = readFileSync(values.replay, "utf8");
      if (isSystemReplay(text)) return replaySystem(text, values.replay, json, io);
      const file = parseReplay(text, values.replay);
      const r = runSim(file.scenario, file.choices);
      if (json) io.out(`${JSON.stringify(runSummary(r), null, 2)}\n`);
      else {
        io.out(`${r.trace.join("\n")}\n`);
        io.out(describeResult(r));
      }
      return r.ok ? EXIT_OK : EXIT_FAILURE;
    }

    const wasmFile = values["attack-wasm"];
    if (typeof wasmFile === "string") {
      const attacks = parseBackAttacks(typeof values.attacks === "string" ? values.attacks : "all");
      const xs = typeof values.xenstore === "string" ? values.xenstore : undefined;
      if (xs !== undefined && !XENSTORE_ATTACKS.includes(xs as XenstoreAttack))
        throw configError(
          "pvscsi sim",
          `no xenstore attack '${xs}' (there are: ${XENSTORE_ATTACKS.join(", ")})`,
        );
      const seed = typeof values.seed === "string" ? wholeNumber("--seed", values.seed, 0) : 1;
      const r = await attackWasmFrontend({
        kernelPath: wasmFile,
        attacks,
        seed,
        ...(xs !== undefined ? { xenstore: xs as XenstoreAttack } : {}),
      });
      const bad = r.fault !== null || r.strayWrites.length > 0 || r.spinning;
      if (json) io.out(`${JSON.stringify({ seed, attacks, xenstore: xs ?? null, ...r }, null, 2)}\n`);
      else {
        io.out(`${r.log.map((l) => `  | ${l}\n`).join("")}`);
        io.out(
          `${wasmFile}, seed ${seed}: ${r.connected ? "connected" : "never connected"}, ${r.requests} requests, pv_status() ${r.status}\n`,
        );
        if (r.fault) io.out(`the module was stopped (${r.fault.kind}): ${r.fault.message}\n`);
        if (r.strayWrites.length > 0) io.out(`frames it never held changed: ${r.strayWrites.join(", ")}\n`);
        if (r.spinning) io.out("it kept working on every step after the backend went quiet (a livelock)\n");
        for (const v of r.violations) io.out(`protocol checker: ${v}\n`);
        if (!bad) io.out("no trap, no write outside its memory, no spinning\n");
      }
      return bad ? EXIT_FAILURE : EXIT_OK;
    }

    if (typeof values.scenario === "string" && isSystemScenario(values.scenario)) {
      return runSystemCommand(
        {
          scenario: values.scenario,
          ...(typeof values.seed === "string" ? { seed: wholeNumber("--seed", values.seed, 0) } : {}),
          ...(typeof values.seeds === "string" ? { seeds: wholeNumber("--seeds", values.seeds, 1) } : {}),
          ...(typeof values.from === "string" ? { from: wholeNumber("--from", values.from, 0) } : {}),
          ...(typeof values.faults === "string" ? { faults: values.faults } : {}),
          ...(typeof values.mutant === "string" ? { mutant: values.mutant } : {}),
          out: outDir,
          trace: values.trace === true,
          json,
        },
        io,
      );
    }
    let scenario = scenarioNamed(
      typeof values.scenario === "string" ? values.scenario : "io-verify",
      typeof values.faults === "string" ? parseFaults(values.faults) : undefined,
    );
    if (typeof values.mutant === "string") scenario = withMutant(scenario, values.mutant);
    const frames = values["guest-frames"];
    if (typeof frames === "string") {
      scenario = { ...scenario, guestFrames: wholeNumber("--guest-frames", frames, MIN_GUEST_FRAMES) };
    }

    if (typeof values.seeds === "string") {
      const count = wholeNumber("--seeds", values.seeds, 1);
      const from = typeof values.from === "string" ? wholeNumber("--from", values.from, 0) : 1;
      const workers =
        typeof values.workers === "string" ? wholeNumber("--workers", values.workers, 0) : undefined;
      const s = await sweep(scenario, from, count, workers === undefined ? {} : { workers });
      const first = s.failures[0];
      let shrunk: SimResult | null = null;
      if (first !== undefined) {
        shrunk = shrink(scenario, runSim(scenario, first.seed, { trace: false }));
        writeFiles(io, outDir, scenario, first.seed, shrunk, json);
      }
      if (json) {
        io.out(
          `${JSON.stringify({ ...s, seedsPerSecond: s.seeds / s.seconds, requestsPerSecond: s.requests / s.seconds, shrunk: shrunk ? runSummary(shrunk) : null }, null, 2)}\n`,
        );
      } else {
        io.out(
          `scenario ${scenario.name}: ${s.seeds} seeds from ${from}, ${s.failures.length} failing; ${s.steps} steps, ${s.requests} requests in ${s.seconds.toFixed(1)} s (${(s.seeds / s.seconds).toFixed(0)} seeds/s, ${(s.requests / s.seconds).toFixed(0)} simulated requests/s)\n`,
        );
        for (const f of s.failures.slice(0, 10))
          io.out(`  seed ${f.seed}: ${f.invariant} at step ${f.step}: ${f.detail}\n`);
        if (shrunk) io.out(shrunkText(first!.seed, shrunk));
      }
      return s.failures.length === 0 ? EXIT_OK : EXIT_FAILURE;
    }

    const seed = typeof values.seed === "string" ? wholeNumber("--seed", values.seed, 0) : 1;
    const perfetto = typeof values.perfetto === "string" ? values.perfetto : undefined;
    if (perfetto !== undefined) checkWritable(perfetto, "--perfetto");
    const recorder = perfetto !== undefined ? TraceBuffer.create({ records: 1 << 18 }) : undefined;
    const r = runSim(scenario, seed, recorder !== undefined ? { recorder } : {});
    if (perfetto !== undefined && recorder !== undefined) {
      const t = toChromeTrace([recorder]);
      writeFileSync(perfetto, JSON.stringify(t));
      io.err(
        `trace: ${t.traceEvents.length} events in virtual time (1 tick = 1 µs) written to ${perfetto}\n`,
      );
    }
    if (r.ok) {
      if (json) io.out(`${JSON.stringify(runSummary(r), null, 2)}\n`);
      else {
        if (values.trace) io.out(`${r.trace.join("\n")}\n`);
        io.out(describeResult(r));
      }
      return EXIT_OK;
    }
    const shrunk = shrink(scenario, r);
    writeFiles(io, outDir, scenario, seed, shrunk, json);
    if (json) io.out(`${JSON.stringify({ ...runSummary(r), shrunk: runSummary(shrunk) }, null, 2)}\n`);
    else {
      if (values.trace) io.out(`${r.trace.join("\n")}\n`);
      io.out(describeResult(r));
      io.out(shrunkText(seed, shrunk));
    }
    return EXIT_FAILURE;
  },
};

function wholeNumber(flag: string, text: string, min: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min) {
    throw configError(
      "pvscsi sim",
      `${flag} wants a whole number ≥ ${min}, not '${text}' (see 'pvscsi sim --help')`,
    );
  }
  return n;
}

function withMutant(s: Scenario, name: string): Scenario {
  if ((BACKEND_MUTANTS as readonly string[]).includes(name)) {
    return { ...s, mutation: { backend: name as VhostMutation } };
  }
  if ((FRONTEND_MUTANTS as readonly string[]).includes(name)) {
    return { ...s, mutation: { frontend: name as FrontendMutation } };
  }
  throw configError(
    "pvscsi sim",
    `no mutant '${name}' (there are: ${[...BACKEND_MUTANTS, ...FRONTEND_MUTANTS].join(", ")})`,
  );
}

/** A `--attacks` list: ring attack classes, comma-separated, or `all`. */
function parseBackAttacks(text: string): BackAttackClass[] {
  if (text === "all") return [...BACK_ATTACK_CLASSES];
  if (text === "none" || text === "") return [];
  return text.split(",").map((a) => {
    const t = a.trim() as BackAttackClass;
    if (!BACK_ATTACK_CLASSES.includes(t))
      throw configError("pvscsi sim", `no ring attack '${a}' (there are: ${BACK_ATTACK_CLASSES.join(", ")})`);
    return t;
  });
}

function describeResult(r: SimResult): string {
  const s = r.stats;
  const head = `scenario ${r.scenario}${r.seed === null ? " (replay)" : `, seed ${r.seed}`}: ${s.steps} steps, ${s.ticks} ticks, ${s.submitted} commands submitted, ${s.completed} completed, ${s.faults} faults, ${s.bytes} bytes verified${s.tapeBackups + s.tapeRestarts > 0 ? `, ${s.tapeBackups} tape backups verified, ${s.tapeRestarts} rewinds after a lost position` : ""}\n`;
  const tail = `trace sha256 ${r.traceDigest}\n`;
  if (r.violation === null) return `${head}no invariant violated\n${tail}`;
  const v = r.violation;
  return `${head}VIOLATION of ${v.invariant} at step ${v.step}: ${v.detail}\n${tail}`;
}

function shrunkText(seed: number, shrunk: SimResult): string {
  const lines = shrunk.trace;
  const shown = lines.length > 80 ? ["...", ...lines.slice(-80)] : lines;
  return `\nshrunk: seed ${seed} reproduces in ${shrunk.stats.steps} steps (${shrunk.choices.length} choices); the shortest run found:\n${shown.join("\n")}\n`;
}

function writeFiles(
  io: CliIo,
  dir: string,
  scenario: Scenario,
  seed: number,
  shrunk: SimResult,
  json: boolean,
): void {
  const base = join(dir, `sim-${scenario.name}-${seed}`);
  writeFileSync(`${base}.replay.json`, `${JSON.stringify(replayFile(scenario, seed, shrunk))}\n`);
  writeFileSync(`${base}.trace.txt`, `${shrunk.trace.join("\n")}\n`);
  if (!json) io.out(`wrote ${base}.replay.json (pvscsi sim --replay it) and ${base}.trace.txt\n`);
  else io.err(`wrote ${base}.replay.json and ${base}.trace.txt\n`);
}

/** `--out DIR` must name an existing folder: replay files and traces are written there, never a new path. */
function checkOutDir(dir: string): void {
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw configError(`--out ${dir}`, "folder does not exist");
  }
  if (!isDir) throw configError(`--out ${dir}`, "is not a folder");
}
