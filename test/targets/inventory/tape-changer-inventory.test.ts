import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SAM_STAT_GOOD } from "../../../src/scsi/device.js";
import { parseHostConfig } from "../../../src/targets/inventory/host-config.js";
import { Inventory } from "../../../src/targets/inventory/inventory.js";
import { defaultStateDir } from "../../../src/targets/inventory/state-dir.js";
import type { MediumChanger } from "../../../src/targets/smc/medium-changer.js";
import type { TapeDrive } from "../../../src/targets/ssc/tape-drive.js";
import { cdb, pattern } from "../_support/tape.js";
import { clearUas, exec } from "../_support/task.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pvscsi-tapeinv-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const CONFIG = `[tape 0:0:0:0]
vendor = HP
model = Ultrium 6-SCSI
[tape 0:1:0:0]
generation = 5
[changer 0:0:1:0]
cartridges = vault
slots = 4
import-export = 1
drives = 0:0:0:0, 0:1:0:0
barcodes = V00001L6 V00002L6
write-protect = V00002L6
capacity = 64M
early-warning = 1M
[tape 0:0:2:0]
cartridges = loose
load = L00001L5
capacity = 2M
`;

async function openConfig(sub: string) {
  const d = join(dir, sub);
  await mkdir(d, { recursive: true });
  await writeFile(join(d, "hosts.conf"), CONFIG);
  return Inventory.openFile(join(d, "hosts.conf"));
}

describe("tapes and changers from the host config", () => {
  it("are named st/nst/sch in scan order; a changer's drives are its data transfer elements", async () => {
    const inv = await openConfig("names");
    expect(inv.list().map((r) => `${r.hctl} ${r.type} ${r.dev} ${r.sg}`)).toEqual([
      "0:0:0:0 tape /dev/st0 /dev/sg0",
      "0:0:1:0 mediumx /dev/sch0 /dev/sg1",
      "0:0:2:0 tape /dev/st1 /dev/sg2",
      "0:1:0:0 tape /dev/st2 /dev/sg3",
    ]);
    const changer = inv.resolve("/dev/sch0").device as MediumChanger;
    expect(changer.drives).toEqual([inv.resolve("/dev/nst0").device, inv.resolve("0:1:0:0").device]);
    // The second drive is on another channel: NOT BUS set in its descriptor.
    clearUas(changer);
    const res = await exec(changer, [0xb8, 4, 0, 0, 0, 2, 0, 0, 1, 0, 0, 0], { dataIn: 256 });
    expect([res.bytes[16 + 6], res.bytes[16 + 16 + 6]]).toEqual([0x30, 0xb0]);
    // The loose drive loaded its cartridge, created on first use next to the config.
    const loose = inv.resolve("/dev/st1").device as TapeDrive;
    expect(loose.state).toBe("loaded");
    expect(loose.cartridge?.capacity).toBe(2 << 20);
    expect(existsSync(join(dir, "names", "loose", "L00001L5.pvtape"))).toBe(true);
    await inv.close();
  });

  it("a MOVE into a drive, data written, the cartridge back; all of it survives closing and reopening", async () => {
    const inv = await openConfig("restart");
    const changer = inv.resolve("/dev/sch0").device as MediumChanger;
    const drive = inv.resolve("/dev/st0").device as TapeDrive;
    clearUas(changer);
    clearUas(drive);
    const move = (s: number, d: number) => [0xa5, 0, 0, 0, s >>> 8, s & 0xff, d >>> 8, d & 0xff, 0, 0, 0, 0];
    expect((await exec(changer, move(1000, 500))).status).toBe(SAM_STAT_GOOD);
    expect(clearUas(drive)).toEqual(["06/28/00"]);
    expect((await exec(drive, cdb.write(4096), { dataOut: pattern(4096, 1) })).status).toBe(SAM_STAT_GOOD);
    expect((await exec(drive, cdb.filemarks(1))).status).toBe(SAM_STAT_GOOD);
    // The write-protected cartridge goes to the second drive.
    expect((await exec(changer, move(1001, 501))).status).toBe(SAM_STAT_GOOD);
    const second = inv.resolve("0:1:0:0").device as TapeDrive;
    clearUas(second);
    expect((await exec(second, cdb.write(1), { dataOut: new Uint8Array(1) })).senseString).toBe("07/27/00");
    await inv.close();
    const state = JSON.parse(await readFile(join(dir, "restart", "vault", "changer-0-0-1-0.json"), "utf8"));
    expect(state.elements.map((e: { address: number }) => e.address)).toEqual([500, 501]);

    const again = await openConfig("restart");
    const d2 = again.resolve("/dev/st0").device as TapeDrive;
    expect(d2.state).toBe("loaded");
    clearUas(d2);
    expect((await exec(d2, cdb.read(4096), { dataIn: 4096 })).bytes).toEqual(pattern(4096, 1));
    const c2 = again.resolve("/dev/sch0").device as MediumChanger;
    clearUas(c2);
    expect((await exec(c2, move(500, 1003))).status).toBe(SAM_STAT_GOOD);
    expect(d2.state).toBe("empty");
    await again.close();
  });

  it("a corrupt cartridge named in load is the unit's fault, with its path", async () => {
    const d = join(dir, "corrupt");
    await mkdir(join(d, "loose"), { recursive: true });
    await writeFile(join(d, "loose", "L00001L5.pvtape"), "not a tape");
    const inv = await openConfig("corrupt");
    const e = inv.resolve("/dev/st1");
    expect(e.fault).toBe(
      `cartridge ${join(d, "loose", "L00001L5.pvtape")}: truncated: 10 bytes, shorter than the 4096-byte header`,
    );
    expect(inv.entries.filter((x) => x.fault !== null)).toHaveLength(1);
    await inv.close();
  });

  it("the example in host-config.ts's documentation is a valid config", async () => {
    const src = await readFile(
      new URL("../../../src/targets/inventory/host-config.ts", import.meta.url),
      "utf8",
    );
    const ini = /```ini\n([\s\S]*?)```/.exec(src)![1]!.replace(/^ \* ?/gm, "");
    const c = parseHostConfig(ini, "doc", dir);
    expect(c.devices.map((d) => d.kind)).toEqual([
      "disk",
      "disk",
      "cdrom",
      "null",
      "tape",
      "tape",
      "changer",
    ]);
    expect(c.devices[5]).toMatchObject({ kind: "tape", changer: "0:0:4:1" });
  });

  it("the state directory: $PVSCSI_STATE_DIR, else $XDG_STATE_HOME/pvscsi, else ~/.local/state/pvscsi", () => {
    expect(defaultStateDir({ PVSCSI_STATE_DIR: "/srv/pv", XDG_STATE_HOME: "/x" }, "/home/u")).toBe("/srv/pv");
    expect(defaultStateDir({ XDG_STATE_HOME: "/x" }, "/home/u")).toBe("/x/pvscsi");
    expect(defaultStateDir({ XDG_STATE_HOME: "relative" }, "/home/u")).toBe("/home/u/.local/state/pvscsi");
    expect(defaultStateDir({}, "/home/u")).toBe("/home/u/.local/state/pvscsi");
  });
});
