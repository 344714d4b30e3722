import { describe, expect, it } from "vitest";
import { SAM_STAT_GOOD } from "../../../src/scsi/device.js";
import { decodeSense } from "../../../src/scsi/sense.js";
import { bufferMedium } from "../../../src/targets/mmc/cdrom.js";
import { ScsiTarget } from "../../../src/targets/target.js";
import { cdImage, cdrom, hex, ramDisk } from "../_support/devices.js";
import { clearUas, execSync, I1, I2 } from "../_support/task.js";

const TUR = [0, 0, 0, 0, 0, 0];
const REQUEST_SENSE = (alloc = 252, desc = false) => [0x03, desc ? 1 : 0, 0, 0, alloc, 0];

describe("unit attentions", () => {
  it("a new I_T nexus gets 06/29/00 first, once", () => {
    const d = ramDisk();
    const t = execSync(d, TUR);
    expect(t.senseString).toBe("06/29/00");
    expect(t.senseLength).toBe(18);
    expect(execSync(d, TUR).status).toBe(SAM_STAT_GOOD);
  });

  it("addNexus resets the nexus: 06/29/00 again", () => {
    const d = ramDisk();
    clearUas(d);
    d.addNexus(I1);
    expect(execSync(d, TUR).senseString).toBe("06/29/00");
  });

  it("INQUIRY and REPORT LUNS neither report nor consume a unit attention", () => {
    const d = ramDisk();
    expect(execSync(d, [0x12, 0, 0, 0, 36, 0], { dataIn: 36 }).status).toBe(SAM_STAT_GOOD);
    expect(execSync(d, [0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0], { dataIn: 16 }).status).toBe(SAM_STAT_GOOD);
    expect(execSync(d, TUR).senseString).toBe("06/29/00");
  });

  it("REQUEST SENSE returns the unit attention as data with GOOD and clears it", () => {
    const d = ramDisk();
    const t = execSync(d, REQUEST_SENSE(), { dataIn: 252 });
    expect(t.status).toBe(SAM_STAT_GOOD);
    expect(t.senseLength).toBe(0);
    expect(hex(t.bytes)).toBe("700006000000000a00000000290000000000");
    expect(execSync(d, TUR).status).toBe(SAM_STAT_GOOD);
    // Nothing pending: NO SENSE, 18 bytes.
    const none = execSync(d, REQUEST_SENSE(), { dataIn: 252 });
    expect(hex(none.bytes)).toBe("700000000000000a00000000000000000000");
  });

  it("REQUEST SENSE with DESC=1 returns descriptor format", () => {
    const d = ramDisk();
    const t = execSync(d, REQUEST_SENSE(252, true), { dataIn: 252 });
    expect(hex(t.bytes)).toBe("7206290000000000");
  });

  it("REQUEST SENSE honours its allocation length", () => {
    const d = ramDisk();
    const t = execSync(d, REQUEST_SENSE(8), { dataIn: 252 });
    expect(t.transferred).toBe(8);
    expect(hex(t.bytes)).toBe("700006000000000a");
  });

  it("queues in FIFO order: 3F/0E after a LUN change, then 2A/01 after another initiator's MODE SELECT", () => {
    const target = new ScsiTarget({ wwn: "3000000000000099" });
    const d = ramDisk();
    target.attach(0, d);
    clearUas(d, I1);
    clearUas(d, I2);
    target.attach(1, ramDisk());
    expect(clearUas(d, I2)).toEqual(["06/3F/0E"]);
    // I2 turns the write cache off.
    const sense = execSync(d, [0x1a, 0x08, 0x08, 0, 255, 0], { initiator: I2, dataIn: 255 });
    const page = sense.bytes.slice(4);
    page[0] = 0x08;
    page[2] = 0;
    const list = new Uint8Array(4 + page.length);
    list.set(page, 4);
    const sel = execSync(d, [0x15, 0x10, 0, 0, list.length, 0], { initiator: I2, dataOut: list });
    expect(sel.status).toBe(SAM_STAT_GOOD);
    expect(clearUas(d, I1)).toEqual(["06/3F/0E", "06/2A/01"]);
    // The issuer gets no 2A/01 for its own change.
    expect(clearUas(d, I2)).toEqual([]);
  });

  it("REPORT LUNS clears REPORTED LUNS DATA HAS CHANGED on every unit of the target", () => {
    const target = new ScsiTarget();
    const a = ramDisk();
    const b = ramDisk();
    target.attach(0, a);
    target.attach(1, b);
    clearUas(a);
    clearUas(b);
    target.attach(2, ramDisk());
    const rl = execSync(target, [0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0], { dataIn: 64, lun: 1 });
    expect(rl.status).toBe(SAM_STAT_GOOD);
    expect(execSync(a, TUR).status).toBe(SAM_STAT_GOOD);
    expect(execSync(b, TUR).status).toBe(SAM_STAT_GOOD);
  });

  it("a LUN reset gives every nexus 06/29/00 and drops older conditions", async () => {
    const target = new ScsiTarget();
    const d = ramDisk();
    target.attach(0, d);
    clearUas(d, I1);
    clearUas(d, I2);
    target.attach(1, ramDisk());
    expect(await d.lunReset(I1)).toBe("complete");
    expect(clearUas(d, I1)).toEqual(["06/29/00"]);
    expect(clearUas(d, I2)).toEqual(["06/29/00"]);
  });

  it("a CD medium change is reported as 06/28/00; GET CONFIGURATION and GESN do not consume it", () => {
    const cd = cdrom();
    clearUas(cd);
    cd.insert(bufferMedium(cdImage(50)));
    expect(execSync(cd, [0x46, 0, 0, 0, 0, 0, 0, 0, 8, 0], { dataIn: 8 }).status).toBe(SAM_STAT_GOOD);
    expect(execSync(cd, [0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8, 0], { dataIn: 8 }).status).toBe(SAM_STAT_GOOD);
    const t = execSync(cd, TUR);
    expect(t.senseString).toBe("06/28/00");
    expect(execSync(cd, TUR).status).toBe(SAM_STAT_GOOD);
  });

  it("unit attentions use descriptor format once D_SENSE is set", () => {
    const d = ramDisk();
    clearUas(d);
    // Control page with D_SENSE.
    const list = new Uint8Array(4 + 12);
    list.set([0x0a, 0x0a, 0x04, 0x10, 0, 0, 0, 0, 0xff, 0xff, 0, 0], 4);
    expect(execSync(d, [0x15, 0x10, 0, 0, list.length, 0], { dataOut: list }).status).toBe(SAM_STAT_GOOD);
    d.addNexus(I1);
    const t = execSync(d, TUR);
    expect(t.senseLength).toBe(8);
    expect(decodeSense(t.sense, 8).format).toBe("descriptor");
  });
});
