/**
 * The seed's pvscsi/vbd table, rerun (xen-devel, July 2007, "PV SCSI has the structure like VBD":
 * "The performance of PVSCSI is almost the same as VBD"). One guest gets the same three dom0 disks
 * twice: as `sda`-`sdc` on one vscsi controller (one HBA, as in the seed) and as `xvda`-`xvdc`
 * through blkif. Each of the seed's six rows runs the guest's `fio` on all three devices of one
 * kind, then of the other, and prints pvscsi/vbd (the ratio of throughputs) beside the seed's
 * figure. Two eras, each on a freshly booted host:
 *
 * - 2007: blkback offers no indirect segments (11 segments, 44 KiB per request), no persistent
 *   grants and single-page rings (`max-ring-page-order` 0), and scsiback no `feature-sg-grant`
 *   (26 segments; scsifront then moves at most 100 KiB per request);
 * - today: blkback's 256 indirect segments (blkfront uses 32: 128 KiB), persistent grants (both
 *   ends offer them, as Linux's do by default), `max-ring-page-order` 4 (the guest keeps Linux
 *   blkfront's default order 0, one page: its `extra` sets no `xen_blkfront.max_ring_page_order`)
 *   and `feature-sg-grant` 128.
 *
 * Each figure is the median of REPEATS runs, sd and xvd alternating. `npm run bench vbd`;
 * PVSCSI_BENCH_SECONDS sets each run's runtime (default 2 s), PVSCSI_BENCH_REPEATS the repeats
 * (default 3), PVSCSI_BENCH_IMAGES=<dir> puts the disks in image files there instead of RAM.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PvLimits } from "../src/system/kernel-api.js";
import { Host } from "../src/toolstack/host.js";

const RUN_SECONDS = Number(process.env.PVSCSI_BENCH_SECONDS ?? 2);
const REPEATS = Number(process.env.PVSCSI_BENCH_REPEATS ?? 3);
const IMAGES = process.env.PVSCSI_BENCH_IMAGES;
const DISK_SIZE = "64M";
const DISKS = 3;

interface SeedRow {
  readonly label: string;
  readonly rw: "randrw" | "read" | "write";
  readonly bs: string;
  readonly jobs: number;
  /** The seed's pvscsi/vbd. */
  readonly seed: number;
}

/** Seed 002's rows: "3disk", "1prosecs/1disk" = one synchronous process per disk (QD = processes). */
const ROWS: readonly SeedRow[] = [
  { label: "random r:w=1:1, 1 proc/disk, 8k", rw: "randrw", bs: "8k", jobs: 1, seed: 1.0 },
  { label: "random r:w=1:1, 1 proc/disk, 128k", rw: "randrw", bs: "128k", jobs: 1, seed: 1.0 },
  { label: "random r:w=1:1, 5 procs/disk, 8k", rw: "randrw", bs: "8k", jobs: 5, seed: 1.08 },
  { label: "random r:w=1:1, 5 procs/disk, 128k", rw: "randrw", bs: "128k", jobs: 5, seed: 1.15 },
  { label: "sequential read, 1 proc/disk, 128k", rw: "read", bs: "128k", jobs: 1, seed: 0.85 },
  { label: "sequential write, 1 proc/disk, 128k", rw: "write", bs: "128k", jobs: 1, seed: 0.93 },
];

const ERAS: ReadonlyArray<{ readonly name: string; readonly limits: PvLimits }> = [
  {
    name: "2007 limits (blkif 11 segments, vscsiif 26)",
    limits: { blkifIndirectSegments: 0, scsiSgGrant: 0, blkifPersistent: false, blkifRingPageOrder: 0 },
  },
  { name: "today (indirect segments, feature-sg-grant)", limits: {} },
];

function hostConfig(): string {
  const dir = IMAGES ?? null;
  return Array.from({ length: DISKS }, (_, i) =>
    dir
      ? `[disk 0:0:${i}:0]\nfile = ${join(dir, `vbd-bench-${i}.img`)}\nsize = ${DISK_SIZE}\ncreate = yes\n`
      : `[disk 0:0:${i}:0]\nsize = ${DISK_SIZE}\n`,
  ).join("");
}

const GUEST = `name = "seed"
memory = 64
vscsi = [ ${Array.from({ length: DISKS }, (_, i) => `'0:0:${i}:0,0:0:${i}:0'`).join(", ")} ]
disk = [ ${Array.from({ length: DISKS }, (_, i) => `'format=raw, vdev=xvd${"abc"[i]}, access=rw, target=0:0:${i}:0'`).join(", ")} ]
`;

interface FioJson {
  readonly seconds: number;
  readonly bytes: number;
  readonly ios: number;
  readonly errors: number;
}

async function fio(host: Host, row: SeedRow, devs: string[]): Promise<FioJson> {
  const r = await host.guestCommand("seed", [
    "fio",
    `--rw=${row.rw}`,
    "--rwmixread=50",
    `--bs=${row.bs}`,
    `--numjobs=${row.jobs}`,
    "--iodepth=1",
    `--runtime=${RUN_SECONDS}`,
    "--json",
    `--filename=${devs.join(":")}`,
  ]);
  if (r.exitCode !== 0) throw new Error(`fio ${row.label} on ${devs.join(":")}: ${r.stdout}${r.stderr}`);
  const j = JSON.parse(r.stdout) as FioJson;
  if (j.errors > 0) throw new Error(`fio ${row.label}: ${j.errors} I/Os failed`);
  return j;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const sd = Array.from({ length: DISKS }, (_, i) => `/dev/sd${"abc"[i]}`);
const xvd = Array.from({ length: DISKS }, (_, i) => `/dev/xvd${"abc"[i]}`);

const table: Array<Record<string, string>> = [];
for (const era of ERAS) {
  const host = await Host.start({
    hostConfig: {
      text: hostConfig(),
      source: "vbd.bench",
      baseDir: IMAGES ?? mkdtempSync(join(tmpdir(), "vbd-bench-")),
    },
    pvLimits: era.limits,
  });
  try {
    await host.create(GUEST, "seed.cfg");
    // Warm-up: JIT and the disks' first touch of every block outside the figures.
    const warm: SeedRow = { label: "warm-up", rw: "write", bs: "128k", jobs: 1, seed: 0 };
    await fio(host, warm, sd);
    await fio(host, warm, xvd);
    for (const row of ROWS) {
      const s: number[] = [];
      const x: number[] = [];
      for (let i = 0; i < REPEATS; i++) {
        // Alternate which goes first, so neither always meets a warmer cache.
        const first = i % 2 === 0;
        const a = await fio(host, row, first ? sd : xvd);
        const b = await fio(host, row, first ? xvd : sd);
        (first ? s : x).push(a.bytes / a.seconds);
        (first ? x : s).push(b.bytes / b.seconds);
      }
      const sdMBs = median(s) / 1e6;
      const xvdMBs = median(x) / 1e6;
      table.push({
        era: era.name.slice(0, 5),
        row: row.label,
        "sdX MB/s": sdMBs.toFixed(1),
        "xvdX MB/s": xvdMBs.toFixed(1),
        "pvscsi/vbd": (sdMBs / xvdMBs).toFixed(2),
        seed: row.seed.toFixed(2),
      });
    }
    const vbd = await host.vbdReport();
    const vh = await host.backendReport();
    process.stdout.write(
      `${era.name}: blkback ${vbd.reduce((n, r) => n + r.stats.requests, 0)} requests (${vbd.reduce((n, r) => n + r.stats.indirect, 0)} indirect), ` +
        `${vbd.reduce((n, r) => n + r.stats.persistentGrants, 0)} persistent grants, ring pages ${vbd.map((r) => r.ringPages).join("/")}; ` +
        `scsiback ${vh.reduce((n, r) => n + r.stats.requests, 0)} requests\n`,
    );
  } finally {
    await host.shutdown();
  }
}
process.stdout.write(
  `\nThe seed's table rerun: 3 disks, fio psync (QD = processes per disk), ${RUN_SECONDS} s per run, median of ${REPEATS}; ` +
    `disks in ${IMAGES ? `image files under ${IMAGES}` : "RAM"}\n`,
);
console.table(table);
