import { describe, expect, it } from "vitest";
import { SAM_STAT_CHECK_CONDITION, SAM_STAT_GOOD } from "../../../src/scsi/device.js";
import { RECORD_HEADER_SIZE } from "../../../src/targets/ssc/cartridge-format.js";
import { cdb, fixedSense, loadedDrive, pattern, senseHex, writeBlock } from "../_support/tape.js";
import { execSync } from "../_support/task.js";

/** A block of 1000 bytes takes 1032 bytes of medium. */
const REC = 1000 + RECORD_HEADER_SIZE;

describe("early warning and the physical end of the medium", () => {
  it("a write crossing early warning is written, then NO SENSE + EOM 00/02; every later write too", () => {
    const { drive } = loadedDrive(10 * REC, 3 * REC);
    expect(writeBlock(drive, pattern(1000, 0)).status).toBe(SAM_STAT_GOOD);
    expect(writeBlock(drive, pattern(1000, 1)).status).toBe(SAM_STAT_GOOD);
    const ew = writeBlock(drive, pattern(1000, 2));
    expect(ew.status).toBe(SAM_STAT_CHECK_CONDITION);
    expect(senseHex(ew)).toBe(fixedSense(0x40, 0, 0x00, 0x02));
    expect(ew.transferred).toBe(1000);
    expect(senseHex(writeBlock(drive, pattern(1000, 3)))).toBe(fixedSense(0x40, 0, 0x00, 0x02));
    // Written indeed.
    execSync(drive, cdb.locate10(2));
    expect(execSync(drive, cdb.read(1000), { dataIn: 1000 }).bytes).toEqual(pattern(1000, 2));
    // WRITE FILEMARKS past early warning reports it too; READ POSITION says EOP.
    execSync(drive, cdb.space(3, 0));
    expect(senseHex(execSync(drive, cdb.filemarks(1)))).toBe(fixedSense(0x40, 0, 0x00, 0x02));
    expect(execSync(drive, cdb.readPosition(0), { dataIn: 20 }).bytes[0]).toBe(0x40);
    // READ at end-of-data past early warning: BLANK CHECK with the EOM bit.
    expect(senseHex(execSync(drive, cdb.read(10), { dataIn: 10 }))).toBe(fixedSense(0x48, 10, 0x00, 0x05));
  });

  it("past the physical end: VOLUME OVERFLOW 0D/00/02 + EOM, nothing written, INFORMATION = requested", () => {
    const { drive } = loadedDrive(3 * REC + 10, 2 * REC);
    for (let i = 0; i < 3; i++) writeBlock(drive, pattern(1000, i));
    const over = writeBlock(drive, pattern(1000, 9));
    expect(over.status).toBe(SAM_STAT_CHECK_CONDITION);
    expect(senseHex(over)).toBe(fixedSense(0x4d, 1000, 0x00, 0x02));
    expect(over.transferred).toBe(0);
    expect(drive.position).toBe(3);
    execSync(drive, cdb.rewind());
    execSync(drive, cdb.space(0, 3));
    expect(execSync(drive, cdb.read(1000), { dataIn: 1000 }).senseString).toBe("08/00/05");
    // Filemarks do not fit either.
    expect(senseHex(execSync(drive, cdb.filemarks(2)))).toBe(fixedSense(0x4d, 2, 0x00, 0x02));
  });

  it("fixed mode: the blocks that fit are written, INFORMATION counts the others", () => {
    const { drive } = loadedDrive(5 * (512 + RECORD_HEADER_SIZE), 1000);
    const p = Uint8Array.from([0, 0, 0x10, 8, 0, 0, 0, 0, 0, 0, 0x02, 0x00]);
    expect(execSync(drive, [0x15, 0x10, 0, 0, 12, 0], { dataOut: p }).status).toBe(SAM_STAT_GOOD);
    const data = pattern(8 * 512, 4);
    const t = execSync(drive, cdb.write(8, true), { dataOut: data });
    expect(senseHex(t)).toBe(fixedSense(0x4d, 3, 0x00, 0x02));
    expect(t.transferred).toBe(5 * 512);
    execSync(drive, cdb.rewind());
    const r = execSync(drive, cdb.read(5, true), { dataIn: 5 * 512 });
    expect(r.status).toBe(SAM_STAT_GOOD);
    expect(r.bytes).toEqual(data.subarray(0, 5 * 512));
  });
});
