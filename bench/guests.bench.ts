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
import { GUEST_BS as BS, GUEST_DEPTH as DEPTH, measureGuests } from "./_guests.js";

const RUN_SECONDS = Number(process.env.PVSCSI_BENCH_SECONDS ?? 1);
const COUNTS = [1, 2, 4, 8, 16];
const MAX = COUNTS[COUNTS.length - 1]!;
const REPEATS = 3;
const GOAL_AGGREGATE = 0.9;
const GOAL_FAIRNESS = 0.7;

const { rows, error } = await measureGuests(COUNTS, RUN_SECONDS, REPEATS);
if (error !== undefined) {
  // Report what stopped this guest count (memory, domids, ports…); the rows so far print.
  process.stderr.write(`${error}\n`);
  process.exitCode = 1;
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
