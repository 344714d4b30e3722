import { describe, expect, it } from "vitest";
import { SAM_STAT_CHECK_CONDITION, SAM_STAT_GOOD } from "../../../src/scsi/device.js";
import { fieldPointer } from "../../../src/scsi/sense.js";
import { cdb, fixedSense, loadedDrive, pattern, senseHex, writeBlock } from "../_support/tape.js";
import { execSync } from "../_support/task.js";

/** MODE SELECT(6) with a block descriptor setting the block length (0 = variable). */
function setBlockLength(drive: Parameters<typeof execSync>[0], bl: number) {
  const p = Uint8Array.from([0, 0, 0x10, 8, 0, 0, 0, 0, 0, (bl >>> 16) & 0xff, (bl >>> 8) & 0xff, bl & 0xff]);
  const t = execSync(drive, [0x15, 0x10, 0, 0, 12, 0], { dataOut: p });
  expect(t.status).toBe(SAM_STAT_GOOD);
}

describe("variable-block READ(6)/WRITE(6)", () => {
  it("a block reads back as written, then the filemark, then end-of-data", () => {
    const { drive } = loadedDrive();
    const data = pattern(3000);
    expect(writeBlock(drive, data).status).toBe(SAM_STAT_GOOD);
    expect(execSync(drive, cdb.filemarks(1)).status).toBe(SAM_STAT_GOOD);
    expect(execSync(drive, cdb.rewind()).status).toBe(SAM_STAT_GOOD);
    const r = execSync(drive, cdb.read(3000), { dataIn: 3000 });
    expect(r.status).toBe(SAM_STAT_GOOD);
    expect(r.bytes).toEqual(data);
    // Filemark: NO SENSE + FILEMARK, 00/01, INFORMATION = residue, no data, positioned after it.
    const fm = execSync(drive, cdb.read(3000), { dataIn: 3000 });
    expect(fm.status).toBe(SAM_STAT_CHECK_CONDITION);
    expect(fm.transferred).toBe(0);
    expect(senseHex(fm)).toBe(fixedSense(0x80, 3000, 0x00, 0x01));
    expect(drive.position).toBe(2);
    // End-of-data: BLANK CHECK 08/00/05, INFORMATION = residue, position unchanged.
    const eod = execSync(drive, cdb.read(3000), { dataIn: 3000 });
    expect(senseHex(eod)).toBe(fixedSense(0x08, 3000, 0x00, 0x05));
    expect(eod.transferred).toBe(0);
    expect(drive.position).toBe(2);
  });

  it("a shorter block: ILI with a positive residue and the whole block; SILI makes it GOOD", () => {
    const { drive } = loadedDrive();
    writeBlock(drive, pattern(100, 1));
    writeBlock(drive, pattern(100, 2));
    execSync(drive, cdb.rewind());
    const r = execSync(drive, cdb.read(512), { dataIn: 512 });
    expect(r.status).toBe(SAM_STAT_CHECK_CONDITION);
    expect(senseHex(r)).toBe(fixedSense(0x20, 412, 0x00, 0x00));
    expect(r.transferred).toBe(100);
    expect(r.bytes).toEqual(pattern(100, 1));
    expect(drive.position).toBe(1);
    const s = execSync(drive, cdb.read(512, false, true), { dataIn: 512 });
    expect(s.status).toBe(SAM_STAT_GOOD);
    expect(s.senseLength).toBe(0);
    expect(s.transferred).toBe(100);
    expect(s.bytes).toEqual(pattern(100, 2));
  });

  it("a longer block: ILI with a negative residue, the requested bytes, positioned after the block", () => {
    const { drive } = loadedDrive();
    writeBlock(drive, pattern(1000, 3));
    writeBlock(drive, pattern(10, 4));
    execSync(drive, cdb.rewind());
    const r = execSync(drive, cdb.read(400), { dataIn: 400 });
    expect(senseHex(r)).toBe(fixedSense(0x20, -600, 0x00, 0x00));
    expect(r.decoded.information).toBe(0xfffffda8);
    expect(r.transferred).toBe(400);
    expect(r.bytes).toEqual(pattern(1000, 3).subarray(0, 400));
    expect(drive.position).toBe(1);
    expect(execSync(drive, cdb.read(10), { dataIn: 10 }).bytes).toEqual(pattern(10, 4));
  });

  it("SILI hides an overlength block in variable mode only (SSC-3 READ(6))", () => {
    const { drive } = loadedDrive();
    writeBlock(drive, pattern(1000, 5));
    writeBlock(drive, pattern(1000, 6));
    execSync(drive, cdb.rewind());
    const quiet = execSync(drive, cdb.read(400, false, true), { dataIn: 400 });
    expect(quiet.status).toBe(SAM_STAT_GOOD);
    expect(quiet.transferred).toBe(400);
    setBlockLength(drive, 512);
    const loud = execSync(drive, cdb.read(400, false, true), { dataIn: 400 });
    expect(senseHex(loud)).toBe(fixedSense(0x20, -600, 0, 0));
  });

  it("transfer length 0 is no motion; a data-in buffer smaller than the request is refused", () => {
    const { drive } = loadedDrive();
    writeBlock(drive, pattern(10));
    execSync(drive, cdb.rewind());
    expect(execSync(drive, cdb.read(0)).status).toBe(SAM_STAT_GOOD);
    expect(execSync(drive, cdb.write(0)).status).toBe(SAM_STAT_GOOD);
    expect(drive.position).toBe(0);
    const small = execSync(drive, cdb.read(100), { dataIn: 50 });
    expect(small.senseString).toBe("05/0E/03");
    const short = execSync(drive, cdb.write(100), { dataOut: new Uint8Array(50) });
    expect(short.senseString).toBe("05/0E/03");
    expect(drive.position).toBe(0);
  });

  it("writing in the middle makes it end-of-data", () => {
    const { drive } = loadedDrive();
    for (let i = 0; i < 5; i++) writeBlock(drive, pattern(64, i));
    execSync(drive, cdb.locate10(2));
    writeBlock(drive, pattern(64, 9));
    execSync(drive, cdb.locate10(2));
    expect(execSync(drive, cdb.read(64), { dataIn: 64 }).bytes).toEqual(pattern(64, 9));
    expect(execSync(drive, cdb.read(64), { dataIn: 64 }).senseString).toBe("08/00/05");
  });

  it("a block longer than READ BLOCK LIMITS' maximum is refused", () => {
    const { drive } = loadedDrive(64 << 20);
    const t = execSync(drive, cdb.write(0x800001), { dataOut: new Uint8Array(0x800001) });
    expect(senseHex(t)).toBe(fixedSense(0x05, null, 0x24, 0x00, fieldPointer(true, 2, 7)));
  });
});

describe("fixed-block READ(6)/WRITE(6)", () => {
  it("FIXED with SILI, and FIXED in variable-block mode, are invalid fields", () => {
    const { drive } = loadedDrive();
    const both = execSync(drive, cdb.read(1, true, true), { dataIn: 512 });
    expect(senseHex(both)).toBe(fixedSense(0x05, null, 0x24, 0x00, fieldPointer(true, 1, 1)));
    const fixed = execSync(drive, cdb.read(1, true), { dataIn: 512 });
    expect(senseHex(fixed)).toBe(fixedSense(0x05, null, 0x24, 0x00, fieldPointer(true, 1, 0)));
    const w = execSync(drive, cdb.write(1, true), { dataOut: new Uint8Array(512) });
    expect(senseHex(w)).toBe(fixedSense(0x05, null, 0x24, 0x00, fieldPointer(true, 1, 0)));
  });

  it("N blocks of the block length; a filemark after k blocks: INFORMATION = N − k, k blocks of data", () => {
    const { drive } = loadedDrive();
    setBlockLength(drive, 512);
    const data = pattern(3 * 512, 7);
    expect(execSync(drive, cdb.write(3, true), { dataOut: data }).status).toBe(SAM_STAT_GOOD);
    execSync(drive, cdb.filemarks(1));
    execSync(drive, cdb.write(1, true), { dataOut: pattern(512, 8) });
    execSync(drive, cdb.rewind());
    const r = execSync(drive, cdb.read(5, true), { dataIn: 5 * 512 });
    expect(senseHex(r)).toBe(fixedSense(0x80, 2, 0x00, 0x01));
    expect(r.transferred).toBe(3 * 512);
    expect(r.bytes).toEqual(data);
    expect(drive.position).toBe(4);
    // End-of-data after one block.
    const e = execSync(drive, cdb.read(3, true), { dataIn: 3 * 512 });
    expect(senseHex(e)).toBe(fixedSense(0x08, 2, 0x00, 0x05));
    expect(e.transferred).toBe(512);
    expect(e.bytes).toEqual(pattern(512, 8));
  });

  it("a block of another length in fixed mode: ILI, INFORMATION = blocks not read, its data transferred", () => {
    const { drive } = loadedDrive();
    writeBlock(drive, pattern(512, 1));
    writeBlock(drive, pattern(300, 2));
    writeBlock(drive, pattern(512, 3));
    setBlockLength(drive, 512);
    execSync(drive, cdb.rewind());
    const r = execSync(drive, cdb.read(3, true), { dataIn: 3 * 512 });
    expect(senseHex(r)).toBe(fixedSense(0x20, 2, 0x00, 0x00));
    expect(r.transferred).toBe(512 + 300);
    expect(r.bytes.subarray(0, 512)).toEqual(pattern(512, 1));
    expect(r.bytes.subarray(512)).toEqual(pattern(300, 2));
    expect(drive.position).toBe(2);
  });
});
