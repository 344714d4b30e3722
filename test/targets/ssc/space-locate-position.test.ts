import { describe, expect, it } from "vitest";
import { SAM_STAT_GOOD } from "../../../src/scsi/device.js";
import { fieldPointer } from "../../../src/scsi/sense.js";
import type { TapeDrive } from "../../../src/targets/ssc/tape-drive.js";
import { hex } from "../_support/devices.js";
import { cdb, fixedSense, loadedDrive, pattern, senseHex, writeBlock } from "../_support/tape.js";
import { execSync } from "../_support/task.js";

/** B0 B1 B2 FM B4 B5 FM B7 (objects 0..7), EOD at 8. */
function layout(): TapeDrive {
  const { drive } = loadedDrive();
  for (const o of "bbbfbbfb") {
    if (o === "b") writeBlock(drive, pattern(100, drive.position));
    else execSync(drive, cdb.filemarks(1));
  }
  execSync(drive, cdb.rewind());
  return drive;
}

function space16(code: number, count: number): number[] {
  const c = BigInt.asUintN(64, BigInt(count));
  const b = [0x91, code, 0, 0];
  for (let i = 7; i >= 0; i--) b.push(Number((c >> BigInt(8 * i)) & 0xffn));
  b.push(0, 0, 0, 0);
  return b;
}

describe("SPACE", () => {
  it("blocks forward stop after a filemark: NO SENSE + FILEMARK 00/01, INFORMATION = count − spaced", () => {
    const d = layout();
    expect(execSync(d, cdb.space(0, 2)).status).toBe(SAM_STAT_GOOD);
    expect(d.position).toBe(2);
    const t = execSync(d, cdb.space(0, 5));
    expect(senseHex(t)).toBe(fixedSense(0x80, 4, 0x00, 0x01));
    expect(d.position).toBe(4); // EOP side of the filemark
  });

  it("blocks backward stop before a filemark and at BOP (NO SENSE + EOM 00/04), residues positive", () => {
    const d = layout();
    execSync(d, cdb.locate10(6));
    const t = execSync(d, cdb.space(0, -5));
    expect(senseHex(t)).toBe(fixedSense(0x80, 3, 0x00, 0x01));
    expect(d.position).toBe(3); // BOP side of the filemark at 3
    execSync(d, cdb.locate10(2));
    const bop = execSync(d, cdb.space(0, -4));
    expect(senseHex(bop)).toBe(fixedSense(0x40, 2, 0x00, 0x04));
    expect(d.position).toBe(0);
  });

  it("blocks forward into end-of-data: BLANK CHECK 08/00/05 with the residue", () => {
    const d = layout();
    execSync(d, cdb.locate10(7));
    const t = execSync(d, cdb.space(0, 3));
    expect(senseHex(t)).toBe(fixedSense(0x08, 2, 0x00, 0x05));
    expect(d.position).toBe(8);
  });

  it("filemarks forward and backward, past the last into EOD, before the first into BOP", () => {
    const d = layout();
    expect(execSync(d, cdb.space(1, 2)).status).toBe(SAM_STAT_GOOD);
    expect(d.position).toBe(7);
    expect(execSync(d, cdb.space(1, -1)).status).toBe(SAM_STAT_GOOD);
    expect(d.position).toBe(6); // BOP side of the filemark
    const eod = execSync(d, cdb.space(1, 3));
    expect(senseHex(eod)).toBe(fixedSense(0x08, 2, 0x00, 0x05));
    expect(d.position).toBe(8);
    const bop = execSync(d, cdb.space(1, -5));
    expect(senseHex(bop)).toBe(fixedSense(0x40, 3, 0x00, 0x04));
    expect(d.position).toBe(0);
  });

  it("to end-of-data (code 3), count 0 is no motion, other codes are invalid", () => {
    const d = layout();
    expect(execSync(d, cdb.space(3, 0)).status).toBe(SAM_STAT_GOOD);
    expect(d.position).toBe(8);
    expect(execSync(d, cdb.space(0, 0)).status).toBe(SAM_STAT_GOOD);
    expect(d.position).toBe(8);
    for (const code of [2, 4, 5, 15]) {
      expect(senseHex(execSync(d, cdb.space(code, 1)))).toBe(
        fixedSense(0x05, null, 0x24, 0, fieldPointer(true, 1, 3)),
      );
    }
  });

  it("SPACE(16) takes a signed 64-bit count and no parameter data", () => {
    const d = layout();
    expect(execSync(d, space16(0, 2)).status).toBe(SAM_STAT_GOOD);
    expect(d.position).toBe(2);
    const back = execSync(d, space16(0, -3));
    expect(senseHex(back)).toBe(fixedSense(0x40, 1, 0x00, 0x04));
    // A residue of 2^40 - 2 does not fit the 4-byte INFORMATION field: VALID is 0 (SPC-4 §4.5.3).
    expect(senseHex(execSync(d, space16(1, 2 ** 40)))).toBe(fixedSense(0x08, null, 0x00, 0x05));
    const params = space16(0, 1);
    params[13] = 8;
    expect(execSync(d, params).senseString).toBe("05/24/00");
  });
});

describe("LOCATE", () => {
  it("LOCATE(10) to an object; beyond end-of-data is BLANK CHECK at EOD; another partition is invalid", () => {
    const d = layout();
    expect(execSync(d, cdb.locate10(5)).status).toBe(SAM_STAT_GOOD);
    expect(d.position).toBe(5);
    expect(execSync(d, cdb.locate10(8)).status).toBe(SAM_STAT_GOOD);
    const far = execSync(d, cdb.locate10(100));
    expect(senseHex(far)).toBe(fixedSense(0x08, 0, 0x00, 0x05));
    expect(d.position).toBe(8);
    const part = execSync(d, cdb.locate10(1, true, 1));
    expect(senseHex(part)).toBe(fixedSense(0x05, null, 0x24, 0x00, fieldPointer(true, 8, 7)));
    expect(execSync(d, cdb.locate10(1, true, 0)).status).toBe(SAM_STAT_GOOD);
  });

  it("LOCATE(16) to an object, to a file (after its filemark), to end-of-data", () => {
    const d = layout();
    const l16 = (destType: number, id: number) => [
      0x92,
      destType << 3,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      id,
      0,
      0,
      0,
      0,
    ];
    expect(execSync(d, l16(0, 3)).status).toBe(SAM_STAT_GOOD);
    expect(d.position).toBe(3);
    expect(execSync(d, l16(1, 2)).status).toBe(SAM_STAT_GOOD);
    expect(d.position).toBe(7);
    expect(execSync(d, l16(1, 0)).status).toBe(SAM_STAT_GOOD);
    expect(d.position).toBe(0);
    expect(execSync(d, l16(1, 3)).senseString).toBe("08/00/05");
    expect(execSync(d, l16(3, 0)).status).toBe(SAM_STAT_GOOD);
    expect(d.position).toBe(8);
    expect(senseHex(execSync(d, l16(2, 0)))).toBe(fixedSense(0x05, null, 0x24, 0, fieldPointer(true, 1, 5)));
  });
});

describe("READ POSITION", () => {
  it("short form: BOP, first and last block location; long form: object and file number", () => {
    const d = layout();
    expect(hex(execSync(d, cdb.readPosition(0), { dataIn: 20 }).bytes)).toBe(
      "8000000000000000000000000000000000000000",
    );
    execSync(d, cdb.locate10(5));
    expect(hex(execSync(d, cdb.readPosition(1), { dataIn: 20 }).bytes)).toBe(
      "0000000000000005000000050000000000000000",
    );
    expect(hex(execSync(d, cdb.readPosition(6), { dataIn: 32 }).bytes)).toBe(
      `${"00000000"}${"00000000"}${"0000000000000005"}${"0000000000000001"}${"0000000000000000"}`,
    );
  });

  it("extended form honours its allocation length; other service actions are invalid", () => {
    const d = layout();
    execSync(d, cdb.locate10(2));
    const full = execSync(d, cdb.readPosition(8, 32), { dataIn: 32 }).bytes;
    expect(hex(full)).toBe(`0000001c00000000${"0000000000000002".repeat(2)}${"0".repeat(16)}`);
    expect(execSync(d, cdb.readPosition(8, 10), { dataIn: 32 }).transferred).toBe(10);
    expect(senseHex(execSync(d, cdb.readPosition(3), { dataIn: 20 }))).toBe(
      fixedSense(0x05, null, 0x24, 0, fieldPointer(true, 1, 4)),
    );
    // The short and long forms take no allocation length.
    expect(execSync(d, cdb.readPosition(0, 20), { dataIn: 20 }).senseString).toBe("05/24/00");
  });

  it("needs a cartridge: 02/3A/00 without one", () => {
    const { drive } = loadedDrive();
    return drive.eject().then(() => {
      expect(execSync(drive, cdb.readPosition(0), { dataIn: 20 }).senseString).toBe("02/3A/00");
      expect(execSync(drive, cdb.space(0, 1)).senseString).toBe("02/3A/00");
      expect(execSync(drive, cdb.locate10(0)).senseString).toBe("02/3A/00");
    });
  });
});
