/**
 * What tracing costs: the null device, 4 KiB reads at iodepth 16, event mode, through the full
 * stack, on two hosts in this process — one booted with `trace`, one without — measured in
 * interleaved rounds (off, on, off, on, …). The figure is the median of the per-round ratios
 * on/off. The traced host's recorders are rings of 65,536 records per thread, so a long run
 * overwrites the oldest records and never grows.
 */
import { loadavg } from "node:os";
import { Host } from "../src/toolstack/host.js";

const RUN_SECONDS = Number(process.env.PVSCSI_BENCH_SECONDS ?? 1);
const ROUNDS = Number(process.env.PVSCSI_BENCH_ROUNDS ?? 5);
const HOST_CONFIG = { text: "[null 0:0:0:0]\n", source: "bench.conf", baseDir: process.cwd() };
const GUEST = `name = "bench"\nmemory = 64\nvscsi = [ '0:0:0:0,0:0:0:0' ]\n`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function iops(host: Host): Promise<number> {
  const r = await host.guestCommand("bench", [
    "iobench",
    "--rw=read",
    "--bs=4096",
    "--iodepth=16",
    `--runtime=${RUN_SECONDS}`,
    "--json",
    "/dev/sda",
  ]);
  if (r.exitCode !== 0) throw new Error(`iobench failed: ${r.stdout}${r.stderr}`);
  const j = JSON.parse(r.stdout) as { ops: number; seconds: number; errors: number };
  if (j.errors > 0) throw new Error(`${j.errors} commands failed`);
  return j.ops / j.seconds;
}

const off = await Host.start({ hostConfig: HOST_CONFIG });
const on = await Host.start({ hostConfig: HOST_CONFIG, trace: true });
try {
  await off.create(GUEST, "bench.cfg");
  await on.create(GUEST, "bench.cfg");
  await iops(off); // warm-up
  await iops(on);
  const ratios: number[] = [];
  const offs: number[] = [];
  const ons: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const a = await iops(off);
    const b = await iops(on);
    offs.push(a);
    ons.push(b);
    ratios.push(b / a);
  }
  const trace = on.trace();
  const records = trace?.metadata.records ?? 0;
  console.log(
    `tracing overhead, null 4 KiB reads, iodepth 16, event mode (${ROUNDS} interleaved rounds of ${RUN_SECONDS} s, load ${loadavg()[0]!.toFixed(2)})`,
  );
  console.log(`  trace off: ${Math.round(median(offs)).toLocaleString("en-US")} IOPS (median)`);
  console.log(`  trace on:  ${Math.round(median(ons)).toLocaleString("en-US")} IOPS (median)`);
  console.log(`  on / off:  ${median(ratios).toFixed(3)} (median of per-round ratios)`);
  console.log(`  records held at the end: ${records.toLocaleString("en-US")} (rings of 65,536 per thread)`);
  await off.destroy("bench");
  await on.destroy("bench");
} finally {
  await off.shutdown();
  await on.shutdown();
}
