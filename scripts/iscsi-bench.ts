/**
 * What PVSCSI costs, in one run, with two load generators each beside the same load without
 * pvscsi in between:
 *
 * libiscsi's iscsi-perf (an external C initiator):
 *   A. tgtd straight (a 64 MiB LUN);
 *   B. the same tgtd LUN given to a guest as an [iscsi] pdev and exported by the guest again:
 *      iscsi-perf → guest export → scsifront → ring → scsiback → iSCSI initiator → tgtd;
 *   C. a guest's export of a pvscsi RAM disk (the ring without a network device behind it).
 * pvscsi's iobench (READ(10)/WRITE(10) at a fixed queue depth, nothing allocated per command):
 *   D. in the guest, against the tgtd-backed pdev: guest → scsifront → ring → scsiback →
 *      iSCSI initiator → tgtd;
 *   E. the same load (same block size, depth, direction) from dom0's iSCSI initiator device
 *      straight at tgtd: everything of D but the guest, the ring and scsiback.
 *
 * B/A and D/E are what the PV path costs (B/A with one more iSCSI hop). Timings on a busy
 * machine mean little: run it on a quiet one.
 *
 *   npx tsx scripts/iscsi-bench.ts [--seconds N] [--queue M] [--blocks B] [--random]
 *
 * (`--queue` is iscsi-perf's -m and iobench's --iodepth, at most 16: the ring's slots;
 * `--blocks` × 512 bytes is the transfer of both.)
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../src/cli/main.js";
import { directExec } from "../src/guest/direct.js";
import { DataBuffer } from "../src/scsi/data-buffer.js";
import type { ScsiTask } from "../src/scsi/device.js";
import { IscsiInitiatorDevice } from "../src/targets/iscsi-initiator-device.js";
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

/**
 * iobench's load without pvscsi: `depth` READ(10)s (or WRITE(10)s) kept in flight against dom0's
 * iSCSI initiator device, each task preallocated once and resubmitted from its completion, for
 * `seconds`. Returns IOPS.
 */
async function directLoad(
  portal: string,
  target: string,
  seconds: number,
  depth: number,
  blocks: number,
  random: boolean,
): Promise<{ iops: number; mbs: number; errors: number }> {
  const dev = await IscsiInitiatorDevice.open({
    portal,
    target,
    lun: 1,
    initiatorName: "iqn.2026-12.org.pvscsi:bench-direct",
  });
  // The new I_T nexus's unit attention (06/29/00) first, as the guest's midlayer does.
  const exec = directExec(dev, { initiator: { id: 1, name: "bench" } });
  for (let i = 0; i < 5; i++)
    if ((await exec({ channel: 0, id: 0, lun: 0, cdb: [0, 0, 0, 0, 0, 0] })).status === 0) break;
  const capacityBlocks = (64 * 1024 * 1024) / 512;
  const span = Math.floor(capacityBlocks / blocks);
  let next = 0;
  let ops = 0;
  let errors = 0;
  let stop = false;
  let inFlight = 0;
  const start = performance.now();
  await new Promise<void>((resolve) => {
    const submit = (task: ScsiTask & { cdb: Uint8Array }) => {
      const slot = random ? Math.floor(Math.random() * span) : next++ % span;
      const lba = slot * blocks;
      task.cdb[2] = lba >>> 24;
      task.cdb[3] = (lba >>> 16) & 0xff;
      task.cdb[4] = (lba >>> 8) & 0xff;
      task.cdb[5] = lba & 0xff;
      inFlight++;
      dev.submit(task);
    };
    for (let i = 0; i < depth; i++) {
      const cdb = Uint8Array.of(0x28, 0, 0, 0, 0, 0, 0, blocks >> 8, blocks & 0xff, 0);
      const task: ScsiTask & { cdb: Uint8Array } = {
        cdb,
        lun: 0,
        initiator: { id: 1, name: "bench" },
        tag: i + 1,
        direction: 2,
        data: DataBuffer.of(new Uint8Array(blocks * 512), true),
        sense: new Uint8Array(96),
        done(status) {
          inFlight--;
          ops++;
          if (status !== 0) errors++;
          if (!stop) submit(task);
          else if (inFlight === 0) resolve();
        },
      };
      submit(task);
    }
    setTimeout(() => {
      stop = true;
    }, seconds * 1000);
  });
  const secs = (performance.now() - start) / 1000;
  await dev.close();
  return { iops: Math.round(ops / secs), mbs: Math.round((ops * blocks * 512) / secs / 1e6), errors };
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
    // iobench in the guest against the tgtd pdev (its /dev name from lsscsi), then the same
    // load from dom0's initiator device straight at tgtd.
    const ls = await cli("guest", "--socket", socket, "vm1", "lsscsi");
    const sd = /^\[0:0:1:0\].*\s(\/dev\/\S+)$/m.exec(ls)?.[1];
    if (!sd) throw new Error(`no /dev name for the tgtd pdev in:\n${ls}`);
    const depth = Math.min(queue, 16);
    const json = await cli(
      "guest",
      "--socket",
      socket,
      "vm1",
      "iobench",
      `--rw=${random ? "randread" : "read"}`,
      `--bs=${blocks * 512}`,
      `--iodepth=${depth}`,
      `--runtime=${seconds}`,
      "--json",
      sd,
    );
    const g = JSON.parse(json) as { ops: number; bytes: number; seconds: number; errors: number };
    const d = { iops: Math.round(g.ops / g.seconds), mbs: Math.round(g.bytes / g.seconds / 1e6) };
    const e = await directLoad(`127.0.0.1:${port}`, tgtd.iqn, seconds, depth, blocks, random);
    if (g.errors > 0 || e.errors > 0)
      throw new Error(`iobench errors: guest ${g.errors}, direct ${e.errors}`);
    const a = rows[0]![1].iops;
    process.stdout.write(
      `iscsi-perf -m ${queue} -b ${blocks}${random ? " -r" : ""}, ${seconds} s each\n\n| Path | IOPS | MB/s | vs A |\n|---|---|---|---|\n` +
        rows.map(([n, r]) => `| ${n} | ${r.iops} | ${r.mbs} | ${(r.iops / a).toFixed(2)} |`).join("\n") +
        `\n\niobench --rw=${random ? "randread" : "read"} --bs=${blocks * 512} --iodepth=${depth}, ${seconds} s each\n\n` +
        "| Path | IOPS | MB/s | vs E |\n|---|---|---|---|\n" +
        `| D. iobench in the guest → ring → scsiback → iSCSI → tgtd | ${d.iops} | ${d.mbs} | ${(d.iops / e.iops).toFixed(2)} |\n` +
        `| E. the same load from dom0's iSCSI initiator → tgtd (no pvscsi) | ${e.iops} | ${e.mbs} | 1.00 |\n`,
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
