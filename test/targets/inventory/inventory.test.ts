import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SAM_STAT_GOOD } from "../../../src/scsi/device.js";
import { parseHostConfig } from "../../../src/targets/inventory/host-config.js";
import { formatLsscsi, Inventory } from "../../../src/targets/inventory/inventory.js";
import { LinuxNamer, sdIndex, sdName } from "../../../src/targets/inventory/names.js";
import { Disk } from "../../../src/targets/sbc/disk.js";
import { MediumChanger } from "../../../src/targets/smc/medium-changer.js";
import { PvscsiError } from "../../../src/xen/errors.js";
import { hex } from "../_support/devices.js";
import { clearUas, exec, execSync } from "../_support/task.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pvscsi-inv-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("Linux names", () => {
  it("sd letters run a…z, aa…az, ba…, zz, aaa", () => {
    expect([0, 1, 25, 26, 27, 51, 52, 701, 702].map(sdName)).toEqual([
      "sda",
      "sdb",
      "sdz",
      "sdaa",
      "sdab",
      "sdaz",
      "sdba",
      "sdzz",
      "sdaaa",
    ]);
    for (const i of [0, 25, 26, 701, 702, 18277]) expect(sdIndex(sdName(i).slice(2))).toBe(i);
  });

  it("each driver counts on its own; tapes get st and nst, changers sch; sg covers all", () => {
    const n = new LinuxNamer();
    expect([0, 1, 8, 5, 1, 0, 0x0c].map((t) => n.next(t))).toEqual([
      { dev: "sda", nst: null, sg: "sg0" },
      { dev: "st0", nst: "nst0", sg: "sg1" },
      { dev: "sch0", nst: null, sg: "sg2" },
      { dev: "sr0", nst: null, sg: "sg3" },
      { dev: "st1", nst: "nst1", sg: "sg4" },
      { dev: "sdb", nst: null, sg: "sg5" },
      { dev: null, nst: null, sg: "sg6" },
    ]);
  });

  it("are assigned in scan order, whatever the file order; sg numbers cover every device", async () => {
    const inv = await Inventory.open(
      parseHostConfig(
        `[cdrom 1:0:0:0]
[disk 0:0:2:0]
size = 1M
[null 0:0:1:0]
[disk 0:0:0:1]
size = 1M
[cdrom 0:0:3:0]
[disk 0:0:0:0]
size = 1M
`,
        "test.conf",
      ),
    );
    expect(
      inv.entries.map(
        (e) => `${e.hctl.host}:${e.hctl.channel}:${e.hctl.target}:${e.hctl.lun} ${e.names.dev} ${e.names.sg}`,
      ),
    ).toEqual([
      "0:0:0:0 sda sg0",
      "0:0:0:1 sdb sg1",
      "0:0:1:0 sdc sg2",
      "0:0:2:0 sdd sg3",
      "0:0:3:0 sr0 sg4",
      "1:0:0:0 sr1 sg5",
    ]);
    await inv.close();
  });
});

describe("the inventory", () => {
  it("default: the 2007 PV SCSI posting's LTO autoloader (drive LUN 0, changer LUN 1) and a RAM disk on host 0", async () => {
    const inv = await Inventory.openDefault({ stateDir: join(dir, "state") });
    expect(inv.list().map((r) => [r.hctl, r.type, r.dev, r.sg])).toEqual([
      ["0:0:0:0", "tape", "/dev/st0", "/dev/sg0"],
      ["0:0:0:1", "mediumx", "/dev/sch0", "/dev/sg1"],
      ["0:0:1:0", "disk", "/dev/sda", "/dev/sg2"],
    ]);
    // lsscsi -g's columns (lsscsi.c one_sdev_entry), as the guest's lsscsi prints them too.
    expect(formatLsscsi(inv.list())).toBe(
      [
        "[0:0:0:0]    tape    HP       Ultrium 6-SCSI   35GD  /dev/st0   /dev/sg0",
        "[0:0:0:1]    mediumx HP       1x8 G2 AUTOLDR   1.70  /dev/sch0  /dev/sg1",
        "[0:0:1:0]    disk    PVSCSI   RAMDISK          0001  /dev/sda   /dev/sg2",
        "",
      ].join("\n"),
    );
    expect(inv.resolve("/dev/nst0")).toBe(inv.resolve("0:0:0:0"));
    // The autoloader: 8 slots full, the mail slot and the drive empty; nothing written yet.
    const changer = inv.resolve("/dev/sch0").device;
    clearUas(changer);
    const res = execSync(changer, [0xb8, 0x10, 0, 0, 0, 20, 0, 0, 0x10, 0, 0, 0], { dataIn: 4096 });
    expect(res.bytes[3]).toBe(11);
    expect(changer).toBeInstanceOf(MediumChanger);
    expect([...(changer as MediumChanger).placement().values()]).toEqual(
      Array.from({ length: 8 }, (_, i) => `A0000${i + 1}L6`),
    );
    expect(existsSync(join(dir, "state"))).toBe(false);
    const sda = inv.resolve("/dev/sda");
    expect(sda.device).toBeInstanceOf(Disk);
    // What a guest's scan sends: INQUIRY, VPD 00/80/83, TUR, REPORT LUNS, READ CAPACITY, READ/WRITE, MODE SENSE, SYNC.
    const d = sda.device;
    clearUas(d);
    expect(hex(execSync(d, [0x12, 1, 0, 0, 64, 0], { dataIn: 64 }).bytes)).toBe("00000006008083b0b1b2");
    const vpd83 = execSync(d, [0x12, 1, 0x83, 0, 255, 0], { dataIn: 255 }).bytes;
    expect(hex(vpd83.subarray(8, 16))).toBe(sda.wwn);
    expect(execSync(d, [0, 0, 0, 0, 0, 0]).status).toBe(SAM_STAT_GOOD);
    expect(hex(execSync(d, [0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0], { dataIn: 64 }).bytes)).toBe(
      "00000008000000000000000000000000",
    );
    expect(hex(execSync(d, [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], { dataIn: 8 }).bytes)).toBe("0001ffff00000200");
    expect(
      execSync(d, [0x2a, 0, 0, 0, 0, 1, 0, 0, 1, 0], { dataOut: new Uint8Array(512).fill(3) }).status,
    ).toBe(0);
    expect(execSync(d, [0x28, 0, 0, 0, 0, 1, 0, 0, 1, 0], { dataIn: 512 }).bytes[0]).toBe(3);
    expect(execSync(d, [0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0]).status).toBe(SAM_STAT_GOOD);
    expect(execSync(d, [0x5a, 0, 0x3f, 0, 0, 0, 0, 1, 0, 0], { dataIn: 256 }).status).toBe(SAM_STAT_GOOD);
    await inv.close();
  });

  it("resolves /dev names, h:c:t:l and naa.<target port wwn>:<lun> to the same unit", async () => {
    const inv = await Inventory.open(
      parseHostConfig(
        `[target 0:0:5]
wwn = 5001122334455667
[disk 0:0:5:3]
size = 1M
[disk 0:0:5:0]
size = 1M
`,
        "test.conf",
      ),
    );
    const e = inv.resolve("0:0:5:3");
    expect(e.pdevWwn).toBe("naa.5001122334455667:3");
    expect(inv.resolve("/dev/sdb")).toBe(e);
    expect(inv.resolve("sdb")).toBe(e);
    expect(inv.resolve("/dev/sg1")).toBe(e);
    expect(inv.resolve("naa.5001122334455667:3")).toBe(e);
    expect(inv.resolve("naa.5001122334455667:0")).toBe(inv.resolve("/dev/sda"));
    expect(inv.find("naa.5001122334455667:1")).toBeUndefined();
    expect(() => inv.resolve("/dev/sdb1")).toThrow(/p-dev "\/dev\/sdb1": is a partition/);
    expect(() => inv.resolve("/dev/sdz")).toThrow(/no such disk/);
    expect(() => inv.resolve("naa.12:0")).toThrow(/expected naa\.<16 hex digits>:<lun>/);
    // Both units share one target: REPORT LUNS through either lists both.
    const rl = await exec(e.target, [0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0], { dataIn: 64, lun: 1 });
    expect(hex(rl.bytes)).toBe("0000001000000000" + "0000000000000000" + "0003000000000000");
    await inv.close();
  });

  it("derived WWNs are stable across openings and distinct", async () => {
    const text = "[disk 0:0:0:0]\nsize=1M\n[disk 0:0:0:1]\nsize=1M\n[cdrom 0:0:1:0]\n";
    const a = await Inventory.open(parseHostConfig(text, "a"));
    const b = await Inventory.open(parseHostConfig(text, "b"));
    expect(a.entries.map((e) => e.wwn)).toEqual(b.entries.map((e) => e.wwn));
    expect(new Set(a.entries.map((e) => e.wwn)).size).toBe(3);
    for (const e of a.entries) expect(e.wwn).toMatch(/^3[0-9a-f]{15}$/);
    expect(a.entries[0]!.pdevWwn.split(":")[0]).toBe(a.entries[1]!.pdevWwn.split(":")[0]);
    await a.close();
    await b.close();
  });

  it("claims: a non-shareable unit goes to one owner; a shareable one to several", async () => {
    const inv = await Inventory.open(
      parseHostConfig("[disk 0:0:0:0]\nsize=1M\n[disk 0:0:0:1]\nsize=1M\nshareable=yes\n", "c"),
    );
    const [solo, shared] = inv.entries as [(typeof inv.entries)[0], (typeof inv.entries)[0]];
    inv.claim(solo, "dom1");
    inv.claim(solo, "dom1");
    expect(() => inv.claim(solo, "dom2")).toThrow(
      /0:0:0:0 \(\/dev\/sda\): is assigned to dom1 and not shareable/,
    );
    inv.release(solo, "dom1");
    inv.claim(solo, "dom2");
    inv.claim(shared, "dom1");
    inv.claim(shared, "dom2");
    expect(inv.owners(shared)).toEqual(["dom1", "dom2"]);
    await inv.close();
  });

  it("file-backed units come from a config file with paths relative to it; bad images are faults, not failures", async () => {
    const conf = join(dir, "hosts.conf");
    await writeFile(join(dir, "short.img"), new Uint8Array(100));
    await writeFile(
      conf,
      `[disk 0:0:0:0]
file = data.img
size = 2M
create = yes
[disk 0:0:0:1]
file = short.img
[cdrom 0:0:1:0]
file = nothing.iso
`,
    );
    const inv = await Inventory.openFile(conf);
    expect(inv.entries.map((e) => e.fault === null)).toEqual([true, false, false]);
    expect(inv.entries[1]!.fault).toContain(join(dir, "short.img"));
    const t = await exec(inv.entries[0]!.device, [0x03, 0, 0, 0, 18, 0], { dataIn: 18 });
    expect(t.status).toBe(SAM_STAT_GOOD);
    await inv.close();
    await expect(Inventory.openFile(join(dir, "absent.conf"))).rejects.toThrow(
      /absent\.conf: cannot read the host config/,
    );
  });

  it("a derived WWN clash is reported before anything is created", async () => {
    const inv = await Inventory.open(parseHostConfig("[disk 0:0:0:0]\nsize=1M\n", "x"));
    const wwn = inv.entries[0]!.wwn;
    await inv.close();
    const clash = parseHostConfig(`[disk 0:0:0:0]\nsize=1M\n[null 0:0:1:0]\nwwn=${wwn}\n`, "y");
    const err = await Inventory.open(clash).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PvscsiError);
    expect((err as Error).message).toMatch(
      /y:1: derived wwn .* of 0:0:0:0 clashes with 0:0:1:0; set wwn explicitly/,
    );
  });
});
