import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CommandResult } from "../guest/userland/command.js";
import { XenstoreDb } from "../xenstore/database.js";
import { dumpFile } from "../xenstore/dump.js";
import { dbLsSource, renderLs } from "../xenstore/ls.js";
import { type DemoOptions, type DemoReport, type DemoStep, stepRecorder } from "./demo.js";
import { Host } from "./host.js";

/** The host of the VBD demo: two RAM disks in dom0. */
export const VBD_DEMO_HOST_CONFIG = "[disk 0:0:0:0]\nsize = 64M\n[disk 0:0:1:0]\nsize = 16M\nthin = yes\n";

/** The guest of the VBD demo: dom0's first disk both as a vscsi disk and as a VBD, its second as a VBD. */
export const VBD_DEMO_DOMAIN_CONFIG = `# one dom0 disk through both split drivers, and a second disk through blkif only
name = "both"
memory = 64
vscsi = [ '/dev/sda,0:0:0:0' ]
disk = [ 'format=raw, vdev=xvda, access=rw, target=/dev/sda',
         '/dev/sdb,raw,xvdb,rw' ]
`;

/**
 * `pvscsi demo --vbd`: the second split driver on the same machinery. A guest gets one dom0 disk
 * twice — as `sda` through vscsiif and as `xvda` through blkif — and a second disk as `xvdb`;
 * data written through one protocol is read back through the other; the VBD's xenstore nodes
 * and `xl block-list` show the handshake; fio runs the same job on `sda` and `xvda`; a VBD is
 * hot-unplugged, and the guest destroyed with nothing left behind.
 */
export async function runVbdDemo(
  sink: (step: DemoStep) => void = () => {},
  options: DemoOptions = {},
): Promise<DemoReport> {
  const t0 = performance.now();
  const work = mkdtempSync(join(tmpdir(), "pvscsi-vbd-demo-"));
  const { steps, step } = stepRecorder(sink);
  const checks: Record<string, boolean> = {};
  const rates: Record<string, number> = {};
  const run = async (say: (s: string) => void, argv: string[]): Promise<CommandResult> => {
    const r = await host.guestCommand("both", argv);
    say(`guest# ${argv.join(" ")}\n${r.stdout}${r.stderr}`);
    return r;
  };
  const hash = (r: CommandResult) => /sha256 ([0-9a-f]{64})/.exec(r.stdout)?.[1] ?? "";
  const host = await Host.start({
    hostConfig: { text: VBD_DEMO_HOST_CONFIG, source: "vbd-demo.conf", baseDir: work },
    guestRoots: join(work, "guests"),
    trace: options.trace === true,
  });
  try {
    await step("xl create both.cfg: a vscsi disk and two VBDs", async (say) => {
      say(VBD_DEMO_DOMAIN_CONFIG);
      const r = await host.create(VBD_DEMO_DOMAIN_CONFIG, "both.cfg");
      say(`created domain ${r.name} (domid ${r.domid})`);
    });
    await step("the guest's disks: sda from scsifront, xvda and xvdb from blkfront", async (say) => {
      await run(say, ["lsscsi"]);
      // xl returns once the backends are Connected; the guest adds its disks right after (as
      // udev would): wait for them, as `udevadm settle` does.
      for (let i = 0; i < 100; i++) {
        const r = await host.guestCommand("both", ["lsblk"]);
        if (r.stdout.includes("xvdb")) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const ls = await run(say, ["lsblk"]);
      checks["xvda and xvdb are in the guest's lsblk"] = /xvda .*disk\nxvdb .*disk\n/.test(ls.stdout);
    });
    await step("write through blkif, read back through both protocols", async (say) => {
      const w = await run(say, [
        "dd",
        "of=/dev/xvda",
        "if=pattern:2007",
        "bs=128k",
        "count=64",
        "status=hash",
      ]);
      const rx = await run(say, ["dd", "if=/dev/xvda", "bs=128k", "count=64", "status=hash"]);
      const rs = await run(say, ["dd", "if=/dev/sda", "bs=128k", "count=64", "status=hash"]);
      checks["xvda and sda read back what xvda wrote (one image, two protocols)"] =
        hash(w) !== "" && hash(w) === hash(rx) && hash(w) === hash(rs);
    });
    await step("the VBD's xenstore nodes, and xl block-list", async (say) => {
      const db = new XenstoreDb({ root: dumpFile(host.xenstored.db.dump()).root });
      const domid = host.resolveDomain("both").handle.domid;
      let out = "";
      await renderLs(
        dbLsSource(db.connect(0)),
        `/local/domain/0/backend/vbd/${domid}/51712`,
        { perms: false, flat: false, width: 100 },
        {
          out: (t) => {
            out += t;
          },
          warn: () => {},
        },
      );
      say(`dom0# xenstore-ls /local/domain/0/backend/vbd/${domid}/51712`);
      say(out);
      const rows = await host.blockList("both");
      say("dom0# xl block-list both");
      say(
        `Vdev  BE  handle state evt-ch ring-ref BE-path\n${rows
          .map(
            (x) =>
              `${String(x.vdev).padEnd(5)} ${String(x.backendId).padEnd(3)} ${String(x.frontendId).padEnd(6)} ${String(x.state).padEnd(5)} ${String(x.eventChannel).padEnd(6)} ${String(x.ringRef).padEnd(8)} ${x.backendPath}`,
          )
          .join("\n")}`,
      );
      checks["both VBDs Connected (state 4)"] = rows.length === 2 && rows.every((x) => x.state === 4);
    });
    await step("the same fio job on sda (vscsiif) and xvda (blkif)", async (say) => {
      for (const dev of ["/dev/sda", "/dev/xvda"]) {
        const r = await run(say, [
          "fio",
          "--rw=randrw",
          "--bs=8k",
          "--numjobs=2",
          "--runtime=0.5",
          `--filename=${dev}`,
        ]);
        const m = /BW=([\d.]+)MiB\/s/.exec(r.stdout);
        if (m) rates[`fio randrw 8k ${dev} MiB/s`] = Number(m[1]);
        checks[`fio on ${dev} without errors`] = r.exitCode === 0;
      }
    });
    await step("xl block-detach both xvdb (hot-unplug)", async (say) => {
      await host.blockDetach("both", "xvdb");
      const ls = await run(say, ["lsblk"]);
      checks["xvdb is gone from the guest"] = !ls.stdout.includes("xvdb");
    });
    await step("counts (dom0's blkback)", async (say) => {
      for (const v of await host.vbdReport()) {
        const s = v.stats;
        say(
          `vbd dom${v.frontendDomid}/${v.devid} (${v.target}, ${v.protocol}): ${s.requests} requests (${s.reads} reads, ${s.writes} writes, ${s.flushes} flushes, ${s.indirect} indirect), ` +
            `${s.notifies} notifications, ${(s.bytesIn / 1e6).toFixed(1)} MB to the guest, ${(s.bytesOut / 1e6).toFixed(1)} MB from it, ` +
            `${Object.values(s.rejected).reduce((a, b) => a + b, 0)} rejected`,
        );
      }
    });
    await step("xl destroy both", async (say) => {
      const report = await host.destroy("both");
      checks["destroy left nothing behind (grants, mappings, ports)"] = report.clean;
      say(
        report.clean
          ? "destroyed: no grant, mapping or port left behind"
          : `LEFT BEHIND: ${JSON.stringify(report)}`,
      );
    });
    const backend = await host.backendReport();
    const trace = host.trace();
    return { steps, checks, rates, backend, totalMs: performance.now() - t0, ...(trace ? { trace } : {}) };
  } finally {
    await host.shutdown();
    rmSync(work, { recursive: true, force: true });
  }
}
