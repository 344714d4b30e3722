import { describe, expect, it } from "vitest";
import { SAM_STAT_GOOD } from "../../../src/scsi/device.js";
import { fieldPointer } from "../../../src/scsi/sense.js";
import { MemoryCartridgeLibrary } from "../../../src/targets/ssc/cartridge-library.js";
import { TapeDrive } from "../../../src/targets/ssc/tape-drive.js";
import { cdb, fixedSense, loadedDrive, pattern, senseHex, TAPE_INFO, writeBlock } from "../_support/tape.js";
import { clearUas, execSync, I1, I2 } from "../_support/task.js";

const TUR = [0, 0, 0, 0, 0, 0];

describe("no cartridge, loading and unloading", () => {
  it("an empty drive: TUR and LOAD report 02/3A/00; a cartridge put in raises 06/28/00 on every nexus", () => {
    const drive = new TapeDrive({ info: TAPE_INFO });
    clearUas(drive, I1);
    clearUas(drive, I2);
    expect(senseHex(execSync(drive, TUR))).toBe(fixedSense(0x02, null, 0x3a, 0x00));
    expect(senseHex(execSync(drive, cdb.loadUnload(0x01)))).toBe(fixedSense(0x02, null, 0x3a, 0x00));
    expect(senseHex(execSync(drive, cdb.write(1), { dataOut: new Uint8Array(1) }))).toBe(
      fixedSense(0x02, null, 0x3a, 0x00),
    );
    const lib = new MemoryCartridgeLibrary({ capacity: 1 << 20 });
    drive.insert(lib.openNow("A00001L6"));
    expect(drive.state).toBe("loaded");
    expect(senseHex(execSync(drive, TUR, { initiator: I1 }))).toBe(fixedSense(0x06, null, 0x28, 0x00));
    expect(execSync(drive, TUR, { initiator: I1 }).status).toBe(SAM_STAT_GOOD);
    expect(execSync(drive, TUR, { initiator: I2 }).senseString).toBe("06/28/00");
  });

  it("UNLOAD (byte 4 = 00h) unloads — tgt treats it as a no-op; LOAD threads again, 06/28/00 for the others", () => {
    const { drive } = loadedDrive();
    clearUas(drive, I2);
    writeBlock(drive, pattern(10));
    expect(execSync(drive, cdb.loadUnload(0x00)).status).toBe(SAM_STAT_GOOD);
    expect(drive.state).toBe("unloaded");
    expect(drive.position).toBe(0);
    // In the drive but not loaded: LOAD required (IBM LTO: 02/04/02).
    expect(senseHex(execSync(drive, TUR))).toBe(fixedSense(0x02, null, 0x04, 0x02));
    expect(execSync(drive, cdb.loadUnload(0x01), { initiator: I1 }).status).toBe(SAM_STAT_GOOD);
    expect(execSync(drive, TUR, { initiator: I1 }).status).toBe(SAM_STAT_GOOD);
    expect(execSync(drive, TUR, { initiator: I2 }).senseString).toBe("06/28/00");
    expect(execSync(drive, cdb.read(10), { dataIn: 10 }).bytes).toEqual(pattern(10));
    // RETEN without LOAD is an unload with retension; LOAD with RETEN loads.
    expect(execSync(drive, cdb.loadUnload(0x02)).status).toBe(SAM_STAT_GOOD);
    expect(drive.state).toBe("unloaded");
    expect(execSync(drive, cdb.loadUnload(0x03)).status).toBe(SAM_STAT_GOOD);
    expect(drive.state).toBe("loaded");
    // HOLD with LOAD keeps the cartridge unthreaded.
    execSync(drive, cdb.loadUnload(0x00));
    expect(execSync(drive, cdb.loadUnload(0x09)).status).toBe(SAM_STAT_GOOD);
    expect(drive.state).toBe("unloaded");
  });

  it("LOAD with EOT is an invalid field; reserved bits of byte 4 too", () => {
    const { drive } = loadedDrive();
    expect(senseHex(execSync(drive, cdb.loadUnload(0x05)))).toBe(
      fixedSense(0x05, null, 0x24, 0x00, fieldPointer(true, 4, 2)),
    );
    expect(senseHex(execSync(drive, cdb.loadUnload(0x10)))).toBe(
      fixedSense(0x05, null, 0x24, 0x00, fieldPointer(true, 4, 4)),
    );
    expect(execSync(drive, cdb.loadUnload(0x04)).status).toBe(SAM_STAT_GOOD); // unload to EOT
  });

  it("PREVENT MEDIUM REMOVAL: UNLOAD → 05/53/02 (02/53/02 without a cartridge); 10b is invalid", () => {
    const { drive } = loadedDrive();
    expect(execSync(drive, cdb.prevent(1)).status).toBe(SAM_STAT_GOOD);
    expect(senseHex(execSync(drive, cdb.loadUnload(0)))).toBe(fixedSense(0x05, null, 0x53, 0x02));
    expect(drive.state).toBe("loaded");
    expect(execSync(drive, cdb.prevent(0)).status).toBe(SAM_STAT_GOOD);
    expect(execSync(drive, cdb.loadUnload(0)).status).toBe(SAM_STAT_GOOD);
    expect(senseHex(execSync(drive, cdb.prevent(2)))).toBe(
      fixedSense(0x05, null, 0x24, 0x00, fieldPointer(true, 4, 1)),
    );
    const empty = new TapeDrive({ info: TAPE_INFO });
    clearUas(empty);
    execSync(empty, cdb.prevent(1));
    expect(senseHex(execSync(empty, cdb.loadUnload(0)))).toBe(fixedSense(0x02, null, 0x53, 0x02));
    return expect(drive.eject()).resolves.not.toBeNull();
  });

  it("the host cannot take a cartridge out while removal is prevented", async () => {
    const { drive } = loadedDrive();
    execSync(drive, cdb.prevent(1));
    await expect(drive.eject()).rejects.toThrow(/medium removal prevented/);
    execSync(drive, cdb.prevent(0));
    const c = await drive.eject();
    expect(c?.barcode).toBe("A00001L6");
    expect(drive.state).toBe("empty");
  });
});

describe("write protection, ERASE, FORMAT MEDIUM, REWIND", () => {
  it("a write-protected cartridge: WRITE, WRITE FILEMARKS, ERASE, FORMAT → 07/27/00; MODE SENSE WP; reads work", () => {
    const lib = new MemoryCartridgeLibrary({ capacity: 1 << 20, writeProtected: new Set(["WP0001L6"]) });
    const img = lib.openNow("WP0001L6");
    const drive = new TapeDrive({ info: TAPE_INFO });
    drive.insert(img);
    clearUas(drive);
    const wp = fixedSense(0x07, null, 0x27, 0x00);
    expect(senseHex(execSync(drive, cdb.write(4), { dataOut: new Uint8Array(4) }))).toBe(wp);
    expect(senseHex(execSync(drive, cdb.filemarks(1)))).toBe(wp);
    expect(senseHex(execSync(drive, [0x19, 0, 0, 0, 0, 0]))).toBe(wp);
    expect(senseHex(execSync(drive, [0x04, 0, 0, 0, 0, 0]))).toBe(wp);
    expect(execSync(drive, [0x1a, 0, 0, 0, 12, 0], { dataIn: 12 }).bytes[2]! & 0x80).toBe(0x80);
    expect(execSync(drive, cdb.read(10), { dataIn: 10 }).senseString).toBe("08/00/05");
    // WRITE FILEMARKS 0 only flushes: allowed.
    expect(execSync(drive, cdb.filemarks(0)).status).toBe(SAM_STAT_GOOD);
  });

  it("ERASE leaves end-of-data at the head; FORMAT MEDIUM only at BOP (05/3B/0C elsewhere)", () => {
    const { drive } = loadedDrive();
    for (let i = 0; i < 4; i++) writeBlock(drive, pattern(16, i));
    execSync(drive, cdb.locate10(2));
    expect(execSync(drive, [0x19, 0x01, 0, 0, 0, 0]).status).toBe(SAM_STAT_GOOD);
    expect(drive.position).toBe(2);
    expect(execSync(drive, cdb.read(16), { dataIn: 16 }).senseString).toBe("08/00/05");
    expect(senseHex(execSync(drive, [0x04, 0, 0, 0, 0, 0]))).toBe(fixedSense(0x05, null, 0x3b, 0x0c));
    execSync(drive, cdb.rewind());
    expect(senseHex(execSync(drive, [0x04, 0, 1, 0, 0, 0]))).toBe(
      fixedSense(0x05, null, 0x24, 0x00, fieldPointer(true, 2, 3)),
    );
    expect(execSync(drive, [0x04, 0, 0, 0, 0, 0]).status).toBe(SAM_STAT_GOOD);
    expect(execSync(drive, cdb.read(16), { dataIn: 16 }).senseString).toBe("08/00/05");
    expect(execSync(drive, cdb.readPosition(6), { dataIn: 32 }).bytes[0]).toBe(0x80);
  });

  it("REWIND and WRITE FILEMARKS with IMMED complete GOOD and leave the drive consistent", () => {
    const { drive } = loadedDrive();
    writeBlock(drive, pattern(50));
    expect(execSync(drive, cdb.filemarks(2, true)).status).toBe(SAM_STAT_GOOD);
    expect(execSync(drive, cdb.rewind(true)).status).toBe(SAM_STAT_GOOD);
    expect(drive.position).toBe(0);
    expect(execSync(drive, cdb.space(1, 2)).status).toBe(SAM_STAT_GOOD);
    expect(drive.position).toBe(3);
    expect(
      senseHex(
        execSync(
          drive,
          cdb.filemarks(1, false).map((b, i) => (i === 1 ? 2 : b)),
        ),
      ),
    ).toBe(fixedSense(0x05, null, 0x24, 0x00, fieldPointer(true, 1, 1)));
    expect(senseHex(execSync(drive, cdb.filemarks(2000)))).toBe(
      fixedSense(0x05, null, 0x24, 0x00, fieldPointer(true, 2, 7)),
    );
  });
});
