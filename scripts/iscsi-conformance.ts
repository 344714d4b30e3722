/**
 * libiscsi's conformance suite through the PV ring: `pvscsi up` with a 64 MiB disk, a guest
 * that exports it with `iscsi-target`, and `iscsi-test-cu -d -t ALL` against the export
 * (CompareAndWrite in a process of its own: libiscsi 1.19's InvalidDataOutSize leaves a PDU hook
 * behind, fixed in 1.20). With --tgtd, the same runs straight at a tgtd on 127.0.0.1 for the
 * baseline. With --media a tape drive and a medium changer are exported too (LUNs 1 and 2) and the
 * device-independent suites run against each. Prints pass/fail/skip per suite, then every failure
 * and skip by name.
 *
 *   npx tsx scripts/iscsi-conformance.ts [--tgtd] [--media] [--only <family.suite> [--verbose]] [--md <file>] [--raw <dir>]
 *   npx tsx scripts/iscsi-conformance.ts --from-raw <dir> [--md <file>]   (tabulate kept logs)
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../src/cli/main.js";
import { startUp } from "../test/_support/pvscsi-up.js";
import { startTgtd } from "../test/iscsi/_tgtd.js";

interface Outcome {
  suite: string;
  test: string;
  result: "pass" | "fail" | "skip";
}

function testCu(args: string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile("iscsi-test-cu", args, { timeout: 900_000, maxBuffer: 64 << 20 }, (_e, stdout, stderr) =>
      resolve(`${stdout}\n${stderr}`),
    );
  });
}

/**
 * CUnit's text: "Suite: X", then per test "  Test: Y ..." followed (on the same line or after the
 * test's own log lines) by its verdict, "passed" or "FAILED". libiscsi logs "[SKIPPED]" for a
 * test that did not apply; CUnit still calls it passed, so those are counted as skips.
 */
export function parseCu(out: string): Outcome[] {
  const res: Outcome[] = [];
  let suite = "";
  let test: string | null = null;
  let skipped = false;
  const verdict = (text: string): boolean => {
    // The verdict opens the text; the test's late log lines may follow it on the same line.
    const v = /^(passed|FAILED)\b/.exec(text.trim())?.[1];
    if (test === null || v === undefined) return false;
    res.push({ suite, test, result: v === "FAILED" ? "fail" : skipped ? "skip" : "pass" });
    test = null;
    return true;
  };
  for (const line of out.split("\n")) {
    const s = /^Suite: (\S+)/.exec(line);
    if (s) {
      suite = s[1]!;
      test = null;
      continue;
    }
    const t = /^\s*Test: (\S+) \.\.\.(.*)$/.exec(line);
    if (t) {
      test = t[1]!;
      skipped = /\[SKIPPED\]/.test(t[2]!);
      verdict(t[2]!);
      continue;
    }
    if (test === null) continue;
    if (/\[SKIPPED\]/.test(line)) skipped = true;
    verdict(line);
  }
  return res;
}

/**
 * The iscsi-test-cu suites that apply to any SCSI device (SPC-4 commands and the iSCSI layer
 * under TEST UNIT READY); the rest test SBC commands, which a tape drive or a changer does not
 * have.
 */
const DEVICE_INDEPENDENT_SUITES = [
  "Inquiry",
  "Mandatory",
  "ModeSense6",
  "NoMedia",
  "PrinReadKeys",
  "PrinReportCapabilities",
  "PrinServiceactionRange",
  "ProutClear",
  "ProutPreempt",
  "ProutRegister",
  "ProutReserve",
  "ReportSupportedOpcodes",
  "Reserve6",
  "TestUnitReady",
  "iSCSIcmdsn",
];

async function runAll(
  url: string,
  only: string | undefined,
  raw: string | undefined,
  tag: string,
): Promise<Outcome[]> {
  // The URL twice: MultipathIO runs with two sessions to the one LU (the others use the first).
  const outs = only
    ? [await testCu([...(process.argv.includes("--verbose") ? ["-V"] : []), "-d", "-t", only, url, url])]
    : [await testCu(["-d", "-t", "ALL.[!C]*", url, url]), await testCu(["-d", "-t", "ALL.C*", url, url])];
  if (raw) writeFileSync(join(raw, `${tag}.log`), outs.join("\n"));
  return outs.flatMap(parseCu);
}

function table(title: string, rows: Outcome[]): string {
  const suites = new Map<string, { pass: number; fail: number; skip: number }>();
  for (const r of rows) {
    const s = suites.get(r.suite) ?? { pass: 0, fail: 0, skip: 0 };
    s[r.result]++;
    suites.set(r.suite, s);
  }
  const tot = { pass: 0, fail: 0, skip: 0 };
  const lines = [`### ${title}`, "", "| Suite | Pass | Fail | Skip |", "|---|---|---|---|"];
  for (const [name, s] of [...suites].sort()) {
    lines.push(`| ${name} | ${s.pass} | ${s.fail} | ${s.skip} |`);
    tot.pass += s.pass;
    tot.fail += s.fail;
    tot.skip += s.skip;
  }
  lines.push(`| **total ${rows.length}** | **${tot.pass}** | **${tot.fail}** | **${tot.skip}** |`, "");
  const named = (k: Outcome["result"]) =>
    rows
      .filter((r) => r.result === k)
      .map((r) => `${r.suite}.${r.test}`)
      .join(", ");
  lines.push(`Failed: ${named("fail") || "none"}`, "", `Skipped: ${named("skip") || "none"}`, "");
  return lines.join("\n");
}

/** Pass/fail/skip per suite, through the ring beside tgtd. */
function sideBySide(ring: Outcome[], tgtd: Outcome[]): string {
  const count = (rows: Outcome[], suite: string, k: Outcome["result"]) =>
    rows.filter((r) => r.suite === suite && r.result === k).length;
  const lines = [
    "### through the ring beside tgtd",
    "",
    "| Suite | Ring pass | Ring fail | Ring skip | tgtd pass | tgtd fail | tgtd skip |",
    "|---|---|---|---|---|---|---|",
  ];
  const kinds = ["pass", "fail", "skip"] as const;
  for (const suite of [...new Set([...ring, ...tgtd].map((r) => r.suite))].sort()) {
    const cells = [...kinds.map((k) => count(ring, suite, k)), ...kinds.map((k) => count(tgtd, suite, k))];
    lines.push(`| ${suite} | ${cells.join(" | ")} |`);
  }
  const tot = [
    ...kinds.map((k) => ring.filter((r) => r.result === k).length),
    ...kinds.map((k) => tgtd.filter((r) => r.result === k).length),
  ];
  lines.push(`| **total** | ${tot.map((t) => `**${t}**`).join(" | ")} |`, "");
  return lines.join("\n");
}

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (s) => out.push(s), err: (s) => err.push(s) });
  return { code, out: out.join(""), err: err.join("") };
}

async function run(): Promise<void> {
  const argv = process.argv.slice(2);
  const withTgtd = argv.includes("--tgtd");
  const oi = argv.indexOf("--only");
  const only = oi >= 0 ? argv[oi + 1] : undefined;
  const mi = argv.indexOf("--md");
  const md = mi >= 0 ? argv[mi + 1] : undefined;
  const ri = argv.indexOf("--raw");
  const raw = ri >= 0 ? argv[ri + 1] : undefined;
  const fi = argv.indexOf("--from-raw");
  if (fi >= 0) {
    // Tabulate the logs a --raw run kept, without running anything.
    const from = argv[fi + 1]!;
    const kept = ["ring", "tgtd"]
      .filter((t) => existsSync(join(from, `${t}.log`)))
      .map((t) => {
        let rows = parseCu(readFileSync(join(from, `${t}.log`), "utf8"));
        const ro = join(from, "ring-readonly.log");
        if (t === "ring" && existsSync(ro))
          rows = [...rows.filter((r) => r.suite !== "ReadOnly"), ...parseCu(readFileSync(ro, "utf8"))];
        return [t, rows] as const;
      });
    const tables = kept.map(([t, rows]) =>
      table(t === "ring" ? "through the PV ring" : "tgtd directly", rows),
    );
    if (kept.length === 2) tables.unshift(sideBySide(kept[0]![1], kept[1]![1]));
    const text = tables.join("\n");
    process.stdout.write(`${text}\n`);
    if (md) writeFileSync(md, text);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "pvscsi-conf-"));
  const socket = join(dir, "host.sock");
  const conf = join(dir, "host.conf");
  const vm = join(dir, "vm.cfg");
  // The disk is shareable and given to the guest on three vscsi controllers: three paths, three
  // I_T nexuses at the device, so libiscsi's two-initiator tests (reservations) meet two
  // initiators the device can tell apart (and a returning initiator a third while its old
  // session is still being torn down).
  // With --media a tape drive (a cartridge loaded) and a medium changer join it, the same way:
  // LUN 1 and LUN 2 of the export.
  const media = argv.includes("--media");
  let hostConf = "[disk 0:0:0:0]\nmodel = CONFORMANCE\nsize = 64M\nthin = yes\nshareable = yes\n";
  const pdevs = ["0:0:0:0"];
  if (media) {
    hostConf +=
      `\n[tape 0:0:1:0]\ncartridges = ${join(dir, "tapes")}\nload = C00001L6\ncapacity = 256M\nshareable = yes\n` +
      `\n[tape 0:0:2:0]\n\n[changer 0:0:2:1]\ncartridges = ${join(dir, "tapes")}\nslots = 4\n` +
      `drives = 0:0:2:0\nbarcodes = C00002L6, C00003L6\ncapacity = 256M\nshareable = yes\n`;
    pdevs.push("0:0:1:0", "0:0:2:1");
    mkdirSync(join(dir, "tapes"));
  }
  // libiscsi's ReadOnly suite needs a write-protected LU (thin, as the main disk, so UNMAP and
  // WRITE SAME with UNMAP meet the write protection): a small read-only disk, the last LUN.
  hostConf += "\n[disk 0:0:3:0]\nmodel = READONLY\nsize = 4M\nthin = yes\nread-only = yes\nshareable = yes\n";
  pdevs.push("0:0:3:0");
  const readOnlyLun = pdevs.length - 1;
  writeFileSync(conf, hostConf);
  const vscsi = [0, 1, 2].flatMap((h) => pdevs.map((p, i) => `'${p},${h}:0:${i}:0'`));
  writeFileSync(vm, `name = "vm1"\nvscsi = [ ${vscsi.join(", ")} ]\n`);
  const out: string[] = [];
  let ringRows: Outcome[] = [];
  const host = await startUp(["--config", conf, "--socket", socket], {
    env: { ...process.env, PVSCSI_STATE_DIR: join(dir, "state") },
  });
  try {
    const c = await cli("xl", "--socket", socket, "create", vm);
    if (c.code !== 0) throw new Error(`xl create: ${c.err}`);
    const iqn = "iqn.2026-12.org.pvscsi:conformance";
    const t = await cli("guest", "--socket", socket, "vm1", "iscsi-target", "-p", "0", "-n", iqn);
    if (t.code !== 0) throw new Error(`iscsi-target: ${t.err}`);
    process.stdout.write(t.out);
    const portal = /on (\S+)/.exec(t.out)![1]!;
    const started = Date.now();
    let rows = await runAll(`iscsi://${portal}/${iqn}/0`, only, raw, "ring");
    if (!only) {
      // ReadOnly against the write-protected LUN, in place of its skip on the writable one.
      const log = await testCu(["-d", "-t", "ALL.ReadOnly", `iscsi://${portal}/${iqn}/${readOnlyLun}`]);
      if (raw) writeFileSync(join(raw, "ring-readonly.log"), log);
      rows = [...rows.filter((r) => r.suite !== "ReadOnly"), ...parseCu(log)];
    }
    ringRows = rows;
    out.push(
      table(
        `through the PV ring (guest export of a 64 MiB pvscsi disk), ${((Date.now() - started) / 1000).toFixed(1)} s`,
        rows,
      ),
    );
    if (media) {
      for (const [lun, what] of [
        [1, "tape drive"],
        [2, "medium changer"],
      ] as const) {
        const url = `iscsi://${portal}/${iqn}/${lun}`;
        const mrows: Outcome[] = [];
        const logs: string[] = [];
        for (const suite of DEVICE_INDEPENDENT_SUITES) {
          // One URL: libiscsi's multipath wants SBC devices; its two-initiator tests then clone
          // the session (a second login, as initiator name 2).
          const log = await testCu(["-d", "-t", `ALL.${suite}`, url]);
          logs.push(log);
          mrows.push(...parseCu(log));
        }
        if (raw) writeFileSync(join(raw, `ring-lun${lun}.log`), logs.join("\n"));
        if (mrows.length === 0) {
          // libiscsi 1.19's iscsi-test-cu reads the LU's size with READ CAPACITY(10) before any
          // suite and gives up when that fails — which it does on every SSC and SMC device.
          const why = /READCAPACITY10[^\n]*/.exec(logs.join("\n"))?.[0] ?? "no test ran";
          out.push(
            `### through the PV ring: ${what} (LUN ${lun})`,
            "",
            `iscsi-test-cu did not start: ${why}`,
            "",
          );
        } else
          out.push(table(`through the PV ring: ${what} (LUN ${lun}), the suites that are not SBC's`, mrows));
      }
    }
  } finally {
    await host.stop();
  }
  if (withTgtd) {
    const tgtd = await startTgtd({
      port: 13260 + (process.pid % 1000),
      control: 400 + (process.pid % 500),
      iqn: "iqn.2026-12.org.pvscsi:tgtd-baseline",
      luns: [{ lun: 1, size: 64 * 1024 * 1024 }],
      maxSeconds: 900,
    });
    try {
      const started = Date.now();
      const rows = await runAll(`iscsi://127.0.0.1:${tgtd.port}/${tgtd.iqn}/1`, only, raw, "tgtd");
      out.push(table(`tgtd directly (64 MiB LUN), ${((Date.now() - started) / 1000).toFixed(1)} s`, rows));
      out.unshift(sideBySide(ringRows, rows));
    } finally {
      await tgtd.stop();
    }
  }
  rmSync(dir, { recursive: true, force: true });
  const text = out.join("\n");
  process.stdout.write(`${text}\n`);
  if (md) writeFileSync(md, text);
}

run().catch((e: unknown) => {
  process.stderr.write(`iscsi-conformance: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
