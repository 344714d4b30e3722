/**
 * The C scsifront (examples/c, compiled to wasm, the domain's kernel in its worker) against
 * pvscsi's own TypeScript scsifront, both on dom0's scsiback over a null device, event mode and
 * poll mode, in one run: 4 KiB READs one at a time (queue depth 1, what the C driver's benchmark
 * loop does), requests per second side by side. `npm run bench wasm`; needs clang-19 and lld-19.
 * PVSCSI_BENCH_WASM_REQUESTS sets the C driver's count (default 20000); the TS side runs iobench
 * for 1 s.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Host } from "../src/toolstack/host.js";

try {
  execFileSync("clang-19", ["--version"], { stdio: "ignore" });
  execFileSync("wasm-ld-19", ["--version"], { stdio: "ignore" });
} catch {
  console.log("wasm.bench.ts: skipped: needs clang-19 and lld-19 (sudo apt-get install -y clang-19 lld-19)");
  process.exit(0);
}

const N = Number(process.env.PVSCSI_BENCH_WASM_REQUESTS ?? 20000);
const HOST_CONFIG = "[null 0:0:2:0]\n";
const out = mkdtempSync(join(tmpdir(), "pvscsi-bench-wasm-"));
execFileSync(
  "make",
  ["-s", "-C", fileURLToPath(new URL("../examples/c", import.meta.url)), `OUT=${out}`, `PV_REQUESTS=${N}`],
  { stdio: "inherit" },
);
const wasm = join(out, "scsifront-bench.wasm");

async function cFront(host: Host): Promise<number> {
  await host.create(
    `name = "cfront"\nmemory = 16\nkernel = "${wasm}"\nvscsi = [ '0:0:2:0,0:0:0:0' ]\n`,
    "cfront.cfg",
  );
  const end = Date.now() + 120_000;
  for (;;) {
    const log = (await host.guestCommand("cfront", ["dmesg"])).stdout;
    const m = /bench: (\d+) requests in (\d+) ms/.exec(log);
    if (m) {
      await host.destroy("cfront");
      return (Number(m[1]) / Math.max(1, Number(m[2]))) * 1000;
    }
    if (/FAIL|kernel stopped/.test(log) || Date.now() > end) throw new Error(`C scsifront:\n${log}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function tsFront(host: Host): Promise<number> {
  await host.create(`name = "tsfront"\nmemory = 16\nvscsi = [ '0:0:2:0,0:0:0:0' ]\n`, "tsfront.cfg");
  const r = await host.guestCommand("tsfront", [
    "iobench",
    "--rw=read",
    "--bs=4096",
    "--iodepth=1",
    "--runtime=1",
    "--json",
    "/dev/sda",
  ]);
  await host.destroy("tsfront");
  if (r.exitCode !== 0) throw new Error(`iobench: ${r.stdout}${r.stderr}`);
  const j = JSON.parse(r.stdout) as { ops: number; seconds: number };
  return j.ops / j.seconds;
}

const rows: Array<Record<string, string>> = [];
for (const pollMode of [false, true]) {
  const host = await Host.start({
    hostConfig: { text: HOST_CONFIG, source: "bench", baseDir: "/tmp" },
    pollMode,
  });
  try {
    const c = await cFront(host);
    const ts = await tsFront(host);
    rows.push({
      mode: pollMode ? "poll" : "event",
      "C scsifront (wasm) req/s": c.toFixed(0),
      "pvscsi scsifront (TS) req/s": ts.toFixed(0),
      "C / TS": (c / ts).toFixed(2),
    });
  } finally {
    await host.shutdown();
  }
}
console.log(`\nC scsifront (wasm kernel) vs pvscsi's scsifront: null device, 4 KiB READ, queue depth 1`);
console.table(rows);
