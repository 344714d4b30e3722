import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import type { CommandResult } from "../guest/userland/command.js";
import type { VhostReport } from "../scsiback/backend-driver.js";
import { DEFAULT_HOST_CONFIG, DEFAULT_HOST_CONFIG_SOURCE } from "../targets/inventory/default-config.js";
import { formatLsscsi } from "../targets/inventory/inventory.js";
import type { ChromeTrace } from "../trace/chrome-trace.js";
import { XenstoreDb } from "../xenstore/database.js";
import { dumpFile } from "../xenstore/dump.js";
import { dbLsSource, renderLs } from "../xenstore/ls.js";
import { Host } from "./host.js";

/** One step of the demo, as printed and as `--json` reports it. */
export interface DemoStep {
  readonly title: string;
  /** What a person reads: commands and their output. */
  readonly text: string;
  readonly ms: number;
}

/** The demo's result: every step, the checks it made, and the backend's counters. */
export interface DemoReport {
  readonly steps: DemoStep[];
  readonly checks: Record<string, boolean>;
  readonly rates: Record<string, number>;
  readonly backend: VhostReport[];
  readonly totalMs: number;
  /** With `trace`: the whole run as Chrome trace-event JSON (taken before the host stops). */
  readonly trace?: ChromeTrace;
}

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Record every thread's trace and return it in {@link DemoReport.trace}. */
  readonly trace?: boolean;
}

/**
 * The demos' step recorder: `step(title, body)` runs `body`, collects what it says (a line at a
 * time), times it, keeps it in `steps` and hands it to `sink` as it finishes.
 */
export function stepRecorder(sink: (step: DemoStep) => void): {
  steps: DemoStep[];
  step: (title: string, body: (say: (s: string) => void) => Promise<void>) => Promise<void>;
} {
  const steps: DemoStep[] = [];
  const step = async (title: string, body: (say: (s: string) => void) => Promise<void>): Promise<void> => {
    const s0 = performance.now();
    let text = "";
    await body((s) => {
      text += s.endsWith("\n") ? s : `${s}\n`;
    });
    const st = { title, text, ms: performance.now() - s0 };
    steps.push(st);
    sink(st);
  };
  return { steps, step };
}

/** The domain configuration the demo creates (shown to the user as an xl config). */
export const DEMO_DOMAIN_CONFIG = `# a backup server: a disk and the LTO autoloader's changer; the drive comes later
name = "backup"
memory = 64
vscsi = [ '/dev/sda,0:0:1:0',
          '/dev/sch0,0:0:0:1' ]
`;

/**
 * `pvscsi demo`: the whole PV split-driver model end to end in one process, on the set-up of
 * the PV SCSI patch posted to xen-devel in July 2007 (lists.xensource.com/archives/html/xen-devel/2007-07/msg00450.html)
 *  (an LTO autoloader and a disk in dom0). A guest with two vscsi devices scans them, writes
 * and reads its disk with checksums while the tape drive is hot-attached, then backs a directory
 * tree up to tape (mtx load, tar), rewinds, restores and verifies it, unloads; a device is
 * detached and the guest destroyed with nothing left behind. Cartridges live in a temporary
 * directory, so every run starts from fresh tapes.
 */
export async function runDemo(
  sink: (step: DemoStep) => void = () => {},
  options: DemoOptions = {},
): Promise<DemoReport> {
  const t0 = performance.now();
  const work = mkdtempSync(join(tmpdir(), "pvscsi-demo-"));
  const { steps, step } = stepRecorder(sink);
  const checks: Record<string, boolean> = {};
  const rates: Record<string, number> = {};
  const shown = (cmd: string, r: CommandResult) => `guest# ${cmd}\n${r.stdout}${r.stderr}`;

  const host = await Host.start({
    hostConfig: { text: DEFAULT_HOST_CONFIG, source: DEFAULT_HOST_CONFIG_SOURCE, baseDir: work },
    // The guest's filesystem in the run's temporary folder too: <work>/guests/backup/root.
    guestRoots: join(work, "guests"),
    trace: options.trace === true,
  });
  try {
    await step("dom0 is up: its SCSI devices (lsscsi -g)", async (say) => {
      say(formatLsscsi(host.inventory));
    });

    await step("xl create backup.cfg", async (say) => {
      say(DEMO_DOMAIN_CONFIG);
      const r = await host.create(DEMO_DOMAIN_CONFIG, "backup.cfg");
      say(`created domain ${r.name} (domid ${r.domid}); its scsifront connected to dom0's scsiback`);
    });

    const g = async (argv: string[]) => host.guestCommand("backup", argv);
    await step("the guest scanned its vscsi devices", async (say) => {
      say(shown("cat /proc/scsi/scsi", await g(["cat", "/proc/scsi/scsi"])));
      say(shown("lsscsi -g", await g(["lsscsi", "-g"])));
    });

    await step("disk I/O with checksums, while the tape drive is hot-attached", async (say) => {
      const write = g(["dd", "of=/dev/sda", "if=pattern:2026", "bs=256k", "count=64", "status=hash"]);
      // scsi-attach while the write is on the ring (vscsiif.h's state 7 flow).
      await host.scsiAttach("backup", "/dev/nst0", "0:0:0:0");
      say("xl scsi-attach backup /dev/nst0 0:0:0:0   (during the write)");
      const w = await write;
      say(shown("dd of=/dev/sda if=pattern:2026 bs=256k count=64 status=hash", w));
      const r = await g(["dd", "if=/dev/sda", "bs=256k", "count=64", "status=hash"]);
      say(shown("dd if=/dev/sda bs=256k count=64 status=hash", r));
      const hw = /sha256 (\w+)/.exec(w.stdout)?.[1];
      const hr = /sha256 (\w+)/.exec(r.stdout)?.[1];
      checks["disk read-back matches what was written"] = hw !== undefined && hw === hr;
      rates["disk write MB/s"] = Number(/([\d.]+) MB\/s/.exec(w.stdout)?.[1] ?? 0);
      rates["disk read MB/s"] = Number(/([\d.]+) MB\/s/.exec(r.stdout)?.[1] ?? 0);
      say(`checksums ${checks["disk read-back matches what was written"] ? "match" : "DIFFER"}`);
      say(shown("lsscsi", await g(["lsscsi"])));
    });

    await step("the vhost's xenstore nodes, with their states", async (say) => {
      const db = new XenstoreDb({ root: dumpFile(host.xenstored.db.dump()).root });
      let out = "";
      await renderLs(
        dbLsSource(db.connect(0)),
        "/local/domain/0/backend/vscsi",
        { perms: false, flat: false, width: 100 },
        {
          out: (t) => {
            out += t;
          },
          warn: () => {},
        },
      );
      say("dom0# xenstore-ls /local/domain/0/backend/vscsi");
      say(out);
      const rows = await host.scsiList(["backup"]);
      say("dom0# xl scsi-list backup");
      say(
        `Idx BE  state ctrl  phy-hctl   vir-hctl   devstate\n${rows
          .map(
            (x) =>
              `${String(x.idx).padEnd(3)} ${String(x.backendId).padEnd(3)} ${String(x.state).padEnd(5)} ${String(x.ctrl).padEnd(5)} ${x.phyHctl.padEnd(10)} ${x.virHctl.padEnd(10)} ${x.devstate}`,
          )
          .join("\n")}`,
      );
      checks["every device Connected (state 4)"] =
        rows.length === 3 && rows.every((x) => x.devstate === 4 && x.state === 4);
    });

    // The tree is made, and the restore checked, from dom0's side of the guest's filesystem;
    // the guest's tar sees the same folders as /guest-files and /restored.
    const guestRoot = join(work, "guests", "backup", "root");
    const files = join(guestRoot, "guest-files");
    const restored = join(guestRoot, "restored");
    const original = makeTree(files);
    await step("backup to tape through PVSCSI: load, tar, rewind, restore, verify, unload", async (say) => {
      for (const argv of [
        ["mtx", "-f", "/dev/sch0", "status"],
        ["mtx", "-f", "/dev/sch0", "load", "1", "0"],
        ["mt", "-f", "/dev/nst0", "status"],
      ]) {
        say(shown(argv.join(" "), await g(argv)));
      }
      const c = await g(["tar", "-c", "-f", "/dev/nst0", "-C", "/guest-files", "."]);
      say(shown(`tar -c -f /dev/nst0 -C <guest files> .   (${original.size} files)`, c));
      say(shown("mt -f /dev/nst0 rewind", await g(["mt", "-f", "/dev/nst0", "rewind"])));
      mkdirSync(restored);
      const x = await g(["tar", "-x", "-f", "/dev/nst0", "-C", "/restored"]);
      say(shown("tar -x -f /dev/nst0 -C <restore dir>", x));
      say(shown("mt -f /dev/nst0 status", await g(["mt", "-f", "/dev/nst0", "status"])));
      say(shown("mtx -f /dev/sch0 unload 1 0", await g(["mtx", "-f", "/dev/sch0", "unload", "1", "0"])));
      const back = hashTree(restored);
      const same = original.size === back.size && [...original].every(([p, h]) => back.get(p) === h);
      checks["tar backup written"] = c.exitCode === 0;
      checks["tar verified every file on restore"] = x.exitCode === 0;
      checks["restored tree equals the original"] = same;
      say(
        `restored ${back.size} of ${original.size} files; ${same ? "every file identical (SHA-256)" : "FILES DIFFER"}`,
      );
    });

    await step(
      "the guest's /proc/scsi/scsi: sequential-access and medium changer, as in the 2007 PV SCSI posting",
      async (say) => {
        const proc = await g(["cat", "/proc/scsi/scsi"]);
        say(shown("cat /proc/scsi/scsi", proc));
        checks["/proc/scsi/scsi lists the tape and the changer"] =
          proc.stdout.includes("Sequential-Access") && proc.stdout.includes("Medium Changer");
      },
    );

    await step("xl scsi-detach backup 0:0:1:0 (the disk)", async (say) => {
      await host.scsiDetach("backup", "0:0:1:0");
      say(shown("lsscsi", await g(["lsscsi"])));
    });

    const backend = await host.backendReport();
    await step("counts (dom0's scsiback)", async (say) => {
      for (const v of backend) {
        const s = v.stats;
        say(
          `vhost dom${v.frontendDomid}/${v.devid}: ${s.requests} requests, ${s.responses} responses, ${s.notifies} notifications to the guest, ` +
            `${(s.bytesIn / 1e6).toFixed(1)} MB to the guest, ${(s.bytesOut / 1e6).toFixed(1)} MB from it, ` +
            `${Object.values(s.rejected).reduce((a, b) => a + b, 0)} rejected`,
        );
      }
      say(
        `disk write ${rates["disk write MB/s"]} MB/s, read ${rates["disk read MB/s"]} MB/s (guest dd, through the ring)`,
      );
    });

    await step("xl destroy backup", async (say) => {
      const report = await host.destroy("backup");
      checks["destroy left nothing behind (grants, mappings, ports)"] = report.clean;
      say(
        report.clean
          ? "destroyed: no grant, mapping or port left behind"
          : `LEFT BEHIND: ${JSON.stringify(report)}`,
      );
    });
    const trace = host.trace();
    return { steps, checks, rates, backend, totalMs: performance.now() - t0, ...(trace ? { trace } : {}) };
  } finally {
    await host.shutdown();
    rmSync(work, { recursive: true, force: true });
  }
}

/** A small directory tree with a few megabytes of data, and the SHA-256 of each file. */
function makeTree(dir: string): Map<string, string> {
  const files: Array<[string, number]> = [
    ["etc/backup.conf", 300],
    ["home/alice/notes.txt", 12_000],
    ["home/alice/photos/seed-002.raw", 1_500_000],
    ["home/bob/report.pdf", 420_000],
    ["var/lib/db/table.dat", 2_000_000],
    ["var/log/messages", 64_000],
    ["README", 0],
  ];
  let x = 0x2026;
  for (const [path, size] of files) {
    const full = join(dir, path);
    mkdirSync(join(full, ".."), { recursive: true });
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      data[i] = x & 0xff;
    }
    writeFileSync(full, data);
  }
  return hashTree(dir);
}

function hashTree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (!name.startsWith(".pvscsi"))
        out.set(relative(dir, full), createHash("sha256").update(readFileSync(full)).digest("hex"));
    }
  };
  walk(dir);
  return out;
}
