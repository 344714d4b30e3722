import { describe, expect, it } from "vitest";
import { SAM_STAT_GOOD } from "../../../src/scsi/device.js";
import { ScsiTarget } from "../../../src/targets/target.js";
import { cdrom, hex, ramDisk } from "../_support/devices.js";
import { execSync } from "../_support/task.js";

const inquiry = (evpd: boolean, page: number, alloc: number) => [
  0x12,
  evpd ? 1 : 0,
  page,
  alloc >>> 8,
  alloc & 0xff,
  0,
];

describe("INQUIRY", () => {
  it("standard data: type, version, HiSup, CmdQue, identity, version descriptors", () => {
    const t = execSync(ramDisk(), inquiry(false, 0, 96), { dataIn: 96 });
    expect(t.status).toBe(SAM_STAT_GOOD);
    expect(t.transferred).toBe(74);
    const b = t.bytes;
    expect(hex(b.subarray(0, 8))).toBe("0000051245000002");
    expect(Buffer.from(b.subarray(8, 36)).toString("latin1")).toBe("PVSCSI  RAMDISK         0001");
    expect(hex(b.subarray(58, 64))).toBe("00a0030004c0"); // SAM-5, SPC-3, SBC-3
  });

  it("a CD-ROM is type 5 and removable", () => {
    const b = execSync(cdrom(), inquiry(false, 0, 36), { dataIn: 36 }).bytes;
    expect(hex(b.subarray(0, 2))).toBe("0580");
  });

  it("EVPD=0 with a page code → 05/24/00 pointing at PAGE CODE", () => {
    const t = execSync(ramDisk(), inquiry(false, 0x80, 96), { dataIn: 96 });
    expect(t.senseString).toBe("05/24/00");
    expect(t.decoded.sks).toBe(0xcf0002);
  });

  it("VPD 00h lists 00, 80, 83 and the SBC pages on a disk, not on a CD-ROM", () => {
    expect(hex(execSync(ramDisk(), inquiry(true, 0, 64), { dataIn: 64 }).bytes)).toBe("00000006008083b0b1b2");
    expect(hex(execSync(cdrom(), inquiry(true, 0, 64), { dataIn: 64 }).bytes)).toBe("05000003008083");
  });

  it("VPD 80h is the serial number", () => {
    expect(hex(execSync(ramDisk(), inquiry(true, 0x80, 64), { dataIn: 64 }).bytes)).toBe(
      `00800006${Buffer.from("SN0001").toString("hex")}`,
    );
  });

  it("VPD 83h carries the WWN as an NAA designator, and the target port when behind one", () => {
    const d = ramDisk();
    const alone = execSync(d, inquiry(true, 0x83, 255), { dataIn: 255 }).bytes;
    expect(hex(alone.subarray(0, 16))).toBe("0083001e010300083000000000000001");
    expect(Buffer.from(alone.subarray(20, 34)).toString("latin1")).toBe("PVSCSI  SN0001");
    const target = new ScsiTarget({ wwn: "5001122334455667" });
    target.attach(3, d);
    const b = execSync(d, inquiry(true, 0x83, 255), { dataIn: 255 }).bytes;
    expect(hex(b.subarray(2, 4))).toBe("0032");
    expect(hex(b.subarray(34))).toBe("01130008500112233445566701140004" + "00000001");
  });

  it("VPD B0h (block limits), B1h (non-rotating), B2h (thin provisioning)", () => {
    const thin = ramDisk(2048, 512, { thin: true });
    const b0 = execSync(thin, inquiry(true, 0xb0, 64), { dataIn: 64 }).bytes;
    // WSNZ (byte 4) = 0: WRITE SAME with 0 blocks writes to the last LBA.
    expect(hex(b0.subarray(0, 8))).toBe("00b0003c00800001");
    expect(hex(b0.subarray(20, 28))).toBe("00100000000000ff");
    const b1 = execSync(thin, inquiry(true, 0xb1, 64), { dataIn: 64 }).bytes;
    expect(hex(b1.subarray(0, 6))).toBe("00b1003c0001");
    expect(hex(execSync(thin, inquiry(true, 0xb2, 64), { dataIn: 64 }).bytes)).toBe("00b2000400e40200");
    expect(hex(execSync(ramDisk(), inquiry(true, 0xb2, 64), { dataIn: 64 }).bytes)).toBe("00b2000400000000");
  });

  it("an unsupported VPD page → 05/24/00; SBC pages on a CD-ROM too", () => {
    expect(execSync(ramDisk(), inquiry(true, 0x86, 64), { dataIn: 64 }).senseString).toBe("05/24/00");
    expect(execSync(cdrom(), inquiry(true, 0xb0, 64), { dataIn: 64 }).senseString).toBe("05/24/00");
  });
});
