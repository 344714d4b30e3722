import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalSystem } from "../../src/system/single-thread.js";
import { Host } from "../../src/toolstack/host.js";
import { requireSystem } from "../_support/system.js";
import { startTgtd, type Tgtd } from "./_tgtd.js";

/**
 * The seeds' backup-to-tape scenario (mtx load, tar, rewind, restore, verify, unload) on tgtd's
 * own tape drive and medium changer (ssc and smc LUs set up as tgt's README.vtl does), reached
 * by dom0's iSCSI initiator and passed whole to a guest (`'2:0:0:1,host'`, feature-host): the
 * guest's mtx, mt and tar drive them through scsifront → ring → scsiback → iSCSI → tgtd.
 */
const have = requireSystem(
  { pkg: "tgt", program: "tgtd" },
  { pkg: "tgt", program: "tgtadm" },
  { pkg: "tgt", program: "tgtimg" },
);
const exec = promisify(execFile);
const PORT = 31000 + (process.pid % 2000);
const IQN = "iqn.2026-12.test:vtl";
let tgtd: Tgtd | undefined;
let sys: LocalSystem | undefined;
let host: Host | undefined;
let dir = "";

/** A small tree of files with varied sizes (some not a multiple of 512), by relative path → SHA-256. */
function makeTree(root: string): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < 12; i++) {
    const sub = join(root, `d${i % 3}`);
    mkdirSync(sub, { recursive: true });
    const data = Buffer.alloc(1 + ((i * 7919) % 70_000), `file ${i} of the backup `);
    writeFileSync(join(sub, `f${i}.bin`), data);
    out.set(`d${i % 3}/f${i}.bin`, createHash("sha256").update(data).digest("hex"));
  }
  return out;
}

function hashTree(root: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const sub of readdirSync(root))
    for (const f of readdirSync(join(root, sub)))
      out.set(
        `${sub}/${f}`,
        createHash("sha256")
          .update(readFileSync(join(root, sub, f)))
          .digest("hex"),
      );
  return out;
}

describe.runIf(have)("backup to tape on tgtd's tape and changer, through PVSCSI", () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "pvscsi-vtl-"));
    const vtl = join(dir, "vtl");
    mkdirSync(vtl);
    writeFileSync(join(vtl, "smc"), Buffer.alloc(1024));
    for (const barcode of ["00000001", "00000002"])
      await exec("tgtimg", [
        "--op",
        "new",
        "--device-type",
        "tape",
        "--barcode",
        barcode,
        "--size",
        "16",
        "--type",
        "data",
        "--file",
        join(vtl, barcode),
      ]);
    tgtd = await startTgtd({
      port: PORT,
      control: 800 + (process.pid % 100),
      iqn: IQN,
      luns: [],
      maxSeconds: 240,
    });
    const lu = (...a: string[]) =>
      tgtd!.tgtadm("--lld", "iscsi", "--mode", "logicalunit", "--tid", "1", ...a);
    // README.vtl: a drive (offline until the changer loads it), the changer, its elements.
    await lu("--op", "new", "--lun", "1", "-b", join(vtl, "00000001"), "--device-type=tape");
    await lu("--op", "update", "--lun", "1", "--params", "online=0");
    await lu("--op", "new", "--lun", "2", "-b", join(vtl, "smc"), "--device-type=changer");
    await lu("--op", "update", "--lun", "2", "--params", `media_home=${vtl}`);
    await lu("--op", "update", "--lun", "2", "--params", "element_type=4,start_address=1,quantity=1");
    await lu("--op", "update", "--lun", "2", "--params", "element_type=4,address=1,tid=1,lun=1");
    await lu("--op", "update", "--lun", "2", "--params", "element_type=1,start_address=2,quantity=1");
    await lu("--op", "update", "--lun", "2", "--params", "element_type=2,start_address=3,quantity=2");
    await lu("--op", "update", "--lun", "2", "--params", "element_type=2,address=3,barcode=00000001,sides=1");
    await lu("--op", "update", "--lun", "2", "--params", "element_type=2,address=4,barcode=00000002,sides=1");
    const conf = `[iscsi-target 2:0:0]\nportal = 127.0.0.1:${PORT}\ntarget = ${IQN}\n`;
    sys = await LocalSystem.start({ hostConfig: { text: conf, source: "dom0.conf", baseDir: dir } });
    host = new Host(sys, { guestRoots: join(dir, "guests") });
  }, 60_000);

  afterAll(async () => {
    if (sys && host) await sys.run(host.shutdown());
    await tgtd?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("mtx load, tar, rewind, restore, verify, unload", async () => {
    const run = <T>(p: Promise<T>) => sys!.run(p);
    await run(host!.create(`name = "backup"\nvscsi = [ '2:0:0:1,host' ]\n`, join(dir, "backup.cfg")));
    const g = async (...argv: string[]) => run(host!.guestCommand("backup", argv));
    const ls = (await g("lsscsi", "-g")).stdout;
    expect(ls).toMatch(/tape\s+IET\s+VIRTUAL-TAPE.*\/dev\/st0/);
    expect(ls).toMatch(/mediumx\s+IET\s+VIRTUAL-CHANGER.*\/dev\/sch0/);

    const root = join(dir, "guests", "backup", "root");
    const original = makeTree(join(root, "guest-files"));
    const status = await g("mtx", "-f", "/dev/sch0", "status");
    expect(status.stdout).toMatch(/Storage Element 1:Full :VolumeTag=00000001/);
    const load = await g("mtx", "-f", "/dev/sch0", "load", "1", "0");
    expect(load.exitCode, load.stderr).toBe(0);
    expect((await g("mtx", "-f", "/dev/sch0", "status")).stdout).toMatch(/Data Transfer Element 0:Full/);

    const c = await g("tar", "-c", "-f", "/dev/nst0", "-C", "/guest-files", ".");
    expect(c.exitCode, c.stderr).toBe(0);
    const rw = await g("mt", "-f", "/dev/nst0", "rewind");
    expect(rw.exitCode, rw.stderr).toBe(0);
    mkdirSync(join(root, "restored"));
    const x = await g("tar", "-x", "-f", "/dev/nst0", "-C", "/restored");
    expect(x.exitCode, x.stderr).toBe(0);
    expect(hashTree(join(root, "restored"))).toEqual(original);

    const unload = await g("mtx", "-f", "/dev/sch0", "unload", "1", "0");
    expect(unload.exitCode, unload.stderr).toBe(0);
    expect((await g("mtx", "-f", "/dev/sch0", "status")).stdout).toMatch(/Storage Element 1:Full/);
  }, 120_000);
});
