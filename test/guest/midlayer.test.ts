import { describe, expect, it } from "vitest";
import { GuestScsi, sdName } from "../../src/guest/midlayer.js";
import type { ScsiDevice, ScsiTask } from "../../src/scsi/device.js";
import { GuestScsiHost } from "../../src/scsifront/scsi-host.js";
import { Pair } from "../../src/testing/index.js";
import { TestDisk } from "../_support/test-disk.js";

/** A device answering INQUIRY with a given identity (the HP Ultrium of the 2007 PV SCSI posting to xen-devel, and friends). */
function identity(type: number, vendor: string, model: string, rev: string, version: number): ScsiDevice {
  const disk = new TestDisk();
  const inq = new Uint8Array(36);
  inq[0] = type;
  inq[1] = type === 1 || type === 8 ? 0x80 : 0;
  inq[2] = version;
  inq[3] = 2;
  inq[4] = 31;
  inq.set(new TextEncoder().encode(vendor.padEnd(8) + model.padEnd(16) + rev.padEnd(4)), 8);
  const run = disk.run.bind(disk);
  disk.run = (t: ScsiTask) => {
    if (t.cdb[0] === 0x12) return t.done(0, t.data.write(0, inq, 0, Math.min(36, t.data.length)), 0);
    run(t);
  };
  return disk;
}

async function added(p: Pair, scsi: GuestScsi, host: GuestScsiHost, chn: number, id: number, lun: number) {
  return p.settle(scsi.addDevice(host, chn, id, lun));
}

describe("the guest's SCSI midlayer view", () => {
  it("/proc/scsi/scsi reads as the 2007 PV SCSI posting to xen-devel shows it", async () => {
    const p = new Pair();
    p.attach(0, 0, 0, identity(1, "HP", "Ultrium 2-SCSI", "F45H", 3));
    p.attach(0, 0, 1, identity(8, "HP", "Ultrium 2-SCSI", "F45H", 3));
    p.attach(0, 2, 0, identity(0, "LSI", "MegaRAID SAS RMB", "1.02", 5));
    const scsi = new GuestScsi();
    const host = new GuestScsiHost(0, p.front, p.guest);
    await added(p, scsi, host, 0, 0, 0);
    await added(p, scsi, host, 0, 0, 1);
    await added(p, scsi, host, 0, 2, 0);
    expect(scsi.procScsi()).toBe(
      [
        "Attached devices:",
        "Host: scsi0 Channel: 00 Id: 00 Lun: 00",
        "  Vendor: HP       Model: Ultrium 2-SCSI   Rev: F45H",
        "  Type:   Sequential-Access                ANSI  SCSI revision: 03",
        "Host: scsi0 Channel: 00 Id: 00 Lun: 01",
        "  Vendor: HP       Model: Ultrium 2-SCSI   Rev: F45H",
        "  Type:   Medium Changer                   ANSI  SCSI revision: 03",
        "Host: scsi0 Channel: 00 Id: 02 Lun: 00",
        "  Vendor: LSI      Model: MegaRAID SAS RMB Rev: 1.02",
        "  Type:   Direct-Access                    ANSI  SCSI revision: 05",
        "",
      ].join("\n"),
    );
    expect(scsi.lsscsi()).toBe(
      [
        "[0:0:0:0]    tape    HP       Ultrium 2-SCSI   F45H  /dev/st0",
        "[0:0:0:1]    mediumx HP       Ultrium 2-SCSI   F45H  /dev/sch0",
        "[0:0:2:0]    disk    LSI      MegaRAID SAS RMB 1.02  /dev/sda",
        "",
      ].join("\n"),
    );
    expect(scsi.lsscsi(true).split("\n")[0]).toBe(
      "[0:0:0:0]    tape    HP       Ultrium 2-SCSI   F45H  /dev/st0   /dev/sg0",
    );
    expect(scsi.resolve("/dev/nst0").type).toBe(1);
    expect(scsi.resolve("sg2").devNode).toBe("/dev/sda");
    expect(() => scsi.resolve("/dev/sdz")).toThrow(/device must be one of/);
  });

  it("names are the lowest free index, reused after removal, as Linux's IDAs do", async () => {
    const p = new Pair();
    for (let t = 0; t < 3; t++) p.attach(0, t, 0, new TestDisk());
    const scsi = new GuestScsi();
    const host = new GuestScsiHost(0, p.front, p.guest);
    for (let t = 0; t < 3; t++) await added(p, scsi, host, 0, t, 0);
    expect(scsi.list().map((d) => d.devNode)).toEqual(["/dev/sda", "/dev/sdb", "/dev/sdc"]);
    scsi.removeDevice(0, 0, 1, 0);
    p.attach(0, 5, 0, new TestDisk());
    expect((await added(p, scsi, host, 0, 5, 0)).devNode).toBe("/dev/sdb");
    expect([0, 25, 26, 51, 52, 701, 702].map(sdName)).toEqual([
      "sda",
      "sdz",
      "sdaa",
      "sdaz",
      "sdba",
      "sdzz",
      "sdaaa",
    ]);
  });

  it("a LUN nobody answers for is not added", async () => {
    const p = new Pair();
    const scsi = new GuestScsi();
    const host = new GuestScsiHost(0, p.front, p.guest);
    await expect(added(p, scsi, host, 0, 9, 0)).rejects.toThrow(/INQUIRY failed \(host 0x1/);
    expect(scsi.list()).toEqual([]);
  });
});
