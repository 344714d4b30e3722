/**
 * The guest's `dd bs=1M` on a RAM disk, through the full stack (guest scsifront in its worker,
 * the ring, dom0's scsiback in its worker), without hashing: what a user's dd sees of the ring.
 * Next to it, measured in the same run and host: the ring alone (iobench, preallocated
 * commands kept in flight, the largest bs one command carries), and dd with `status=hash`, to
 * show what SHA-256 costs. Each figure is the median of 3 runs; `npm run bench dd`.
 */
import { Host } from "../src/toolstack/host.js";

const MIB = Number(process.env.PVSCSI_BENCH_DD_MIB ?? 128);
const REPEATS = 3;
const HOST_CONFIG = "[disk 0:0:1:0]\nsize = 256M\n";
const GUEST = `name = "bench"\nmemory = 64\nvscsi = [ '0:0:1:0,0:0:0:0' ]\n`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const host = await Host.start({ hostConfig: { text: HOST_CONFIG, source: "bench", baseDir: "/tmp" } });
const rows: Array<Record<string, string>> = [];
try {
  await host.create(GUEST, "bench.cfg");
  const g = async (argv: string[]) => {
    const r = await host.guestCommand("bench", argv);
    if (r.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${r.stdout}${r.stderr}`);
    return r.stdout;
  };
  const ddRate = (out: string) => Number(/([\d.]+) MB\/s/.exec(out)![1]);
  const measure = async (argv: string[], rate: (out: string) => number) => {
    const xs: number[] = [];
    for (let i = 0; i < REPEATS; i++) xs.push(rate(await g(argv)));
    return median(xs);
  };
  const dd = {
    write: ["dd", "of=/dev/sda", "if=pattern:1", "bs=1M", `count=${MIB}`],
    read: ["dd", "if=/dev/sda", "bs=1M", `count=${MIB}`],
  };
  // The largest bs iobench takes: the frontend's maximum transfer, in whole 4 KiB pages.
  const probe = await host.guestCommand("bench", ["iobench", "--bs=1g", "--count=1", "/dev/sda"]);
  const max = Number(/maximum transfer \((\d+) bytes\)/.exec(probe.stderr)?.[1] ?? 131072);
  const ring = async (rw: string) =>
    measure(
      ["iobench", `--rw=${rw}`, `--bs=${max}`, "--iodepth=16", "--runtime=1", "--json", "/dev/sda"],
      (out) => {
        const r = JSON.parse(out) as { bytes: number; seconds: number };
        return r.bytes / r.seconds / 1e6;
      },
    );
  await g(dd.write); // warm-up, and the disk has data to read
  for (const rw of ["write", "read"] as const) {
    const plain = await measure(dd[rw], ddRate);
    const hashed = await measure([...dd[rw], "status=hash"], ddRate);
    const alone = await ring(rw);
    rows.push({
      case: `RAM disk, ${rw}`,
      "dd bs=1M MB/s": plain.toFixed(0),
      "dd status=hash MB/s": hashed.toFixed(0),
      [`ring alone (iobench bs=${max}, iodepth 16) MB/s`]: alone.toFixed(0),
      "dd / ring": (plain / alone).toFixed(2),
      "hash / no hash": (hashed / plain).toFixed(2),
    });
  }
} finally {
  await host.shutdown();
}
console.log(`guest dd bs=1M count=${MIB} (${MIB} MiB), event mode, median of ${REPEATS} runs`);
console.table(rows);
