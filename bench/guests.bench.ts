/**
 * Many guests on one backend: N = 1, 2, 4, 8, 16 guests (each guest's kernel in its own worker,
 * each with its own RAM disk in dom0), all running the guest's `iobench` (4 KiB reads, iodepth
 * 16, a fixed runtime) at once, through their own rings to dom0's one scsiback worker, in event
 * mode (16 polling workers on a few cores would only measure the scheduler). Per N: the
 * aggregate IOPS (the sum of the guests' own figures), the aggregate over the best N's, and the
 * fairness between guests (the slowest guest's IOPS over the fastest's). The performance
 * issue's goal is printed as met or not, without failing: "16 guests: aggregate ≥ 0.9× the best
 * guest count, min/max per-guest ≥ 0.7". Guests are destroyed between counts.
 * Each row is the median of 3 runs. `npm run bench guests`; PVSCSI_BENCH_SECONDS sets each run's
 * runtime (default 1 s).
 */
import { Host } from "../src/toolstack/host.js";

const RUN_SECONDS = Number(process.env.PVSCSI_BENCH_SECONDS ?? 1);
const COUNTS = [1, 2, 4, 8, 16];
const MAX = COUNTS[COUNTS.length - 1]!;
const DEPTH = 16;
const REPEATS = 3;
const BS = 4096;
/** Small guests and disks: 16 of each must fit next to dom0. */
const GUEST_MEMORY_MIB = 8;
const DISK_SIZE = "16M";
const GOAL_AGGREGATE = 0.9;
const GOAL_FAIRNESS = 0.7;

// One RAM disk per guest, 0:0:<i>:0, so guests share the backend, not a device's lock.
const HOST_CONFIG = Array.from({ length: MAX }, (_, i) => `[disk 0:0:${i}:0]\nsize = ${DISK_SIZE}\n`).join(
  "",
);
const guestName = (i: number) => `g${i}`;
const guestConfig = (i: number) =>
  `name = "${guestName(i)}"\nmemory = ${GUEST_MEMORY_MIB}\nvscsi = [ '0:0:${i}:0,0:0:0:0' ]\n`;

type Result = { ops: number; bytes: number; seconds: number; errors: number };

async function iobench(host: Host, name: string): Promise<Result> {
  const r = await host.guestCommand(name, [
    "iobench",
    "--rw=read",
    `--bs=${BS}`,
    `--iodepth=${DEPTH}`,
    `--runtime=${RUN_SECONDS}`,
    "--json",
    "/dev/sda",
  ]);
  if (r.exitCode !== 0) throw new Error(`${name}: iobench failed: ${r.stdout}${r.stderr}`);
  const res = JSON.parse(r.stdout) as Result;
  if (res.errors > 0) throw new Error(`${name}: ${res.errors} commands failed`);
  return res;
}

interface Row {
  readonly n: number;
  /** The sum of the guests' own IOPS (each over its own runtime, as fio's aggregate). */
  readonly aggregate: number;
  /**
   * Every guest's commands over the wall time from the first command sent to the last result:
   * lower than `aggregate` by the guests' start skew (and the command round trip); far lower
   * means the guests did not run together and `aggregate` flatters.
   */
  readonly wall: number;
  readonly min: number;
  readonly max: number;
}
const rows: Row[] = [];
const host = await Host.start({ hostConfig: { text: HOST_CONFIG, source: "bench", baseDir: "/tmp" } });
try {
  for (const n of COUNTS) {
    const names: string[] = [];
    try {
      for (let i = 0; i < n; i++) {
        await host.create(guestConfig(i), `${guestName(i)}.cfg`);
        names.push(guestName(i));
      }
      // Warm-up: each guest's first commands (JIT, page tables of its pool) outside the figure.
      await Promise.all(names.map((g) => host.guestCommand(g, ["iobench", "--count=256", "/dev/sda"])));
      // Each count runs REPEATS times; the row is the run with the median aggregate (one
      // run's min and max together, not medians taken apart).
      const runs: Row[] = [];
      for (let k = 0; k < REPEATS; k++) {
        const t0 = performance.now();
        const results = await Promise.all(names.map((g) => iobench(host, g)));
        const wall = (performance.now() - t0) / 1000;
        const iops = results.map((r) => r.ops / r.seconds);
        runs.push({
          n,
          aggregate: iops.reduce((a, b) => a + b, 0),
          wall: results.reduce((a, r) => a + r.ops, 0) / wall,
          min: Math.min(...iops),
          max: Math.max(...iops),
        });
      }
      runs.sort((a, b) => a.aggregate - b.aggregate);
      rows.push(runs[Math.floor(runs.length / 2)]!);
    } catch (e) {
      // Report what stopped this guest count (memory, domids, ports…) and go on to teardown.
      process.stderr.write(`${n} guests: ${(e as Error).message}\n`);
      process.exitCode = 1;
      break;
    } finally {
      for (const g of names) await host.destroy(g);
    }
  }
} finally {
  await host.shutdown();
}

const fmt = (x: number) => Math.round(x).toLocaleString("en-US");
const best = Math.max(...rows.map((r) => r.aggregate));
console.log(
  `${BS / 1024} KiB reads, iodepth ${DEPTH} per guest, median of ${REPEATS} × ${RUN_SECONDS} s, all guests at once, event mode, one RAM disk per guest, one dom0 backend`,
);
console.table(
  rows.map((r) => ({
    guests: r.n,
    "aggregate IOPS": fmt(r.aggregate),
    "aggregate / best": (r.aggregate / best).toFixed(2),
    "all ops / wall time": fmt(r.wall),
    "per-guest min IOPS": fmt(r.min),
    "per-guest max IOPS": fmt(r.max),
    "min / max": (r.min / r.max).toFixed(2),
  })),
);
const last = rows.find((r) => r.n === MAX);
if (last === undefined) console.log(`goal: not measured (${MAX} guests did not run)`);
else {
  const agg = last.aggregate / best;
  const fair = last.min / last.max;
  const met = (ok: boolean) => (ok ? "met" : "NOT met");
  console.log(
    `goal, ${MAX} guests: aggregate ${agg.toFixed(2)}× the best guest count (≥ ${GOAL_AGGREGATE}: ${met(agg >= GOAL_AGGREGATE)}); min/max per-guest ${fair.toFixed(2)} (≥ ${GOAL_FAIRNESS}: ${met(fair >= GOAL_FAIRNESS)})`,
  );
}
