/**
 * `npm run bench [filter...] [-- options]`: run every `bench/*.bench.ts` (or those whose name
 * contains a filter) one after another, each in its own process so one benchmark's garbage and
 * JIT state do not colour the next. Each file prints its own table with absolute figures and
 * the ratios that matter, measured in the same run; the goal table (goals.bench.ts) runs last.
 *
 * `--short` (or PVSCSI_BENCH_SHORT=1): the short mode, which runs only the goal table (unless
 * filters name others) with short rounds, well under a minute; it sets PVSCSI_BENCH_SHORT=1
 * and, unless set, PVSCSI_BENCH_SECONDS=0.2 for the files it runs. Other `--name[=value]`
 * options go to every file run (goals.bench.ts takes --rounds, --seconds, --steady, --only,
 * --json, --svg). Every file runs with `--require bench/_gc-preload.cjs`, which lets a bench
 * count garbage collections in the workers it starts.
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

const dir = fileURLToPath(new URL(".", import.meta.url));
const args = process.argv.slice(2);
const short = args.includes("--short") || process.env.PVSCSI_BENCH_SHORT === "1";
const options = args.filter((a) => a.startsWith("--") && a !== "--short");
const filters = args.filter((a) => !a.startsWith("--"));
const GOALS = "goals.bench.ts";
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => (filters.length === 0 ? !short || f === GOALS : filters.some((x) => f.includes(x))))
  // The goal table last: it is what a whole run is read for.
  .sort((a, b) => Number(a === GOALS) - Number(b === GOALS) || a.localeCompare(b));
if (files.length === 0) {
  process.stderr.write(`no benchmark matches ${filters.join(" ")}\n`);
  process.exit(2);
}
const env = short
  ? {
      ...process.env,
      PVSCSI_BENCH_SHORT: "1",
      PVSCSI_BENCH_SECONDS: process.env.PVSCSI_BENCH_SECONDS ?? "0.2",
    }
  : process.env;
let failed = 0;
for (const f of files) {
  process.stdout.write(`\n=== ${f}\n`);
  const r = spawnSync(
    process.execPath,
    ["--require", `${dir}_gc-preload.cjs`, "--import", "tsx", `${dir}${f}`, ...options],
    { stdio: "inherit", env },
  );
  if (r.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
