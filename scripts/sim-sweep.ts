/**
 * The long sweep of issue 12: many seeds of every built-in scenario (each with its own faults),
 * then of `all-faults` and `tape-backup` with one fault class at a time, so every class is also
 * swept alone. Each job runs over worker threads (both cores by default). Prints a markdown
 * table (violations by scenario and invariant, seeds/s) and writes the same as JSON with
 * `--json FILE`. For each job that found a violation, its first failing seed is shrunk and
 * written as a replay file (`pvscsi sim --replay FILE`) into `--out DIR`.
 *
 *   npx tsx scripts/sim-sweep.ts [--seeds N (10000)] [--from S (1)] [--workers W (cores)]
 *                                [--only NAME,...] [--no-per-class] [--json FILE] [--out DIR]
 *   npm run sim:sweep -- --seeds 10000 --json sim-sweep.json
 *
 * Exit status 1 when any seed violated an invariant. Timings depend on the machine's load.
 */
import { writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { replayFile } from "../src/sim/replay.js";
import { runSim, shrink } from "../src/sim/run.js";
import { FAULT_CLASSES, SCENARIOS, type Scenario } from "../src/sim/scenario.js";
import { sweep } from "../src/sim/sweep.js";

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function whole(name: string, dflt: number, min: number): number {
  const text = option(name);
  if (text === undefined) return dflt;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) {
    console.error(`${name} wants a whole number ≥ ${min}, not '${text}'`);
    process.exit(2);
  }
  return n;
}

/** One sweep job: a label and the scenario it runs. */
interface Job {
  readonly label: string;
  readonly scenario: Scenario;
}

/** Every scenario with its own faults, then all-faults and tape-backup with each class alone. */
function jobs(perClass: boolean, only: readonly string[] | null): Job[] {
  const out: Job[] = [];
  for (const s of Object.values(SCENARIOS)) out.push({ label: s.name, scenario: s });
  if (perClass) {
    for (const base of ["all-faults", "tape-backup"]) {
      const s = SCENARIOS[base]!;
      for (const f of FAULT_CLASSES) {
        if (base === "tape-backup" && f === "power-loss") continue; // a tape has no volatile cache here
        out.push({ label: `${base}/${f}`, scenario: { ...s, faults: [f] } });
      }
    }
  }
  if (only === null) return out;
  const unknown = only.filter((n) => !out.some((j) => j.label === n || j.label.startsWith(`${n}/`)));
  if (unknown.length > 0) {
    console.error(
      `--only: no job named ${unknown.join(", ")} (there are: ${out.map((j) => j.label).join(", ")})`,
    );
    process.exit(2);
  }
  return out.filter((j) => only.some((n) => j.label === n || j.label.startsWith(`${n}/`)));
}

interface JobResult {
  readonly label: string;
  readonly faults: readonly string[];
  readonly seeds: number;
  readonly violations: number;
  readonly byInvariant: Record<string, number>;
  readonly firstSeeds: readonly number[];
  readonly replay: string | null;
  readonly steps: number;
  readonly requests: number;
  readonly seconds: number;
}

async function main(): Promise<number> {
  const seeds = whole("--seeds", 10_000, 1);
  const from = whole("--from", 1, 0);
  const workers = whole("--workers", availableParallelism(), 0);
  const json = option("--json");
  const outDir = option("--out") ?? ".";
  const onlyText = option("--only");
  const list = jobs(!process.argv.includes("--no-per-class"), onlyText ? onlyText.split(",") : null);
  const results: JobResult[] = [];
  const t0 = performance.now();
  for (const j of list) {
    const r = await sweep(j.scenario, from, seeds, { workers });
    const byInvariant: Record<string, number> = {};
    for (const f of r.failures) byInvariant[f.invariant] = (byInvariant[f.invariant] ?? 0) + 1;
    let replay: string | null = null;
    const first = r.failures[0];
    if (first !== undefined) {
      const shrunk = shrink(j.scenario, runSim(j.scenario, first.seed, { trace: false }));
      replay = join(outDir, `sim-${j.label.replace("/", "-")}-${first.seed}.replay.json`);
      writeFileSync(replay, `${JSON.stringify(replayFile(j.scenario, first.seed, shrunk))}\n`);
    }
    const res: JobResult = {
      label: j.label,
      faults: j.scenario.faults,
      seeds: r.seeds,
      violations: r.failures.length,
      byInvariant,
      firstSeeds: r.failures.slice(0, 10).map((f) => f.seed),
      replay,
      steps: r.steps,
      requests: r.requests,
      seconds: r.seconds,
    };
    results.push(res);
    console.error(
      `${j.label}: ${r.seeds} seeds, ${r.failures.length} violations, ${r.seconds.toFixed(1)} s${replay ? ` (replay: ${replay})` : ""}`,
    );
  }
  const seconds = (performance.now() - t0) / 1000;
  const total = results.reduce((a, r) => a + r.violations, 0);
  const summary = {
    from,
    seedsPerJob: seeds,
    workers,
    jobs: results.length,
    seeds: results.reduce((a, r) => a + r.seeds, 0),
    violations: total,
    steps: results.reduce((a, r) => a + r.steps, 0),
    requests: results.reduce((a, r) => a + r.requests, 0),
    seconds,
    results,
  };
  if (json !== undefined) writeFileSync(json, `${JSON.stringify(summary, null, 2)}\n`);
  const lines = [
    `Seeds ${from}–${from + seeds - 1} of each job, ${workers} worker(s): ${summary.seeds} seeds, ${summary.violations} violations, ${summary.requests} simulated requests in ${seconds.toFixed(0)} s.`,
    "",
    "| job | faults | seeds | violations | by invariant | first failing seeds | seeds/s |",
    "| --- | --- | ---: | ---: | --- | --- | ---: |",
    ...results.map(
      (r) =>
        `| ${r.label} | ${r.faults.join(", ") || "none"} | ${r.seeds} | ${r.violations} | ${
          Object.entries(r.byInvariant)
            .map(([k, v]) => `${k} ${v}`)
            .join(", ") || "—"
        } | ${r.firstSeeds.join(", ") || "—"} | ${(r.seeds / r.seconds).toFixed(0)} |`,
    ),
  ];
  console.log(lines.join("\n"));
  return total === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e);
    process.exit(2);
  },
);
