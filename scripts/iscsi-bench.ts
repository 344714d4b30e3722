/**
 * What PVSCSI costs, measured by an external C load generator (libiscsi's iscsi-perf) in one run:
 *
 *   A. tgtd straight (a 64 MiB LUN);
 *   B. the same tgtd LUN given to a guest as an [iscsi] pdev and exported by the guest again:
 *      iscsi-perf → guest export → scsifront → ring → scsiback → iSCSI initiator → tgtd;
 *   C. a guest's export of a pvscsi RAM disk (the ring without a network device behind it).
 *
 * B/A is what the PV path (plus one more iSCSI hop) costs. Timings on a busy machine mean
 * little: run it on a quiet one.
 *
 *   npx tsx scripts/iscsi-bench.ts [--seconds N] [--queue M] [--blocks B] [--random]
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../src/cli/main.js";
import { startUp } from "../test/_support/pvscsi-up.js";
import { startTgtd } from "../test/iscsi/_tgtd.js";

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

/** Run iscsi-perf for `seconds`, then SIGINT; the last "iops average" it printed. */
function perf(
  url: string,
  seconds: number,
  queue: number,
  blocks: number,
  random: boolean,
): Promise<{ iops: number; mbs: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn("iscsi-perf", [
      "-m",
      String(queue),
      "-b",
      String(blocks),
      ...(random ? ["-r"] : []),
      url,
    ]);
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      out += d;
    });
    const t = setTimeout(() => child.kill("SIGINT"), seconds * 1000);
    child.on("exit", () => {
      clearTimeout(t);
      const all = [...out.matchAll(/iops average (\d+) \((\d+) MB\/s\)/g)];
      const last = all.at(-1);
      if (!last) reject(new Error(`iscsi-perf printed no figures: ${out.slice(-400)}`));
      else resolve({ iops: Number(last[1]), mbs: Number(last[2]) });
    });
  });
}

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (s) => out.push(s), err: (s) => err.push(s) });
  if (code !== 0) throw new Error(`pvscsi ${argv.join(" ")}: ${err.join("")}`);
  return out.join("");
}

async function run(): Promise<void> {
  const seconds = arg("--seconds", 10);
  const queue = arg("--queue", 16);
  const blocks = arg("--blocks", 8);
  const random = process.argv.includes("--random");
  const dir = mkdtempSync(join(tmpdir(), "pvscsi-iscsi-bench-"));
  const port = 14260 + (process.pid % 1000);
  const tgtd = await startTgtd({
    port,
    control: 1200 + (process.pid % 90),
    iqn: "iqn.2026-12.org.pvscsi:bench",
    luns: [{ lun: 1, size: 64 * 1024 * 1024 }],
    maxSeconds: 4 * seconds + 120,
  });
  const socket = join(dir, "host.sock");
  const conf = join(dir, "host.conf");
  writeFileSync(
    conf,
    `[disk 0:0:0:0]\nmodel = RAMDISK\nsize = 64M\n\n[iscsi 0:0:1:0]\nportal = 127.0.0.1:${port}\ntarget = ${tgtd.iqn}\nlun = 1\n`,
  );
  writeFileSync(join(dir, "vm.cfg"), `name = "vm1"\nvscsi = [ '0:0:0:0,0:0:0:0', '0:0:1:0,0:0:1:0' ]\n`);
  const host = await startUp(["--config", conf, "--socket", socket], {
    env: { ...process.env, PVSCSI_STATE_DIR: join(dir, "state") },
  });
  try {
    await cli("xl", "--socket", socket, "create", join(dir, "vm.cfg"));
    const t = await cli(
      "guest",
      "--socket",
      socket,
      "vm1",
      "iscsi-target",
      "-p",
      "0",
      "-n",
      "iqn.2026-12.org.pvscsi:vm1",
    );
    const portal = /on (\S+)/.exec(t)![1]!;
    const rows: [string, { iops: number; mbs: number }][] = [];
    rows.push([
      "A. tgtd straight",
      await perf(`iscsi://127.0.0.1:${port}/${tgtd.iqn}/1`, seconds, queue, blocks, random),
    ]);
    rows.push([
      "B. guest export of the tgtd pdev (ring + 2nd iSCSI hop)",
      await perf(`iscsi://${portal}/iqn.2026-12.org.pvscsi:vm1/1`, seconds, queue, blocks, random),
    ]);
    rows.push([
      "C. guest export of a pvscsi RAM disk",
      await perf(`iscsi://${portal}/iqn.2026-12.org.pvscsi:vm1/0`, seconds, queue, blocks, random),
    ]);
    const a = rows[0]![1].iops;
    process.stdout.write(
      `iscsi-perf -m ${queue} -b ${blocks}${random ? " -r" : ""}, ${seconds} s each\n\n| Path | IOPS | MB/s | vs A |\n|---|---|---|---|\n` +
        rows.map(([n, r]) => `| ${n} | ${r.iops} | ${r.mbs} | ${(r.iops / a).toFixed(2)} |`).join("\n") +
        "\n",
    );
  } finally {
    await host.stop();
    await tgtd.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

run().catch((e: unknown) => {
  process.stderr.write(`iscsi-bench: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
