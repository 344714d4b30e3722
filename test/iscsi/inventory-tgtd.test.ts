import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { parseHostConfig } from "../../src/targets/inventory/host-config.js";
import { startUp, type UpProcess } from "../_support/pvscsi-up.js";
import { requireSystem } from "../_support/system.js";
import { startTgtd, type Tgtd } from "./_tgtd.js";

/** An `[iscsi]` host config section: a tgtd LUN in dom0's inventory, given to a guest. */
const have = requireSystem({ pkg: "tgt", program: "tgtd" });
const PORT = 29000 + (process.pid % 2000);

describe("the [iscsi] host config section", () => {
  it("parses portal, target, lun, initiator, per-vhba-initiator, and names bad values", () => {
    const c = parseHostConfig(
      "[iscsi 0:0:5:0]\nportal = 127.0.0.1:3260\ntarget = iqn.2001-04.com.example:disk1\nlun = 1\nper-vhba-initiator = yes\n",
      "t.conf",
    );
    expect(c.devices[0]).toMatchObject({
      kind: "iscsi",
      portal: "127.0.0.1:3260",
      target: "iqn.2001-04.com.example:disk1",
      lun: 1,
      initiator: "iqn.2026-12.org.pvscsi:dom0",
      perVhbaInitiator: true,
    });
    expect(() => parseHostConfig("[iscsi 0:0:5:0]\ntarget = iqn.2001-04.com.example:d\n", "t.conf")).toThrow(
      /needs "portal/,
    );
    expect(() => parseHostConfig("[iscsi 0:0:5:0]\nportal = x:1\ntarget = disk1\n", "t.conf")).toThrow(
      /iSCSI name/,
    );
  });

  it("parses [iscsi-target h:c:t] and keeps other sections out of its h:c:t", () => {
    const t =
      "[iscsi-target 2:0:0]\nportal = 127.0.0.1:3260\ntarget = iqn.2001-04.com.example:array1\nchap-user = u\nchap-secret = s\n";
    const c = parseHostConfig(t, "t.conf");
    expect(c.devices).toEqual([]);
    expect(c.iscsiTargets[0]!.unit).toMatchObject({
      kind: "iscsi",
      hctl: { host: 2, channel: 0, target: 0, lun: 0 },
      target: "iqn.2001-04.com.example:array1",
      chap: { username: "u", secret: "s" },
    });
    expect(() => parseHostConfig(`${t}[disk 2:0:0:3]\nsize = 1M\n`, "t.conf")).toThrow(
      /t\.conf:\d+: 2:0:0:3 is inside \[iscsi-target 2:0:0\] \(line 1\)/,
    );
    expect(() =>
      parseHostConfig(`${t}[iscsi-target 2:0:0]\nportal = x\ntarget = iqn.2001-04.com.example:b\n`, "t.conf"),
    ).toThrow(/target 2:0:0 is declared twice/);
    expect(() =>
      parseHostConfig(
        `[iscsi-target 2:0:0]\nportal = x\ntarget = iqn.2001-04.com.example:b\nlun = 1\n`,
        "t.conf",
      ),
    ).toThrow(/unknown key "lun" in \[iscsi-target\]/);
  });

  it("parses CHAP credentials (one-way and mutual) and refuses half a pair", () => {
    const base = "[iscsi 0:0:5:0]\nportal = 127.0.0.1\ntarget = iqn.2001-04.com.example:disk1\n";
    const c = parseHostConfig(
      `${base}chap-user = dom0\nchap-secret = s1\nchap-target-user = tgt\nchap-target-secret = s2\n`,
      "t.conf",
    );
    expect(c.devices[0]).toMatchObject({
      chap: { username: "dom0", secret: "s1", targetUsername: "tgt", targetSecret: "s2" },
    });
    expect(parseHostConfig(base, "t.conf").devices[0]).not.toHaveProperty("chap");
    expect(() => parseHostConfig(`${base}chap-user = dom0\n`, "t.conf")).toThrow(
      /t\.conf:\d+: .*both "chap-user" and "chap-secret"/,
    );
    expect(() => parseHostConfig(`${base}chap-target-secret = s2\n`, "t.conf")).toThrow(/mutual CHAP/);
  });
});

let tgtd: Tgtd | undefined;
let host: UpProcess | undefined;
const dir = mkdtempSync(join(tmpdir(), "pvscsi-iscsi-inv-"));
const socket = join(dir, "host.sock");

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (s) => out.push(s), err: (s) => err.push(s) });
  return { code, out: out.join(""), err: err.join("") };
}

describe.runIf(have)("a tgtd LUN in dom0's inventory", () => {
  beforeAll(async () => {
    tgtd = await startTgtd({
      port: PORT,
      control: 1100 + (process.pid % 90),
      iqn: "iqn.2026-12.test:inventory",
      luns: [{ lun: 1, size: 8 * 1024 * 1024 }],
      maxSeconds: 300,
    });
    const conf = join(dir, "host.conf");
    writeFileSync(
      conf,
      `[iscsi 0:0:5:0]\nportal = 127.0.0.1:${PORT}\ntarget = iqn.2026-12.test:inventory\nlun = 1\n\n` +
        `[iscsi-target 3:0:0]\nportal = 127.0.0.1:${PORT}\ntarget = iqn.2026-12.test:inventory\n`,
    );
    writeFileSync(join(dir, "vm.cfg"), `name = "vm1"\nvscsi = [ '0:0:5:0,0:0:0:0' ]\n`);
    host = await startUp(["--config", conf, "--socket", socket], {
      env: { ...process.env, PVSCSI_STATE_DIR: join(dir, "state") },
    });
  }, 60_000);
  afterAll(async () => {
    await host?.stop();
    await tgtd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("dom0 lists it with the LU's own identity; a guest gets it and reads its capacity", async () => {
    // 'pvscsi up' prints dom0's inventory, as lsscsi would.
    expect(host!.output()).toMatch(/\[0:0:5:0\]\s+disk\s+IET\s+VIRTUAL-DISK/);
    const c = await cli("xl", "--socket", socket, "create", join(dir, "vm.cfg"));
    expect(c.code).toBe(0);
    const l = await cli("guest", "--socket", socket, "vm1", "lsscsi");
    expect(l.out).toMatch(/disk\s+IET\s+VIRTUAL-DISK/);
    const cap = await cli("guest", "--socket", socket, "vm1", "sg_readcap", "/dev/sda");
    expect(cap.out).toMatch(/16384/);
  }, 60_000);

  it("xl scsi-rescan hot-plugs a LU tgtadm adds into a whole-HBA guest ('3:0:0:1,host')", async () => {
    expect(host!.output()).toMatch(/\[3:0:0:1\]\s+disk\s+IET\s+VIRTUAL-DISK/);
    writeFileSync(join(dir, "vm2.cfg"), `name = "vm2"\nvscsi = [ '3:0:0:1,host' ]\n`);
    expect((await cli("xl", "--socket", socket, "create", join(dir, "vm2.cfg"))).code).toBe(0);
    await tgtd!.addLun({ lun: 2, size: 1024 * 1024 });
    const r = await cli("xl", "--socket", socket, "scsi-rescan", "3");
    expect(r.code).toBe(0);
    expect(r.out).toBe("added 3:0:0:2\nhot-plugged vm2 3:0:0:2\n");
    const l = await cli("guest", "--socket", socket, "vm2", "lsscsi");
    expect(l.out.match(/disk\s+IET/g)).toHaveLength(2);
    const bad = await cli("xl", "--socket", socket, "scsi-rescan", "nine");
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/expected a host number or backend=<Domain>, got 'nine'/);
  }, 60_000);
});
