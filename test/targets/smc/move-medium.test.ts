import { describe, expect, it } from "vitest";
import { SAM_STAT_GOOD } from "../../../src/scsi/device.js";
import { fieldPointer } from "../../../src/scsi/sense.js";
import { autoloader, cdb, fixedSense, pattern, senseHex, writeBlock } from "../_support/tape.js";
import { clearUas, execSync, I1, I2 } from "../_support/task.js";

function move(src: number, dst: number, transport = 0, invert = false): number[] {
  return [
    0xa5,
    0,
    transport >>> 8,
    transport & 0xff,
    src >>> 8,
    src & 0xff,
    dst >>> 8,
    dst & 0xff,
    0,
    0,
    invert ? 1 : 0,
    0,
  ];
}

/** The SOURCE STORAGE ELEMENT ADDRESS of the drive's descriptor, or null when SVALID is clear. */
function driveSource(changer: Parameters<typeof execSync>[0]): number | null {
  const b = execSync(changer, [0xb8, 4, 0, 0, 0, 1, 0, 0, 0, 255, 0, 0], { dataIn: 255 }).bytes;
  const d = b.subarray(16);
  return d[9]! & 0x80 ? (d[10]! << 8) | d[11]! : null;
}

describe("MOVE MEDIUM", () => {
  it("slot → drive: the drive becomes ready with 06/28/00; drive → slot unloads it first", () => {
    const { changer, drive } = autoloader();
    expect(execSync(drive, [0, 0, 0, 0, 0, 0]).senseString).toBe("02/3A/00");
    expect(execSync(changer, move(1001, 500)).status).toBe(SAM_STAT_GOOD);
    expect(drive.state).toBe("loaded");
    expect(drive.cartridge?.barcode).toBe("A00002L6");
    expect(senseHex(execSync(drive, [0, 0, 0, 0, 0, 0]))).toBe(fixedSense(0x06, null, 0x28, 0x00));
    expect(execSync(drive, [0, 0, 0, 0, 0, 0]).status).toBe(SAM_STAT_GOOD);
    expect(driveSource(changer)).toBe(1001);
    expect(changer.placement().get(1001)).toBeUndefined();
    // Data written in the drive is on the cartridge when it comes back.
    writeBlock(drive, pattern(77, 5));
    expect(execSync(changer, move(500, 1005)).status).toBe(SAM_STAT_GOOD);
    expect(drive.state).toBe("empty");
    expect(execSync(drive, [0, 0, 0, 0, 0, 0]).senseString).toBe("02/3A/00");
    expect(changer.placement().get(1005)).toBe("A00002L6");
    execSync(changer, move(1005, 500));
    clearUas(drive);
    expect(execSync(drive, cdb.read(77), { dataIn: 77 }).bytes).toEqual(pattern(77, 5));
  });

  it("slot → slot, slot → mail slot and back; a move onto itself is no motion", () => {
    const { changer } = autoloader();
    expect(execSync(changer, move(1000, 1007)).status).toBe(SAM_STAT_GOOD);
    expect(execSync(changer, move(1007, 10)).status).toBe(SAM_STAT_GOOD);
    expect(execSync(changer, move(10, 10)).status).toBe(SAM_STAT_GOOD);
    expect(execSync(changer, move(10, 1000)).status).toBe(SAM_STAT_GOOD);
    expect([...changer.placement()]).toEqual([
      [1000, "A00001L6"],
      [1001, "A00002L6"],
      [1002, "A00003L6"],
    ]);
  });

  it("source empty 05/3B/0E, destination full 05/3B/0D", () => {
    const { changer } = autoloader();
    expect(senseHex(execSync(changer, move(1004, 1005)))).toBe(fixedSense(0x05, null, 0x3b, 0x0e));
    expect(senseHex(execSync(changer, move(1000, 1001)))).toBe(fixedSense(0x05, null, 0x3b, 0x0d));
    execSync(changer, move(1000, 500));
    expect(senseHex(execSync(changer, move(1001, 500)))).toBe(fixedSense(0x05, null, 0x3b, 0x0d));
  });

  it("invalid element addresses: 05/21/01 with a field pointer at the transport, source or destination", () => {
    const { changer } = autoloader();
    const bad = (byte: number) => fixedSense(0x05, null, 0x21, 0x01, fieldPointer(true, byte, 7));
    expect(senseHex(execSync(changer, move(1000, 1005, 2)))).toBe(bad(2));
    expect(senseHex(execSync(changer, move(1000, 1005, 500)))).toBe(bad(2));
    expect(senseHex(execSync(changer, move(999, 1005)))).toBe(bad(4));
    expect(senseHex(execSync(changer, move(1, 1005)))).toBe(bad(4)); // a transport holds nothing
    expect(senseHex(execSync(changer, move(1000, 1008)))).toBe(bad(6));
    expect(execSync(changer, move(1000, 1005, 1)).status).toBe(SAM_STAT_GOOD); // the transport by address
  });

  it("INVERT is refused: the transport cannot rotate media (page 1Eh)", () => {
    const { changer } = autoloader();
    expect(senseHex(execSync(changer, move(1000, 1005, 0, true)))).toBe(
      fixedSense(0x05, null, 0x24, 0x00, fieldPointer(true, 10, 0)),
    );
  });

  it("a drive under PREVENT MEDIUM REMOVAL keeps its cartridge: 05/53/02", () => {
    const { changer, drive } = autoloader();
    execSync(changer, move(1000, 500));
    clearUas(drive, I2);
    expect(execSync(drive, cdb.prevent(1), { initiator: I2 }).status).toBe(SAM_STAT_GOOD);
    expect(senseHex(execSync(changer, move(500, 1000)))).toBe(fixedSense(0x05, null, 0x53, 0x02));
    expect(drive.state).toBe("loaded");
    execSync(drive, cdb.prevent(0), { initiator: I2 });
    expect(execSync(changer, move(500, 1000)).status).toBe(SAM_STAT_GOOD);
  });

  it("the changer's PREVENT keeps media in: no move to the mail slot, no opening it (05/53/02)", () => {
    const { changer } = autoloader();
    const open = [0x1b, 0, 0, 10, 0, 0];
    const close = [0x1b, 0, 0, 10, 1, 0];
    expect(execSync(changer, cdb.prevent(1)).status).toBe(SAM_STAT_GOOD);
    expect(senseHex(execSync(changer, move(1000, 10)))).toBe(fixedSense(0x05, null, 0x53, 0x02));
    expect(senseHex(execSync(changer, open))).toBe(fixedSense(0x05, null, 0x53, 0x02));
    expect(execSync(changer, cdb.prevent(0)).status).toBe(SAM_STAT_GOOD);
    expect(execSync(changer, open).status).toBe(SAM_STAT_GOOD);
    // An open mail slot cannot be reached: 02/3A/02.
    expect(senseHex(execSync(changer, move(1000, 10)))).toBe(fixedSense(0x02, null, 0x3a, 0x02));
    expect(execSync(changer, close).status).toBe(SAM_STAT_GOOD);
    expect(execSync(changer, move(1000, 10)).status).toBe(SAM_STAT_GOOD);
  });

  it("an operator's cartridge in the mail slot: IMPEXP set, 06/28/01 on the changer; removal honours PREVENT", async () => {
    const { changer } = autoloader();
    clearUas(changer, I2);
    await changer.operatorInsert("B00001L6");
    expect(execSync(changer, [0, 0, 0, 0, 0, 0], { initiator: I2 }).senseString).toBe("06/28/01");
    expect(clearUas(changer, I1)).toEqual(["06/28/01"]);
    const b = execSync(changer, [0xb8, 0x13, 0, 10, 0, 1, 0, 0, 0, 255, 0, 0], { dataIn: 255 }).bytes;
    expect(b[16 + 2]).toBe(0x3b); // INENAB EXENAB ACCESS IMPEXP FULL
    execSync(changer, cdb.prevent(1), { initiator: I1 });
    await expect(changer.operatorRemove()).rejects.toThrow(/medium removal is prevented/);
    execSync(changer, cdb.prevent(0), { initiator: I1 });
    await expect(changer.operatorRemove()).resolves.toBe("B00001L6");
  });

  it("INITIALIZE ELEMENT STATUS (WITH RANGE) and POSITION TO ELEMENT validate addresses", () => {
    const { changer } = autoloader();
    expect(execSync(changer, [0x07, 0, 0, 0, 0, 0]).status).toBe(SAM_STAT_GOOD);
    expect(execSync(changer, [0x37, 1, 0x03, 0xe8, 0, 0, 0, 8, 0, 0]).status).toBe(SAM_STAT_GOOD);
    expect(senseHex(execSync(changer, [0x37, 1, 0x07, 0xd0, 0, 0, 0, 1, 0, 0]))).toBe(
      fixedSense(0x05, null, 0x21, 0x01, fieldPointer(true, 2, 7)),
    );
    expect(execSync(changer, [0x37, 0, 0x07, 0xd0, 0, 0, 0, 1, 0, 0]).status).toBe(SAM_STAT_GOOD);
    expect(execSync(changer, [0x2b, 0, 0, 1, 0x03, 0xe8, 0, 0, 0, 0]).status).toBe(SAM_STAT_GOOD);
    expect(execSync(changer, [0x2b, 0, 0, 0, 0x07, 0xd0, 0, 0, 0, 0]).senseString).toBe("05/21/01");
  });
});
