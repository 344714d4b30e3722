/**
 * Many guests on one backend (shared by `bench/guests.bench.ts` and the goal table): N guests
 * (each guest's kernel in its own worker, each with its own RAM disk in dom0), all running the
 * guest's `iobench` (4 KiB reads, iodepth 16, a fixed runtime) at once, through their own rings
 * to dom0's one scsiback worker, in event mode. Per N, the run with the median aggregate of
 * `repeats` runs: the aggregate IOPS (the sum of the guests' own figures), every command over
 * the wall time, and the slowest and fastest guest. Guests are destroyed between counts.
 */
import { Host } from "../src/toolstack/host.js";

export const GUEST_DEPTH = 16;
export const GUEST_BS = 4096;
/** Small guests and disks: 16 of each must fit next to dom0. */
const GUEST_MEMORY_MIB = 8;
const DISK_SIZE = "16M";

type Result = { ops: number; bytes: number; seconds: number; errors: number };

/** One guest count's figures. */
export interface GuestsRow {
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

const guestName = (i: number) => `g${i}`;
const guestConfig = (i: number) =>
  `name = "${guestName(i)}"\nmemory = ${GUEST_MEMORY_MIB}\nvscsi = [ '0:0:${i}:0,0:0:0:0' ]\n`;

async function iobench(host: Host, name: string, seconds: number): Promise<Result> {
  const r = await host.guestCommand(name, [
    "iobench",
    "--rw=read",
    `--bs=${GUEST_BS}`,
    `--iodepth=${GUEST_DEPTH}`,
    `--runtime=${seconds}`,
    "--json",
    "/dev/sda",
  ]);
  if (r.exitCode !== 0) throw new Error(`${name}: iobench failed: ${r.stdout}${r.stderr}`);
  const res = JSON.parse(r.stdout) as Result;
  if (res.errors > 0) throw new Error(`${name}: ${res.errors} commands failed`);
  return res;
}

/**
 * Run the guest counts `counts` (ascending) on one host of its own. A count that cannot run
 * (memory, domids, ports…) is reported in `error` and ends the measurement; the rows so far stay.
 */
export async function measureGuests(
  counts: readonly number[],
  seconds: number,
  repeats: number,
): Promise<{ rows: GuestsRow[]; error?: string }> {
  const max = Math.max(...counts);
  // One RAM disk per guest, 0:0:<i>:0, so guests share the backend, not a device's lock.
  const hostConfig = Array.from({ length: max }, (_, i) => `[disk 0:0:${i}:0]\nsize = ${DISK_SIZE}\n`).join(
    "",
  );
  const rows: GuestsRow[] = [];
  let error: string | undefined;
  const host = await Host.start({ hostConfig: { text: hostConfig, source: "bench", baseDir: "/tmp" } });
  try {
    for (const n of counts) {
      const names: string[] = [];
      try {
        for (let i = 0; i < n; i++) {
          await host.create(guestConfig(i), `${guestName(i)}.cfg`);
          names.push(guestName(i));
        }
        // Warm-up: each guest's first commands (JIT, page tables of its pool) outside the figure.
        await Promise.all(names.map((g) => host.guestCommand(g, ["iobench", "--count=256", "/dev/sda"])));
        // The row is the run with the median aggregate (one run's min and max together).
        const runs: GuestsRow[] = [];
        for (let k = 0; k < repeats; k++) {
          const t0 = performance.now();
          const results = await Promise.all(names.map((g) => iobench(host, g, seconds)));
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
        error = `${n} guests: ${(e as Error).message}`;
        break;
      } finally {
        for (const g of names) await host.destroy(g);
      }
    }
  } finally {
    await host.shutdown();
  }
  return error === undefined ? { rows } : { rows, error };
}
