import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * The goal-table bench's short mode, through `npm run bench`'s dispatcher (bench/run.ts): it
 * runs, prints the goal table, and writes the JSON result and the SVG with every goal row —
 * those it measured with figures, the sections left out marked "not measured" with the reason.
 * A subset of sections (no poll host per round, no 16 guests) and one short round keep it well
 * inside a minute on two busy cores. No timing is asserted: figures on a shared machine mean
 * nothing; the structure does.
 */
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "pvscsi-goals-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const GOAL_IDS = [
  "event-qd16",
  "qd1-p50",
  "qd1-p99",
  "poll-vs-postmessage",
  "poll-vs-one-thread",
  "read-128k",
  "dd-read",
  "dd-write",
  "guests-aggregate",
  "guests-fairness",
  "gc",
];

interface GoalJson {
  id: string;
  figure: string;
  pvscsi: string;
  reference: string;
  ratio: number | null;
  sense: string;
  goal: number;
  met: boolean | null;
  note?: string;
}

// The run's own settings, not the caller's.
const { PVSCSI_BENCH_SECONDS: _seconds, PVSCSI_BENCH_SHORT: _short, ...benchEnv } = process.env;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Run node with `args` in the repository, without blocking this worker; killed after 110 s. */
function runNode(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env: benchEnv });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 110_000);
    child.once("error", reject);
    child.once("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

describe("npm run bench -- --short (goal table)", () => {
  const json = join(dir, "goals.json");
  const svg = join(dir, "goals.svg");
  let run!: Run;
  beforeAll(async () => {
    run = await runNode([
      "--import",
      "tsx",
      join(ROOT, "bench", "run.ts"),
      "goals",
      "--short",
      "--rounds=1",
      "--seconds=0.1",
      "--steady=5000",
      "--only=c,js,event,dd,gc",
      `--json=${json}`,
      `--svg=${svg}`,
    ]);
  }, 120_000);

  it("exits 0 and prints the goal table with its columns and the machine's load", () => {
    expect([run.status, run.stderr]).toEqual([0, expect.any(String)]);
    expect(run.stdout).toContain("=== goals.bench.ts");
    expect(run.stdout).toMatch(
      /goal table \(short mode, 1 interleaved rounds of 0\.1 s, \d+ CPUs, load [\d.]+/,
    );
    for (const col of ["figure", "pvscsi", "reference", "ratio", "goal", "met?"])
      expect(run.stdout).toContain(col);
    expect(run.stdout).toContain("null 4 KiB QD16, event mode");
  });

  it("writes a JSON result: every goal row, settings, machine, per-round figures", () => {
    const r = JSON.parse(readFileSync(json, "utf8"));
    expect(r).toMatchObject({
      schema: 1,
      mode: "short",
      settings: { rounds: 1, seconds: 0.1, steadyRequests: 5000 },
    });
    expect(r.machine.atStart).toMatchObject({ cpus: expect.any(Number), node: process.version });
    expect(r.machine.atStart.loadavg).toHaveLength(3);
    expect(r.errors).toEqual([]);
    const goals = r.goals as GoalJson[];
    expect(goals.map((g) => g.id)).toEqual(GOAL_IDS);
    const byId = new Map(goals.map((g) => [g.id, g]));
    // Measured in this run: a ratio and a verdict.
    for (const id of ["event-qd16", "qd1-p50", "qd1-p99", "read-128k", "dd-read", "dd-write", "gc"]) {
      const g = byId.get(id)!;
      expect([id, typeof g.ratio, typeof g.met]).toEqual([id, "number", "boolean"]);
    }
    // Left out by --only: no figure, and the reason.
    for (const id of ["poll-vs-postmessage", "poll-vs-one-thread", "guests-aggregate", "guests-fairness"]) {
      const g = byId.get(id)!;
      expect([id, g.ratio, g.met]).toEqual([id, null, null]);
      expect(g.note).toMatch(/not run/);
    }
    // Each figure has its rounds; ratios are of figures from the same run.
    for (const key of [
      "pv.event.rps",
      "c.event.rps",
      "c.lat.p50",
      "pv.qd1.p99_9",
      "js.ceiling.rps",
      "js.sab.wait.rps",
    ])
      expect([key, r.figures[key]?.rounds.length]).toEqual([key, 1]);
    expect(byId.get("event-qd16")!.ratio).toBeCloseTo(
      r.figures["pv.event.rps"].median / r.figures["c.event.rps"].median,
    );
    // GCs were counted in the workers (by the --require preload run.ts adds).
    expect(r.gc).toMatchObject({ requests: 5000, workerGcs: expect.any(Number) });
  });

  it("draws the SVG: one bar per goal row, the goal line, the run's caption", () => {
    expect(existsSync(svg)).toBe(true);
    const s = readFileSync(svg, "utf8");
    expect(s.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(s.trimEnd().endsWith("</svg>")).toBe(true);
    expect(s.match(/<rect x="\d+" y=/g)).toHaveLength(GOAL_IDS.length);
    expect(s).toMatch(/<title>pvscsi: [^<]*short mode/);
    expect(s).toContain(">goal</text>");
    expect(s).toContain("short mode, 1 interleaved rounds");
    expect(s.match(/not measured \([^)]*not run/g)).toHaveLength(4);
  });
});
