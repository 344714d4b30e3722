/**
 * Requests per second through the full stack — guest scsifront in its worker, the shared ring,
 * grants and event channels, dom0's scsiback in its worker, the device — with the null device
 * and a RAM disk (4 KiB and 128 KiB), in event mode (event channels with notification
 * suppression) and in poll mode (both ends poll the ring). The baseline: the same commands sent
 * as postMessages between the same two workers (measured with the event-mode host, whose loops
 * sleep, so the baseline has both cores). Each figure is the median of 3 one-second runs; the
 * ratios are of figures from this run.
 */
import { Host } from "../src/toolstack/host.js";

const RUN_SECONDS = Number(process.env.PVSCSI_BENCH_SECONDS ?? 1);
const REPEATS = 3;
const HOST_CONFIG = "[null 0:0:0:0]\n[disk 0:0:1:0]\nsize = 256M\n";
const GUEST = `name = "bench"\nmemory = 64\nvscsi = [ '0:0:0:0,0:0:0:0', '0:0:1:0,0:0:1:0' ]\n`;

interface Case {
  readonly name: string;
  readonly dev: string;
  readonly pdev: string;
  readonly bs: number;
  readonly write: boolean;
}
const CASES: Case[] = [
  { name: "null device, 4 KiB reads", dev: "/dev/sda", pdev: "0:0:0:0", bs: 4096, write: false },
  { name: "RAM disk, 4 KiB reads", dev: "/dev/sdb", pdev: "0:0:1:0", bs: 4096, write: false },
  { name: "RAM disk, 4 KiB writes", dev: "/dev/sdb", pdev: "0:0:1:0", bs: 4096, write: true },
  { name: "RAM disk, 128 KiB reads", dev: "/dev/sdb", pdev: "0:0:1:0", bs: 131072, write: false },
  { name: "RAM disk, 128 KiB writes", dev: "/dev/sdb", pdev: "0:0:1:0", bs: 131072, write: true },
];
const DEPTH = 16;

type Result = { ops: number; bytes: number; seconds: number; errors: number };
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function ring(host: Host, c: Case): Promise<Result> {
  const rw = c.write ? "write" : "read";
  const r = await host.guestCommand("bench", [
    "iobench",
    `--rw=${rw}`,
    `--bs=${c.bs}`,
    `--iodepth=${DEPTH}`,
    `--runtime=${RUN_SECONDS}`,
    "--json",
    c.dev,
  ]);
  if (r.exitCode !== 0) throw new Error(`iobench failed: ${r.stdout}${r.stderr}`);
  return JSON.parse(r.stdout) as Result;
}

async function measure(run: () => Promise<Result>): Promise<{ iops: number; mbs: number }> {
  const iops: number[] = [];
  const mbs: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const r = await run();
    if (r.errors > 0) throw new Error(`${r.errors} commands failed`);
    iops.push(r.ops / r.seconds);
    mbs.push(r.bytes / r.seconds / 1e6);
  }
  return { iops: median(iops), mbs: median(mbs) };
}

const table: Record<string, Record<string, { iops: number; mbs: number }>> = {};
for (const mode of ["event", "poll"] as const) {
  const host = await Host.start({
    pollMode: mode === "poll",
    // The poll column measures both ends spinning (dom0's backend and the guest), whatever the
    // host's default budget of polling threads would allow on this machine's cores.
    pollThreads: 2,
    hostConfig: { text: HOST_CONFIG, source: "bench", baseDir: "/tmp" },
  });
  try {
    await host.create(GUEST, "bench.cfg");
    for (const c of CASES) {
      table[c.name] ??= {};
      table[c.name]![mode] = await measure(() => ring(host, c));
      if (mode === "event") {
        table[c.name]!.baseline = await measure(() =>
          host.postMessageBaseline("bench", c.pdev, {
            write: c.write,
            blockSize: c.bs,
            depth: DEPTH,
            runtimeMs: RUN_SECONDS * 1000,
            spanBytes: 256 << 20,
          }),
        );
      }
    }
  } finally {
    await host.shutdown();
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const rows = Object.entries(table).map(([name, m]) => ({
  case: name,
  "poll IOPS": fmt(m.poll!.iops),
  "event IOPS": fmt(m.event!.iops),
  "postMessage IOPS": fmt(m.baseline!.iops),
  "poll MB/s": m.poll!.mbs.toFixed(0),
  "event MB/s": m.event!.mbs.toFixed(0),
  "postMessage MB/s": m.baseline!.mbs.toFixed(0),
  "poll / postMessage": (m.poll!.iops / m.baseline!.iops).toFixed(1),
  "event / postMessage": (m.event!.iops / m.baseline!.iops).toFixed(2),
}));
console.log(
  `full stack, iodepth ${DEPTH}, median of ${REPEATS} × ${RUN_SECONDS} s (guest iobench through scsifront → ring → scsiback → device)`,
);
console.table(rows);
