import { describe, expect, it } from "vitest";
import { SAM_STAT_GOOD } from "../../../src/scsi/device.js";
import { fieldPointer } from "../../../src/scsi/sense.js";
import { hex } from "../_support/devices.js";
import { cdb, fixedSense, loadedDrive, pattern, senseHex, writeBlock } from "../_support/tape.js";
import { clearUas, execSync, I1, I2 } from "../_support/task.js";

const ascii = (b: Uint8Array, from: number, to: number) =>
  Buffer.from(b.subarray(from, to)).toString("latin1");

describe("a tape drive's identity", () => {
  it("INQUIRY: sequential-access (01h), removable, SSC-3 version descriptor", () => {
    const { drive } = loadedDrive();
    const b = execSync(drive, [0x12, 0, 0, 0, 96, 0], { dataIn: 96 }).bytes;
    expect(b[0]).toBe(0x01);
    expect(b[1]).toBe(0x80);
    expect(ascii(b, 8, 36)).toBe("HP      Ultrium 6-SCSI  35GD");
    expect(hex(b.subarray(58, 64))).toBe("00a004600400");
  });

  it("VPD: pages 00h, 80h, 83h only — no SBC pages on a tape", () => {
    const { drive } = loadedDrive();
    expect(hex(execSync(drive, [0x12, 1, 0, 0, 64, 0], { dataIn: 64 }).bytes)).toBe("01000003008083");
    for (const page of [0xb0, 0xb1, 0xb2]) {
      expect(senseHex(execSync(drive, [0x12, 1, page, 0, 64, 0], { dataIn: 64 }))).toBe(
        fixedSense(0x05, null, 0x24, 0x00, fieldPointer(true, 2, 7)),
      );
    }
  });

  it("READ BLOCK LIMITS: any granularity, 8 MiB maximum, 1-byte minimum", () => {
    const { drive } = loadedDrive();
    expect(hex(execSync(drive, [0x05, 0, 0, 0, 0, 0], { dataIn: 6 }).bytes)).toBe("008000000001");
    // MLOI (SSC-4) is not supported.
    expect(execSync(drive, [0x05, 1, 0, 0, 0, 0], { dataIn: 20 }).senseString).toBe("05/24/00");
  });

  it("REPORT DENSITY SUPPORT: LTO-6 and LTO-5 writable (LTO-6 default), LTO-4 read-only; MEDIA=1 the medium's", () => {
    const { drive } = loadedDrive();
    const b = execSync(drive, [0x44, 0, 0, 0, 0, 0, 0, 1, 0, 0], { dataIn: 256 }).bytes;
    expect(b.length).toBe(4 + 3 * 52);
    expect(hex(b.subarray(0, 4))).toBe("009e0000");
    expect([b[4], b[56], b[108]]).toEqual([0x5a, 0x58, 0x46]);
    expect([b[6], b[58], b[110]]).toEqual([0xa1, 0x81, 0x01]);
    expect(ascii(b, 4 + 16, 4 + 52)).toBe("LTO-CVE U-616   Ultrium 6/16T       ");
    const media = execSync(drive, [0x44, 1, 0, 0, 0, 0, 0, 1, 0, 0], { dataIn: 256 }).bytes;
    expect(media.length).toBe(56);
    expect(media[4]).toBe(0x5a);
    expect(execSync(drive, [0x44, 2, 0, 0, 0, 0, 0, 1, 0, 0], { dataIn: 256 }).senseString).toBe("05/24/00");
  });
});

describe("mode parameters", () => {
  it("Linux st's probe, MODE SENSE(6) page 0 with 12 bytes: header and block descriptor", () => {
    const { drive } = loadedDrive();
    // Mode data length 11, medium type 0, BUFFERED MODE 1, descriptor: density 5Ah, variable blocks.
    expect(hex(execSync(drive, [0x1a, 0, 0, 0, 12, 0], { dataIn: 12 }).bytes)).toBe(
      "0d0010085a00000000000000",
    );
  });

  it("MODE SELECT switches to fixed 512-byte blocks and back; other nexuses get 06/2A/01", () => {
    const { drive } = loadedDrive();
    clearUas(drive, I2);
    const sel = (bl: number, density = 0) =>
      execSync(drive, [0x15, 0x10, 0, 0, 12, 0], {
        dataOut: Uint8Array.from([
          0,
          0,
          0x10,
          8,
          density,
          0,
          0,
          0,
          0,
          bl >>> 16,
          (bl >>> 8) & 0xff,
          bl & 0xff,
        ]),
        initiator: I1,
      });
    expect(sel(512).status).toBe(SAM_STAT_GOOD);
    expect(hex(execSync(drive, [0x1a, 0, 0, 0, 12, 0], { dataIn: 12 }).bytes.subarray(4))).toBe(
      "5a00000000000200",
    );
    expect(execSync(drive, [0, 0, 0, 0, 0, 0], { initiator: I2 }).senseString).toBe("06/2A/01");
    expect(sel(0, 0x58).status).toBe(SAM_STAT_GOOD);
    expect(hex(execSync(drive, [0x1a, 0, 0, 0, 12, 0], { dataIn: 12 }).bytes.subarray(4))).toBe(
      "5800000000000000",
    );
    // Unknown density, too long a block, a 16-byte descriptor, BUFFERED MODE 7: 05/26/00.
    expect(senseHex(sel(0, 0x33))).toBe(fixedSense(0x05, null, 0x26, 0x00, fieldPointer(false, 4, 7)));
    expect(senseHex(sel(0x800001))).toBe(fixedSense(0x05, null, 0x26, 0x00, fieldPointer(false, 9, 7)));
    const long = execSync(drive, [0x15, 0x10, 0, 0, 12, 0], {
      dataOut: Uint8Array.from([0, 0, 0x10, 16, 0, 0, 0, 0, 0, 0, 0, 0]),
    });
    expect(long.senseString).toBe("05/1A/00");
    const buffered = execSync(drive, [0x15, 0x10, 0, 0, 4, 0], { dataOut: Uint8Array.from([0, 0, 0x70, 0]) });
    expect(senseHex(buffered)).toBe(fixedSense(0x05, null, 0x26, 0x00, fieldPointer(false, 2, 6)));
  });

  it("pages 0Fh (DCE changeable), 10h, 1Dh, 0Ah, 01h; MODE SENSE(10) too", () => {
    const { drive } = loadedDrive();
    const page = (code: number, pc = 0) =>
      hex(execSync(drive, [0x1a, 0x08, (pc << 6) | code, 0, 255, 0], { dataIn: 255 }).bytes.subarray(4));
    expect(page(0x0f)).toBe("0f0ec080000000010000000100000000");
    expect(page(0x0f, 1)).toBe("0f0e8000000000000000000000000000");
    expect(page(0x10)).toBe("100e00000000000040001800000001" + "00");
    expect(page(0x1d)).toBe(`1d1e${"00".repeat(30)}`);
    // Turn compression off as `mt compression 0` does.
    const off = Uint8Array.from([0, 0, 0x10, 0, 0x0f, 0x0e, 0x40, 0x80, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0]);
    expect(execSync(drive, [0x15, 0x10, 0, 0, off.length, 0], { dataOut: off }).status).toBe(SAM_STAT_GOOD);
    expect(page(0x0f).slice(4, 6)).toBe("40");
    // MODE SENSE(10): device-specific parameter in byte 3, block descriptor length in 6-7, then
    // the descriptor and the pages in ascending order (00h vendor page first, empty).
    const ten = execSync(drive, [0x5a, 0, 0x3f, 0, 0, 0, 0, 1, 0, 0], { dataIn: 256 }).bytes;
    expect(hex(ten.subarray(2, 8))).toBe("001000000008");
    expect(hex(ten.subarray(16, 20))).toBe("0000010a");
  });
});

describe("log pages", () => {
  it("supported pages; sequential-access counters count what moved; SP, unknown pages, pointers", () => {
    const { drive } = loadedDrive();
    expect(hex(execSync(drive, [0x4d, 0, 0x40, 0, 0, 0, 0, 0, 64, 0], { dataIn: 64 }).bytes)).toBe(
      "00000005000203" + "0c2e",
    );
    writeBlock(drive, pattern(1000));
    execSync(drive, cdb.rewind());
    execSync(drive, cdb.read(600), { dataIn: 600 });
    const seq = execSync(drive, [0x4d, 0, 0x4c, 0, 0, 0, 0, 0, 255, 0], { dataIn: 255 }).bytes;
    const counter = (i: number) => Number(Buffer.from(seq).readBigUInt64BE(4 + 12 * i + 4));
    expect([counter(0), counter(1), counter(2), counter(3)]).toEqual([1000, 1000, 1000, 600]);
    expect(hex(seq.subarray(4 + 48))).toBe("0100030100");
    // Parameter pointer: only codes from 2 on.
    const from2 = execSync(drive, [0x4d, 0, 0x4c, 0, 0, 0, 2, 0, 255, 0], { dataIn: 255 }).bytes;
    expect(hex(from2.subarray(4, 6))).toBe("0002");
    expect(senseHex(execSync(drive, [0x4d, 0, 0x4c, 0, 0, 0x01, 0x01, 0, 255, 0], { dataIn: 255 }))).toBe(
      fixedSense(0x05, null, 0x24, 0x00, fieldPointer(true, 5, 7)),
    );
    expect(senseHex(execSync(drive, [0x4d, 1, 0x4c, 0, 0, 0, 0, 0, 255, 0], { dataIn: 255 }))).toBe(
      fixedSense(0x05, null, 0x24, 0x00, fieldPointer(true, 1, 0)),
    );
    expect(senseHex(execSync(drive, [0x4d, 0, 0x77, 0, 0, 0, 0, 0, 255, 0], { dataIn: 255 }))).toBe(
      fixedSense(0x05, null, 0x24, 0x00, fieldPointer(true, 2, 5)),
    );
    // LOG SELECT with PCR resets the counters.
    expect(execSync(drive, [0x4c, 0x02, 0x40, 0, 0, 0, 0, 0, 0, 0]).status).toBe(SAM_STAT_GOOD);
    const reset = execSync(drive, [0x4d, 0, 0x4c, 0, 0, 0, 0, 0, 255, 0], { dataIn: 255 }).bytes;
    expect(Number(Buffer.from(reset).readBigUInt64BE(8))).toBe(0);
  });

  it("TapeAlert raises flag 9 on a write to a protected cartridge and clears it once read", async () => {
    const { MemoryCartridgeLibrary } = await import("../../../src/targets/ssc/cartridge-library.js");
    const { TapeDrive } = await import("../../../src/targets/ssc/tape-drive.js");
    const { TAPE_INFO } = await import("../_support/tape.js");
    const lib = new MemoryCartridgeLibrary({ capacity: 1 << 20, writeProtected: new Set(["WP0001L6"]) });
    const drive = new TapeDrive({ info: TAPE_INFO });
    drive.insert(lib.openNow("WP0001L6"));
    clearUas(drive);
    execSync(drive, cdb.write(1), { dataOut: new Uint8Array(1) });
    const ta = execSync(drive, [0x4d, 0, 0x6e, 0, 0, 0, 0, 1, 0, 0], { dataIn: 256 }).bytes;
    expect(hex(ta.subarray(0, 4))).toBe("2e000140");
    expect(hex(ta.subarray(4 + 8 * 5, 4 + 9 * 5))).toBe("0009030101");
    const again = execSync(drive, [0x4d, 0, 0x6e, 0, 0, 0, 0, 1, 0, 0], { dataIn: 256 }).bytes;
    expect(again[4 + 8 * 5 + 4]).toBe(0);
  });
});
