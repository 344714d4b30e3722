import { describe, expect, it } from "vitest";
import { SAM_STAT_GOOD } from "../../../src/scsi/device.js";
import { hex, ramDisk } from "../_support/devices.js";
import { cdb10, cdb16, clearUas, execSync } from "../_support/task.js";

function ready(blocks = 2048, bs = 512) {
  const d = ramDisk(blocks, bs);
  clearUas(d);
  return d;
}

describe("READ CAPACITY, SYNCHRONIZE CACHE, START STOP UNIT, PREVENT ALLOW", () => {
  it("READ CAPACITY(10): last LBA and block length; PMI=0 with an LBA → 05/24/00", () => {
    expect(hex(execSync(ready(), [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], { dataIn: 8 }).bytes)).toBe(
      "000007ff00000200",
    );
    expect(hex(execSync(ready(16, 4096), [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], { dataIn: 8 }).bytes)).toBe(
      "0000000f00001000",
    );
    const t = execSync(ready(), [0x25, 0, 0, 0, 0, 1, 0, 0, 0, 0], { dataIn: 8 });
    expect(t.senseString).toBe("05/24/00");
    expect(execSync(ready(), [0x25, 0, 0, 0, 0, 1, 0, 0, 1, 0], { dataIn: 8 }).status).toBe(SAM_STAT_GOOD);
  });

  it("READ CAPACITY(10) says 0xFFFFFFFF beyond 2^32 blocks; (16) gives the real value", () => {
    const big = ramDisk(2 ** 32 + 10, 512);
    clearUas(big);
    expect(hex(execSync(big, [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], { dataIn: 8 }).bytes)).toBe(
      "ffffffff00000200",
    );
    const rc16 = execSync(big, [0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0], { dataIn: 32 });
    expect(hex(rc16.bytes.subarray(0, 12))).toBe("0000000100000009" + "00000200");
  });

  it("READ CAPACITY(16) honours its allocation length", () => {
    const t = execSync(ready(), [0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 0, 0], { dataIn: 32 });
    expect(t.transferred).toBe(12);
  });

  it("SYNCHRONIZE CACHE(10/16) is GOOD in range, 05/21/00 beyond", () => {
    const d = ready();
    expect(execSync(d, cdb10(0x35, 0, 0)).status).toBe(SAM_STAT_GOOD);
    expect(execSync(d, cdb16(0x91, 2047, 1)).status).toBe(SAM_STAT_GOOD);
    expect(execSync(d, cdb16(0x91, 2047, 2)).senseString).toBe("05/21/00");
  });

  it("START STOP UNIT: stopped → 02/04/02 for medium access and TUR; START=1 brings it back", () => {
    const d = ready();
    expect(execSync(d, [0x1b, 0, 0, 0, 0x00, 0]).status).toBe(SAM_STAT_GOOD);
    expect(execSync(d, [0, 0, 0, 0, 0, 0]).senseString).toBe("02/04/02");
    expect(execSync(d, cdb10(0x28, 0, 1), { dataIn: 512 }).senseString).toBe("02/04/02");
    expect(hex(execSync(d, [0x03, 0, 0, 0, 18, 0], { dataIn: 18 }).bytes)).toBe(
      "700002000000000a00000000040200000000",
    );
    expect(execSync(d, [0x12, 0, 0, 0, 36, 0], { dataIn: 36 }).status).toBe(SAM_STAT_GOOD);
    expect(execSync(d, [0x1b, 1, 0, 0, 0x01, 0]).status).toBe(SAM_STAT_GOOD);
    expect(execSync(d, [0, 0, 0, 0, 0, 0]).status).toBe(SAM_STAT_GOOD);
  });

  it("START STOP UNIT: an undefined POWER CONDITION → 05/24/00, a defined one is accepted", () => {
    expect(execSync(ready(), [0x1b, 0, 0, 0, 0x40, 0]).senseString).toBe("05/24/00");
    expect(execSync(ready(), [0x1b, 0, 0, 0, 0x20, 0]).status).toBe(SAM_STAT_GOOD);
  });

  it("PREVENT ALLOW: 0 and 1 accepted, persistent prevent → 05/24/00", () => {
    expect(execSync(ready(), [0x1e, 0, 0, 0, 1, 0]).status).toBe(SAM_STAT_GOOD);
    expect(execSync(ready(), [0x1e, 0, 0, 0, 0, 0]).status).toBe(SAM_STAT_GOOD);
    expect(execSync(ready(), [0x1e, 0, 0, 0, 2, 0]).senseString).toBe("05/24/00");
  });
});
