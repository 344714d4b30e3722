import { describe, expect, it } from "vitest";
import { SAM_STAT_CHECK_CONDITION, SAM_STAT_GOOD } from "../../../src/scsi/device.js";
import { ramDisk } from "../_support/devices.js";
import { clearUas, execSync, I1 } from "../_support/task.js";

/** A disk whose power-on unit attention has been consumed. */
function ready() {
  const d = ramDisk();
  clearUas(d, I1);
  return d;
}

describe("CDB validation", () => {
  it("unknown opcode → 05/20/00, no data", () => {
    const t = execSync(ready(), [0x02, 0, 0, 0, 0, 0], { dataIn: 64 });
    expect(t.status).toBe(SAM_STAT_CHECK_CONDITION);
    expect(t.senseString).toBe("05/20/00");
    expect(t.transferred).toBe(0);
    expect(t.decoded.sks).toBeNull();
  });

  it("an empty CDB → 05/20/00", () => {
    expect(execSync(ready(), []).senseString).toBe("05/20/00");
  });

  it("unknown service action of a known opcode → 05/24/00 pointing at the SERVICE ACTION field", () => {
    const t = execSync(ready(), [0x9e, 0x1f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0], { dataIn: 32 });
    expect(t.senseString).toBe("05/24/00");
    expect(t.decoded.sks).toBe(0xcc0001); // SKSV | C/D | BPV, bit 4, byte 1
  });

  it("NACA or LINK in the CONTROL byte → 05/24/00 pointing at the bit", () => {
    const naca = execSync(ready(), [0x00, 0, 0, 0, 0, 0x04]);
    expect(naca.senseString).toBe("05/24/00");
    expect(naca.decoded.sks).toBe(0xca0005);
    const link = execSync(ready(), [0x12, 0, 0, 0, 36, 0x01], { dataIn: 36 });
    expect(link.senseString).toBe("05/24/00");
    expect(link.decoded.sks).toBe(0xc80005);
    expect(link.transferred).toBe(0);
  });

  it("vendor-specific CONTROL bits are ignored", () => {
    expect(execSync(ready(), [0x00, 0, 0, 0, 0, 0xc0]).status).toBe(SAM_STAT_GOOD);
  });

  it("a reserved CDB bit → 05/24/00 with the bit pointer", () => {
    const t = execSync(ready(), [0x00, 0, 0x10, 0, 0, 0]); // TUR byte 2 is reserved
    expect(t.senseString).toBe("05/24/00");
    expect(t.decoded.sks).toBe(0xcc0002);
    const cmddt = execSync(ready(), [0x12, 0x02, 0, 0, 36, 0], { dataIn: 36 }); // CMDDT (obsolete)
    expect(cmddt.decoded.sks).toBe(0xc90001);
  });

  it("a CDB shorter than its opcode's length → 05/24/00", () => {
    const t = execSync(ready(), [0x28, 0, 0, 0], { dataIn: 512 });
    expect(t.senseString).toBe("05/24/00");
    expect(t.transferred).toBe(0);
  });

  it("data-in into a read-only (data-out) buffer → 05/0E/03, nothing written", () => {
    const t = execSync(ready(), [0x12, 0, 0, 0, 36, 0], { dataOut: new Uint8Array(36) });
    expect(t.senseString).toBe("05/0E/03");
    expect(t.buffer.every((b) => b === 0)).toBe(true);
  });

  it("a closed device reports NOT READY", async () => {
    const d = ready();
    await d.close();
    expect(execSync(d, [0x00, 0, 0, 0, 0, 0]).senseString).toBe("02/04/00");
  });

  it("an unknown opcode does not consume a pending unit attention", () => {
    const d = ramDisk();
    expect(execSync(d, [0xff, 0, 0, 0, 0, 0]).senseString).toBe("05/20/00");
    expect(execSync(d, [0x00, 0, 0, 0, 0, 0]).senseString).toBe("06/29/00");
  });
});
