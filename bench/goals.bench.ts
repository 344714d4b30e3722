/**
 * The goal table of the performance issue, from one run: every pvscsi figure next to its
 * reference measured in the same run, as interleaved rounds (A B A B …), each goal's ratio the
 * median of the per-round ratios. The references: Xen's io/ring.h macros in C between two
 * pthreads (poll, futex event channel with req/rsp_event suppression, QD1 round trip), a naive
 * JS SharedArrayBuffer ring between two workers (spin, Atomics.wait), postMessage between the
 * product's own two workers, the device called directly without the ring, `Uint8Array.set`
 * between SharedArrayBuffers, and the one-thread ceiling (scsifront and scsiback in one thread,
 * no waits). Also guest `dd bs=1M`, 16 guests' aggregate and fairness, and the GCs of a
 * steady-state run (counted in every worker by bench/_gc-preload.cjs, which `bench/run.ts`
 * loads with --require).
 *
 * `npm run bench goals` (full: 5 rounds of 1 s, a 10-million-request steady state);
 * `npm run bench -- --short` (this file only: 2 rounds of 0.2 s, well under a minute).
 * Options: --short, --rounds=N, --seconds=S, --steady=N (requests), --only=c,js,event,poll,dd,guests,gc,
 * --json=PATH (default bench/results/<date>.json), --svg=PATH (default docs/bench-goals.svg in
 * the full mode, next to the JSON in the short mode). Goals not met do not fail the run; a
 * measurement that fails is reported, its rows say "not measured", and the exit code is 1.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Host } from "../src/toolstack/host.js";
import { buildCReference, runCReference } from "./_c-ref.js";
import { type GoalRow, goalSvg, met, tableRows } from "./_goal-table.js";
import { GUEST_DEPTH, type GuestsRow, measureGuests } from "./_guests.js";
import { copyRate, deviceDirect, oneThreadCeiling, sabRing } from "./_refs.js";

const SECTIONS = ["c", "js", "event", "poll", "dd", "guests", "gc"] as const;
type Section = (typeof SECTIONS)[number];

// ---- settings ------------------------------------------------------------------------------
const opts = new Map<string, string>();
for (const a of process.argv.slice(2)) {
  const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
  if (!m || !["short", "rounds", "seconds", "steady", "only", "json", "svg"].includes(m[1]!)) {
    process.stderr.write(`goals.bench: unknown argument '${a}'\n`);
    process.exit(2);
  }
  opts.set(m[1]!, m[2] ?? "");
}
const SHORT = opts.has("short") || process.env.PVSCSI_BENCH_SHORT === "1";
const num = (name: string, fallback: number): number => {
  const v = opts.get(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) {
    process.stderr.write(`goals.bench: --${name} needs a positive number\n`);
    process.exit(2);
  }
  return n;
};
const ROUNDS = Math.round(num("rounds", SHORT ? 2 : 5));
const SECONDS = num("seconds", Number(process.env.PVSCSI_BENCH_SECONDS ?? (SHORT ? 0.2 : 1)));
const STEADY = Math.round(num("steady", SHORT ? 50_000 : 10_000_000));
const DD_MIB = SHORT ? 16 : 128;
const RAM_MIB = SHORT ? 64 : 256;
// The short mode checks the machinery, not the figure: 4 guests start much faster than 16.
const GUEST_COUNTS = SHORT ? [1, 4] : [1, 2, 4, 8, 16];
const GUEST_REPEATS = SHORT ? 1 : 3;
const only = opts.get("only");
const sections = new Set<Section>(
  only === undefined ? SECTIONS : (only.split(",").filter((s) => s !== "") as Section[]),
);
for (const s of sections)
  if (!SECTIONS.includes(s)) {
    process.stderr.write(`goals.bench: --only takes ${SECTIONS.join(",")}\n`);
    process.exit(2);
  }
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const started = new Date();
const stamp = started.toISOString().replace(/[:.]/g, "-");
const jsonPath = opts.get("json") || join(ROOT, "bench", "results", `${stamp}${SHORT ? "-short" : ""}.json`);
const svgPath =
  opts.get("svg") ||
  (SHORT ? `${jsonPath.replace(/\.json$/, "")}.svg` : join(ROOT, "docs", "bench-goals.svg"));

const machine = () => ({
  loadavg: os.loadavg(),
  cpus: os.cpus().length,
  availableParallelism: os.availableParallelism(),
  cpuModel: os.cpus()[0]?.model ?? "unknown",
  totalMemBytes: os.totalmem(),
  node: process.version,
  platform: `${process.platform} ${os.release()} ${process.arch}`,
  date: new Date().toISOString(),
});
const machineAtStart = machine();

// ---- samples ---------------------------------------------------------------------------------
/** figure name → its value in each round (index = round; undefined when not measured). */
const samples = new Map<string, Array<number | undefined>>();
const errors: string[] = [];
const put = (key: string, round: number, v: number) => {
  const xs = samples.get(key) ?? [];
  xs[round] = v;
  samples.set(key, xs);
};
const median = (xs: readonly number[]): number | null => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const valuesOf = (key: string): number[] =>
  (samples.get(key) ?? []).filter((x): x is number => x !== undefined && Number.isFinite(x));
const med = (key: string): number | null => median(valuesOf(key));
/** The median over rounds of a[r] / b[r], over the rounds that measured both. */
const ratioOf = (a: string, b: string): number | null => {
  const xa = samples.get(a) ?? [];
  const xb = samples.get(b) ?? [];
  const rs: number[] = [];
  for (let r = 0; r < Math.max(xa.length, xb.length); r++) {
    const va = xa[r];
    const vb = xb[r];
    if (va !== undefined && vb !== undefined && vb > 0) rs.push(va / vb);
  }
  return median(rs);
};

async function step(label: string, f: () => Promise<void> | void): Promise<void> {
  try {
    await f();
  } catch (e) {
    const msg = `${label}: ${e instanceof Error ? e.message : String(e)}`;
    errors.push(msg);
    process.stderr.write(`goals.bench: ${msg}\n`);
  }
}

// ---- the C reference -------------------------------------------------------------------------
let cExe: string | null = null;
let cSkipped: string | undefined;
if (sections.has("c")) {
  const b = buildCReference();
  if ("exe" in b) cExe = b.exe;
  else cSkipped = b.skipped;
} else cSkipped = "not run (--only)";

// ---- GC reports from every thread (bench/_gc-preload.cjs), kept from the start ----------------
interface GcEvent {
  threadId: number;
  main: boolean;
  role: string;
  at: number;
  kind: number;
}
const gcEvents: GcEvent[] = [];
const gcChannel =
  sections.has("gc") && (globalThis as { __pvscsiBenchGcPreload?: boolean }).__pvscsiBenchGcPreload === true
    ? new BroadcastChannel("pvscsi-bench-gc")
    : null;
if (gcChannel !== null) gcChannel.onmessage = (m: MessageEvent) => gcEvents.push(m.data as GcEvent);

// ---- pvscsi hosts ----------------------------------------------------------------------------
const GUEST = `name = "bench"\nmemory = 64\nvscsi = [ '0:0:0:0,0:0:0:0', '0:0:1:0,0:0:1:0' ]\n`;
type IoResult = {
  ops: number;
  bytes: number;
  seconds: number;
  errors: number;
  clat?: { p50: number; p99: number; p99_9: number; samples: number };
};
async function iobench(host: Host, argv: string[]): Promise<IoResult> {
  const r = await host.guestCommand("bench", ["iobench", ...argv, "--json"]);
  if (r.exitCode !== 0) throw new Error(`iobench ${argv.join(" ")}: ${r.stdout}${r.stderr}`);
  const res = JSON.parse(r.stdout) as IoResult;
  if (res.errors > 0) throw new Error(`iobench ${argv.join(" ")}: ${res.errors} commands failed`);
  return res;
}
async function startHost(poll: boolean, ramMiB: number): Promise<Host> {
  const host = await Host.start({
    pollMode: poll,
    // As bench/pvscsi.bench.ts: the poll figure measures both ends spinning.
    ...(poll ? { pollThreads: 2 } : {}),
    hostConfig: {
      text: `[null 0:0:0:0]\n[disk 0:0:1:0]\nsize = ${ramMiB}M\n`,
      source: "bench",
      baseDir: os.tmpdir(),
    },
  });
  try {
    await host.create(GUEST, "bench.cfg");
    // Warm-up (JIT, the guest's buffers) outside the figures.
    await iobench(host, ["--count=2000", "/dev/sda"]);
  } catch (e) {
    await host.shutdown();
    throw e;
  }
  return host;
}
const needEventHost = sections.has("event") || sections.has("dd") || sections.has("gc");
let eventHost: Host | null = null;
if (needEventHost)
  await step("starting the event-mode host", async () => {
    eventHost = await startHost(false, RAM_MIB);
    // Every chunk of the RAM disk written once, so reads copy data, not zero-fill.
    const r = await eventHost.guestCommand("bench", [
      "dd",
      "of=/dev/sdb",
      "if=pattern:1",
      "bs=1M",
      `count=${RAM_MIB}`,
    ]);
    if (r.exitCode !== 0) throw new Error(`dd: ${r.stdout}${r.stderr}`);
    // The 128 KiB and QD1 paths warmed too.
    await iobench(eventHost, ["--count=500", "--bs=128k", "/dev/sdb"]);
    await iobench(eventHost, ["--count=500", "--iodepth=1", "--lat", "/dev/sda"]);
  });

const ddRate = (out: string): number => {
  const m = /([\d.]+) ([kMG]?)B\/s/.exec(out);
  if (!m) throw new Error(`dd printed no rate: ${out}`);
  return Number(m[1]) * ({ "": 1, k: 1e3, M: 1e6, G: 1e9 } as Record<string, number>)[m[2]!]!;
};

// ---- interleaved rounds --------------------------------------------------------------------
const t0 = performance.now();
if (sections.has("js"))
  await step("warming up the in-process references", () => {
    // Their first run in a process is mostly V8's tiers compiling (the one-thread ceiling runs
    // several times faster by its third run): warmed here, outside the rounds.
    for (let i = 0; i < 3; i++) {
      oneThreadCeiling(Math.min(SECONDS, 0.3));
      deviceDirect("null", 4096, Math.min(SECONDS, 0.1));
      copyRate(128 << 10, Math.min(SECONDS, 0.1));
    }
  });
/** A measurement of one round, or null when its section is not run. */
type Measure = ((r: number) => Promise<void>) | null;
const E = eventHost as Host | null;
const ev = sections.has("event") && E !== null;
const c = cExe;
const js = sections.has("js");
const measure = (on: boolean, label: string, f: (r: number) => Promise<void> | void): Measure =>
  on ? (r) => step(label, () => f(r)) : null;
/**
 * Each round runs these groups in order; within a group, pvscsi's figure and its reference(s)
 * run back to back, pvscsi first in even rounds and last in odd ones (A B, B A …), so a drift
 * of the machine during a round does not favour one side.
 */
const groups: Measure[][] = [
  [
    measure(ev, "pvscsi event QD16", async (r) => {
      const x = await iobench(E!, [`--runtime=${SECONDS}`, "--iodepth=16", "--bs=4k", "/dev/sda"]);
      put("pv.event.rps", r, x.ops / x.seconds);
    }),
    measure(c !== null, "C event", (r) => put("c.event.rps", r, runCReference(c!, "event", SECONDS).rps)),
  ],
  [
    measure(ev, "pvscsi event QD1 latency", async (r) => {
      const x = await iobench(E!, [`--runtime=${SECONDS}`, "--iodepth=1", "--bs=4k", "--lat", "/dev/sda"]);
      if (!x.clat) throw new Error("iobench --lat gave no clat");
      put("pv.qd1.p50", r, x.clat.p50);
      put("pv.qd1.p99", r, x.clat.p99);
      put("pv.qd1.p99_9", r, x.clat.p99_9);
      put("pv.qd1.rps", r, x.ops / x.seconds);
    }),
    measure(c !== null, "C QD1 latency", (r) => {
      const x = runCReference(c!, "lat", SECONDS);
      put("c.lat.p50", r, x.p50_ns!);
      put("c.lat.p99", r, x.p99_ns!);
      put("c.lat.p99_9", r, x.p99_9_ns!);
      put("c.lat.rps", r, x.rps);
    }),
  ],
  [
    measure(ev, "pvscsi 128 KiB reads", async (r) => {
      const x = await iobench(E!, [`--runtime=${SECONDS}`, "--iodepth=16", "--bs=128k", "/dev/sdb"]);
      put("pv.read128k.Bps", r, x.bytes / x.seconds);
    }),
    measure(js, "Uint8Array.set 128 KiB", (r) =>
      put("js.set128k.Bps", r, copyRate(128 << 10, SECONDS).perSecond),
    ),
    measure(js, "Uint8Array.set 4 KiB", (r) => put("js.set4k.Bps", r, copyRate(4096, SECONDS).perSecond)),
    measure(js, "RAM disk direct 128 KiB", (r) =>
      put("js.device.ram128k.Bps", r, deviceDirect("ram", 128 << 10, SECONDS).perSecond * (128 << 10)),
    ),
  ],
  [
    measure(sections.has("poll"), "pvscsi poll QD16", async (r) => {
      // Started for this measurement alone: its spinning threads would take the cores from
      // every other measurement of the round.
      const P = await startHost(true, 16);
      try {
        const x = await iobench(P, [`--runtime=${SECONDS}`, "--iodepth=16", "--bs=4k", "/dev/sda"]);
        put("pv.poll.rps", r, x.ops / x.seconds);
      } finally {
        await P.shutdown();
      }
    }),
    measure(ev, "postMessage", async (r) => {
      const x = await E!.postMessageBaseline("bench", "0:0:0:0", {
        write: false,
        blockSize: 4096,
        depth: 16,
        runtimeMs: SECONDS * 1000,
        spanBytes: 256 << 20,
      });
      put("pv.postmessage.rps", r, x.ops / x.seconds);
    }),
    measure(js, "one-thread ceiling", (r) => put("js.ceiling.rps", r, oneThreadCeiling(SECONDS).perSecond)),
    measure(c !== null, "C poll", (r) => put("c.poll.rps", r, runCReference(c!, "poll", SECONDS).rps)),
    measure(js, "JS SAB ring, spin", async (r) =>
      put("js.sab.spin.rps", r, (await sabRing("spin", SECONDS)).perSecond),
    ),
    measure(js, "JS SAB ring, Atomics.wait", async (r) =>
      put("js.sab.wait.rps", r, (await sabRing("wait", SECONDS)).perSecond),
    ),
    measure(js, "null device direct", (r) =>
      put("js.device.null4k.rps", r, deviceDirect("null", 4096, SECONDS).perSecond),
    ),
  ],
  [
    measure(sections.has("dd") && E !== null, "guest dd", async (r) => {
      for (const [key, argv] of [
        ["pv.dd.write.Bps", ["dd", "of=/dev/sdb", "if=pattern:1", "bs=1M", `count=${DD_MIB}`]],
        ["pv.dd.read.Bps", ["dd", "if=/dev/sdb", "bs=1M", `count=${DD_MIB}`]],
      ] as const) {
        const x = await E!.guestCommand("bench", [...argv]);
        if (x.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${x.stdout}${x.stderr}`);
        put(key, r, ddRate(`${x.stdout}${x.stderr}`));
      }
    }),
  ],
];
for (let r = 0; r < ROUNDS; r++) {
  process.stderr.write(`goals.bench: round ${r + 1}/${ROUNDS}\n`);
  for (const g of groups) for (const m of r % 2 === 0 ? g : [...g].reverse()) if (m !== null) await m(r);
}

// ---- steady state: GCs ----------------------------------------------------------------------
let gc: {
  requests: number;
  seconds: number;
  workerGcs: number;
  mainGcs: number;
  byThread: Record<string, number>;
  /** Worker threads that reported any GC since the bench started (the channel works for them). */
  workersReporting: number;
} | null = null;
let gcNote: string | undefined;
if (sections.has("gc")) {
  if (gcChannel === null) gcNote = "run through npm run bench (needs --require bench/_gc-preload.cjs)";
  else if (E === null) gcNote = "no event-mode host";
  else
    await step("steady state GCs", async () => {
      process.stderr.write(`goals.bench: steady state, ${STEADY.toLocaleString("en-US")} requests\n`);
      const from = performance.timeOrigin + performance.now();
      const x = await iobench(E, [
        `--count=${STEADY}`,
        "--runtime=3600",
        "--iodepth=16",
        "--bs=4k",
        "/dev/sda",
      ]);
      const to = performance.timeOrigin + performance.now();
      // Observers report from each thread's event loop, after the GC: a command through both
      // workers turns their loops, then a moment for the reports to arrive. Each GC is placed
      // by its own start time, so one reported late still counts in the run it happened in.
      await E.guestCommand("bench", ["iobench", "--count=16", "/dev/sda"]);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const inRun = gcEvents.filter((e) => e.at >= from && e.at <= to);
      const byThread: Record<string, number> = {};
      for (const e of inRun) {
        const name = e.main ? "main" : `${e.role} (thread ${e.threadId})`;
        byThread[name] = (byThread[name] ?? 0) + 1;
      }
      const workersReporting = new Set(gcEvents.filter((e) => !e.main).map((e) => e.threadId)).size;
      gc = {
        requests: x.ops,
        seconds: x.seconds,
        workerGcs: inRun.filter((e) => !e.main).length,
        mainGcs: inRun.filter((e) => e.main).length,
        byThread,
        workersReporting,
      };
      // dom0's backend and the guest collect at least while they boot: if fewer reported at
      // all, GCs were not being observed, and a zero would mean nothing.
      if (workersReporting < 2) throw new Error(`only ${workersReporting} worker(s) ever reported a GC`);
    });
}
gcChannel?.close();
if (eventHost !== null) await (eventHost as Host).shutdown();

// ---- many guests ---------------------------------------------------------------------------
let guests: { rows: GuestsRow[]; error?: string } | null = null;
if (sections.has("guests"))
  await step("guests", async () => {
    process.stderr.write(`goals.bench: guests ${GUEST_COUNTS.join(", ")}\n`);
    guests = await measureGuests(GUEST_COUNTS, SECONDS, GUEST_REPEATS);
    if (guests.error !== undefined) throw new Error(guests.error);
  });
const elapsed = (performance.now() - t0) / 1000;

// ---- the goal table ------------------------------------------------------------------------
const k = (x: number | null, unit: string, scale = 1, digits = 0): string =>
  x === null ? "–" : `${(x / scale).toLocaleString("en-US", { maximumFractionDigits: digits })} ${unit}`;
const us = (x: number | null) => k(x, "µs", 1000, x !== null && x < 100_000 ? 1 : 0);
const skipC = cSkipped ? `C: ${cSkipped}` : undefined;
const row = (r: Omit<GoalRow, "note">, ...notes: Array<string | undefined | false>): GoalRow => {
  const note = notes.filter((n): n is string => typeof n === "string").join("; ");
  return r.ratio === null && note !== "" ? { ...r, note } : r;
};
const notRun = (s: Section) => (!sections.has(s) ? `${s} not run` : undefined);
const g16 = (guests as { rows: GuestsRow[] } | null)?.rows ?? [];
const last = g16.find((x) => x.n === Math.max(...GUEST_COUNTS));
const best = g16.length > 0 ? Math.max(...g16.map((x) => x.aggregate)) : null;
const gcResult = gc as { requests: number; workerGcs: number } | null;
const goals: GoalRow[] = [
  row(
    {
      id: "event-qd16",
      figure: "null 4 KiB QD16, event mode",
      pvscsi: k(med("pv.event.rps"), "req/s"),
      reference: `C ring.h, futex event channel: ${k(med("c.event.rps"), "req/s")}`,
      ratio: ratioOf("pv.event.rps", "c.event.rps"),
      sense: ">=",
      goal: 1,
      unit: "×",
    },
    notRun("event"),
    skipC,
  ),
  row(
    {
      id: "qd1-p50",
      figure: "QD1 4 KiB latency p50, event mode",
      pvscsi: `p50 ${us(med("pv.qd1.p50"))}`,
      reference: `C futex round trip p50 ${us(med("c.lat.p50"))}`,
      ratio: ratioOf("pv.qd1.p50", "c.lat.p50"),
      sense: "<=",
      goal: 1.5,
      unit: "×",
    },
    notRun("event"),
    skipC,
  ),
  row(
    {
      id: "qd1-p99",
      figure: "QD1 4 KiB latency p99, event mode",
      pvscsi: `p99 ${us(med("pv.qd1.p99"))} (p99.9 ${us(med("pv.qd1.p99_9"))})`,
      reference: `C p99 ${us(med("c.lat.p99"))} (p99.9 ${us(med("c.lat.p99_9"))})`,
      ratio: ratioOf("pv.qd1.p99", "c.lat.p99"),
      sense: "<=",
      goal: 3,
      unit: "×",
    },
    notRun("event"),
    skipC,
  ),
  row(
    {
      id: "poll-vs-postmessage",
      figure: "null 4 KiB QD16, poll mode vs postMessage",
      pvscsi: k(med("pv.poll.rps"), "req/s"),
      reference: `postMessage: ${k(med("pv.postmessage.rps"), "req/s")}`,
      ratio: ratioOf("pv.poll.rps", "pv.postmessage.rps"),
      sense: ">=",
      goal: 20,
      unit: "×",
    },
    notRun("poll"),
    notRun("event"),
  ),
  row(
    {
      id: "poll-vs-one-thread",
      figure: "poll mode, two threads vs the one-thread ceiling",
      pvscsi: k(med("pv.poll.rps"), "req/s"),
      reference: `front+back in one thread: ${k(med("js.ceiling.rps"), "req/s")}`,
      ratio: ratioOf("pv.poll.rps", "js.ceiling.rps"),
      sense: ">=",
      goal: 1.6,
      unit: "×",
    },
    notRun("poll"),
    notRun("js"),
  ),
  row(
    {
      id: "read-128k",
      figure: "128 KiB QD16 reads, RAM disk",
      pvscsi: k(med("pv.read128k.Bps"), "MB/s", 1e6),
      reference: `Uint8Array.set 128 KiB SAB→SAB: ${k(med("js.set128k.Bps"), "MB/s", 1e6)}`,
      ratio: ratioOf("pv.read128k.Bps", "js.set128k.Bps"),
      sense: ">=",
      goal: 0.5,
      unit: "×",
    },
    notRun("event"),
    notRun("js"),
  ),
  ...(["read", "write"] as const).map((rw) =>
    row(
      {
        id: `dd-${rw}`,
        figure: `guest dd bs=1M ${rw}, RAM disk`,
        pvscsi: k(med(`pv.dd.${rw}.Bps`), "MB/s", 1e6),
        reference: `absolute (${DD_MIB} MiB, no hashing)`,
        ratio: med(`pv.dd.${rw}.Bps`) === null ? null : med(`pv.dd.${rw}.Bps`)! / 1e6,
        sense: ">=",
        goal: 1000,
        unit: "MB/s",
      },
      notRun("dd"),
    ),
  ),
  row(
    {
      id: "guests-aggregate",
      figure: `${Math.max(...GUEST_COUNTS)} guests: aggregate vs the best count`,
      pvscsi: last ? k(last.aggregate, "IOPS") : "–",
      reference: best !== null ? `best of ${GUEST_COUNTS.join(", ")}: ${k(best, "IOPS")}` : "–",
      ratio: last && best ? last.aggregate / best : null,
      sense: ">=",
      goal: 0.9,
      unit: "×",
    },
    notRun("guests"),
    guests !== null && (guests as { error?: string }).error,
  ),
  row(
    {
      id: "guests-fairness",
      figure: `${Math.max(...GUEST_COUNTS)} guests: min/max per-guest IOPS`,
      pvscsi: last ? `min ${k(last.min, "IOPS")}` : "–",
      reference: last ? `max ${k(last.max, "IOPS")}` : "–",
      ratio: last ? last.min / last.max : null,
      sense: ">=",
      goal: 0.7,
      unit: "×",
    },
    notRun("guests"),
  ),
  row(
    {
      id: "gc",
      figure: `GCs over a ${STEADY.toLocaleString("en-US")}-request steady state`,
      pvscsi: gcResult ? `${gcResult.workerGcs} GCs in the workers` : "–",
      reference: gcResult ? `${gcResult.requests.toLocaleString("en-US")} requests, event mode QD16` : "–",
      ratio: gcResult ? gcResult.workerGcs : null,
      sense: "<=",
      goal: 0,
      unit: "GCs",
    },
    notRun("gc"),
    gcNote,
  ),
];

const figures: Record<string, { median: number | null; rounds: Array<number | null> }> = {};
for (const [key, xs] of [...samples.entries()].sort(([a], [b]) => a.localeCompare(b)))
  figures[key] = { median: med(key), rounds: Array.from(xs, (x) => x ?? null) };

const machineAtEnd = machine();
const load = `load ${machineAtStart.loadavg.map((x) => x.toFixed(2)).join(" ")} → ${machineAtEnd.loadavg
  .map((x) => x.toFixed(2))
  .join(" ")}`;
const headline = `${SHORT ? "short" : "full"} mode, ${ROUNDS} interleaved rounds of ${SECONDS} s, ${machineAtStart.cpus} CPUs, ${load}, node ${process.version}, ${started.toISOString()}`;
console.log(`\ngoal table (${headline})`);
console.table(tableRows(goals));

const refRows: Array<[string, string, string | null]> = [
  ["C ring.h, poll (2 pthreads spinning)", "c.poll.rps", "req/s"],
  ["C ring.h, futex event channel, QD16", "c.event.rps", "req/s"],
  ["C futex round trip, QD1", "c.lat.rps", "req/s"],
  ["JS SAB ring, 2 workers spinning", "js.sab.spin.rps", "req/s"],
  ["JS SAB ring, 2 workers Atomics.wait", "js.sab.wait.rps", "req/s"],
  ["postMessage, pvscsi's 2 workers, null 4 KiB QD16", "pv.postmessage.rps", "req/s"],
  ["one-thread ceiling (Pair), null 4 KiB QD16", "js.ceiling.rps", "req/s"],
  ["null device called directly, 4 KiB", "js.device.null4k.rps", "req/s"],
  ["RAM disk called directly, 128 KiB reads", "js.device.ram128k.Bps", "MB/s"],
  ["Uint8Array.set SAB→SAB, 4 KiB", "js.set4k.Bps", "MB/s"],
  ["Uint8Array.set SAB→SAB, 128 KiB", "js.set128k.Bps", "MB/s"],
  ["pvscsi event mode, null 4 KiB QD16", "pv.event.rps", "req/s"],
  ["pvscsi poll mode, null 4 KiB QD16", "pv.poll.rps", "req/s"],
  ["pvscsi event mode, QD1", "pv.qd1.rps", "req/s"],
  ["pvscsi 128 KiB QD16 reads, RAM disk", "pv.read128k.Bps", "MB/s"],
];
console.log("\nall figures (median over rounds)");
console.table(
  refRows
    .filter(([, key]) => samples.has(key))
    .map(([name, key, unit]) => ({
      figure: name,
      median: unit === "MB/s" ? k(med(key), "MB/s", 1e6) : k(med(key), unit ?? ""),
      rounds: valuesOf(key).length,
    })),
);
if (g16.length > 0) {
  console.log(`\nguests, 4 KiB reads, iodepth ${GUEST_DEPTH} per guest, ${SECONDS} s`);
  console.table(
    g16.map((x) => ({
      guests: x.n,
      "aggregate IOPS": Math.round(x.aggregate).toLocaleString("en-US"),
      "all ops / wall time": Math.round(x.wall).toLocaleString("en-US"),
      "min / max": (x.min / x.max).toFixed(2),
    })),
  );
}
if (gc !== null)
  console.log(`steady-state GCs by thread: ${JSON.stringify((gc as { byThread: object }).byThread)}`);

const result = {
  schema: 1,
  command: ["npm run bench", ...process.argv.slice(2)].join(" "),
  mode: SHORT ? "short" : "full",
  settings: {
    rounds: ROUNDS,
    seconds: SECONDS,
    steadyRequests: STEADY,
    ddMiB: DD_MIB,
    guestCounts: GUEST_COUNTS,
    sections: [...sections],
  },
  machine: { atStart: machineAtStart, atEnd: machineAtEnd },
  elapsedSeconds: elapsed,
  goals: goals.map((g) => ({ ...g, met: met(g) })),
  /** Units of `figures` by the key's last part. */
  units: { rps: "requests/s", Bps: "bytes/s", p50: "ns", p99: "ns", p99_9: "ns" },
  figures,
  guests: guests === null ? null : (guests as { rows: GuestsRow[] }).rows,
  gc,
  cReference: cExe !== null ? { built: cExe } : { skipped: cSkipped },
  errors,
};
mkdirSync(dirname(jsonPath), { recursive: true });
writeFileSync(jsonPath, `${JSON.stringify(result, null, 2)}\n`);
mkdirSync(dirname(svgPath), { recursive: true });
writeFileSync(svgPath, goalSvg(goals, "pvscsi: the performance goals (ratios in one run)", headline));
console.log(`\nJSON: ${jsonPath}\nSVG:  ${svgPath}`);
if (errors.length > 0) {
  console.log(`${errors.length} measurement(s) failed:\n  ${errors.join("\n  ")}`);
  process.exitCode = 1;
}
