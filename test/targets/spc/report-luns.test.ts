import { describe, expect, it } from "vitest";
import { SAM_STAT_CHECK_CONDITION, SAM_STAT_GOOD } from "../../../src/scsi/device.js";
import { ScsiTarget } from "../../../src/targets/target.js";
import { hex, ramDisk } from "../_support/devices.js";
import { execSync } from "../_support/task.js";

const reportLuns = (select: number, alloc: number) => [
  0xa0,
  0,
  select,
  0,
  0,
  0,
  alloc >>> 24,
  (alloc >>> 16) & 0xff,
  (alloc >>> 8) & 0xff,
  alloc & 0xff,
  0,
  0,
];

function target(...luns: number[]): ScsiTarget {
  const t = new ScsiTarget({ wwn: "3000000000000042" });
  for (const l of luns) t.attach(l, ramDisk());
  return t;
}

describe("REPORT LUNS", () => {
  it("lists the target's LUNs, peripheral addressing below 256, flat space above", () => {
    const t = execSync(target(0, 5, 300), reportLuns(0, 64), { dataIn: 64, lun: 5 });
    expect(t.status).toBe(SAM_STAT_GOOD);
    expect(hex(t.bytes)).toBe(
      "0000001800000000" + "0000000000000000" + "0005000000000000" + "412c000000000000",
    );
  });

  it("works at a LUN with no unit (LUN 0 of a target whose only unit is LUN 2)", () => {
    const t = execSync(target(2), reportLuns(2, 16), { dataIn: 16, lun: 0 });
    expect(t.status).toBe(SAM_STAT_GOOD);
    expect(hex(t.bytes)).toBe("00000008000000000002000000000000");
  });

  it("SELECT REPORT 1 (well-known LUs only) gives an empty list", () => {
    expect(hex(execSync(target(0), reportLuns(1, 16), { dataIn: 16 }).bytes)).toBe("0000000000000000");
  });

  it("SELECT REPORT > 2 → 05/24/00; allocation < 16 → 05/24/00; both at empty LUNs too", () => {
    for (const lun of [0, 7]) {
      const sel = execSync(target(0), reportLuns(3, 64), { dataIn: 64, lun });
      expect(sel.senseString).toBe("05/24/00");
      expect(sel.decoded.sks).toBe(0xcf0002);
      const small = execSync(target(0), reportLuns(0, 15), { dataIn: 64, lun });
      expect(small.senseString).toBe("05/24/00");
      expect(small.decoded.sks).toBe(0xcf0006);
      expect(small.transferred).toBe(0);
    }
  });

  it("truncates to the allocation length and the buffer, with a residual", () => {
    const t = execSync(target(0, 1, 2), reportLuns(0, 20), { dataIn: 64 });
    expect(t.transferred).toBe(20);
    expect(hex(t.bytes)).toBe("00000018000000000000000000000000" + "00010000");
  });
});

describe("a LUN with no logical unit", () => {
  it("INQUIRY: peripheral qualifier 011b, type 1Fh, GOOD", () => {
    const t = execSync(target(0), [0x12, 0, 0, 0, 96, 0], { dataIn: 96, lun: 4 });
    expect(t.status).toBe(SAM_STAT_GOOD);
    expect(t.transferred).toBe(36);
    expect(hex(t.bytes.subarray(0, 5))).toBe("7f0005121f");
  });

  it("REQUEST SENSE: 05/25/00 as parameter data with GOOD", () => {
    const t = execSync(target(0), [0x03, 0, 0, 0, 252, 0], { dataIn: 252, lun: 4 });
    expect(t.status).toBe(SAM_STAT_GOOD);
    expect(hex(t.bytes)).toBe("700005000000000a00000000250000000000");
  });

  it("everything else: CHECK CONDITION 05/25/00, no data", () => {
    for (const cdb of [
      [0, 0, 0, 0, 0, 0],
      [0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0],
      [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      [0xff],
    ]) {
      const t = execSync(target(0), cdb, { dataIn: 512, lun: 9 });
      expect(t.status).toBe(SAM_STAT_CHECK_CONDITION);
      expect(t.senseString).toBe("05/25/00");
      expect(t.transferred).toBe(0);
    }
  });

  it("attaching and detaching raise 06/3F/0E on the other units", () => {
    const t = target(0);
    const d = t.unit(0)!;
    execSync(d, [0x03, 0, 0, 0, 252, 0], { dataIn: 252 });
    t.attach(1, ramDisk());
    expect(execSync(d, [0, 0, 0, 0, 0, 0]).senseString).toBe("06/3F/0E");
    t.detach(1);
    expect(execSync(d, [0, 0, 0, 0, 0, 0]).senseString).toBe("06/3F/0E");
    expect(t.luns()).toEqual([0]);
  });
});
