import { describe, expect, it } from "vitest";
import { SAM_STAT_CHECK_CONDITION, SAM_STAT_GOOD } from "../../../src/scsi/device.js";
import { ramDisk } from "../_support/devices.js";
import { loadedDrive, cdb as tapeCdb } from "../_support/tape.js";
import { cdb10, clearUas, execSync, type Submittable } from "../_support/task.js";

/**
 * The command IU's data direction must agree with the CDB's, both ways, before any handler runs:
 * data-in into read-only memory (DMA_TO_DEVICE) and data-out from memory offered for data-in
 * (DMA_FROM_DEVICE) are both 05/0E/03 INVALID FIELD IN COMMAND IU (Linux TCM
 * `target_cmd_size_check`), and nothing reaches the medium or the device's state.
 */
describe("SPC dispatch: data direction contradicting the CDB", () => {
  /** Send a data-out `cdb` with a writable data-in buffer of `length` bytes (DMA_FROM_DEVICE). */
  function sendDataOutAsDataIn(dev: Submittable, cdb: number[], length: number) {
    return execSync(dev, cdb, { dataIn: length });
  }

  it("WRITE(10), MODE SELECT(6)/(10), PERSISTENT RESERVE OUT, UNMAP: refused, medium unchanged", () => {
    const d = ramDisk(64, 512, { thin: true });
    clearUas(d);
    const data = new Uint8Array(512).fill(0x3c);
    expect(execSync(d, cdb10(0x2a, 0, 1), { dataOut: data }).status).toBe(SAM_STAT_GOOD);
    const cases: Array<[string, number[], number]> = [
      ["WRITE(10)", cdb10(0x2a, 0, 1), 512],
      ["WRITE(16)", [0x8a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0], 512],
      ["WRITE SAME(10)", cdb10(0x41, 0, 4), 512],
      ["MODE SELECT(6)", [0x15, 0x10, 0, 0, 24, 0], 24],
      ["MODE SELECT(10)", [0x55, 0x10, 0, 0, 0, 0, 0, 0, 28, 0], 28],
      ["PERSISTENT RESERVE OUT REGISTER", [0x5f, 0, 0, 0, 0, 0, 0, 0, 24, 0], 24],
      ["UNMAP", [0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0], 24],
    ];
    for (const [name, c, len] of cases) {
      const t = sendDataOutAsDataIn(d, c, len);
      expect([t.status, t.transferred, t.senseString], name).toEqual([
        SAM_STAT_CHECK_CONDITION,
        0,
        "05/0E/03",
      ]);
      // The device wrote nothing into the guest's data-in pages either.
      expect(
        t.buffer.every((b) => b === 0xa5),
        name,
      ).toBe(true);
    }
    const r = execSync(d, cdb10(0x28, 0, 1), { dataIn: 512 });
    expect(r.bytes.every((b) => b === 0x3c)).toBe(true);
    // No registration was made by the refused PR OUT.
    const keys = execSync(d, [0x5e, 0, 0, 0, 0, 0, 0, 0, 64, 0], { dataIn: 64 });
    expect(Array.from(keys.bytes.subarray(4, 8))).toEqual([0, 0, 0, 0]);
  });

  it("tape WRITE(6) with a data-in direction: refused, nothing written to the cartridge", () => {
    const { drive } = loadedDrive();
    const t = sendDataOutAsDataIn(drive, tapeCdb.write(100), 100);
    expect([t.status, t.senseString]).toEqual([SAM_STAT_CHECK_CONDITION, "05/0E/03"]);
    // Still at BOP with nothing on the medium: a READ finds blank check, not a block.
    execSync(drive, tapeCdb.rewind());
    const pos = execSync(drive, tapeCdb.readPosition(0), { dataIn: 20 });
    expect(pos.bytes[0]! & 0x80).toBe(0x80); // BOP
    const rd = execSync(drive, tapeCdb.read(100), { dataIn: 100 });
    expect(rd.status).toBe(SAM_STAT_CHECK_CONDITION);
    expect(rd.decoded.key).toBe(8); // BLANK CHECK
  });

  it("an empty buffer moves nothing and contradicts nothing (MODE SELECT with length 0)", () => {
    const d = ramDisk();
    clearUas(d);
    expect(execSync(d, [0x15, 0x10, 0, 0, 0, 0]).status).toBe(SAM_STAT_GOOD);
  });
});
