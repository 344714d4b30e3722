import { describe, expect, it } from "vitest";
import {
  decodeSense,
  FILEMARK_DETECTED,
  fieldPointer,
  INVALID_FIELD_IN_CDB,
  MISCOMPARE_DURING_VERIFY,
  NO_INFORMATION,
  SENSE_EOM,
  SENSE_FILEMARK,
  SENSE_ILI,
  senseCode,
  writeSense,
} from "../../../src/scsi/sense.js";
import { hex } from "../_support/devices.js";

describe("sense builder", () => {
  it("packs key/ASC/ASCQ into one code", () => {
    expect(senseCode(5, 0x24, 0)).toBe(INVALID_FIELD_IN_CDB);
  });

  it("writes 18-byte fixed sense with a CDB field pointer", () => {
    const b = new Uint8Array(252);
    const n = writeSense(b, false, INVALID_FIELD_IN_CDB, 0, NO_INFORMATION, fieldPointer(true, 2, 7));
    expect(n).toBe(18);
    expect(hex(b.subarray(0, n))).toBe("700005000000000a00000000240000cf0002");
  });

  it("sets VALID and INFORMATION in fixed format, two's complement for negative residues", () => {
    const b = new Uint8Array(252);
    writeSense(b, false, MISCOMPARE_DURING_VERIFY, 0, 0x1234);
    expect(hex(b.subarray(0, 18))).toBe("f0000e000012340a000000001d0000000000");
    writeSense(b, false, FILEMARK_DETECTED, SENSE_FILEMARK | SENSE_EOM | SENSE_ILI, -2);
    expect(hex(b.subarray(0, 8))).toBe("f000e0fffffffe0a");
    expect(decodeSense(b, 18).information).toBe(0xfffffffe);
  });

  it("leaves VALID clear when INFORMATION does not fit 4 bytes", () => {
    const b = new Uint8Array(252);
    writeSense(b, false, MISCOMPARE_DURING_VERIFY, 0, 2 ** 40);
    expect(b[0]).toBe(0x70);
    expect(decodeSense(b, 18).information).toBeNull();
  });

  it("writes descriptor format: information, sense-key specific, stream descriptors", () => {
    const b = new Uint8Array(252);
    const n = writeSense(b, true, FILEMARK_DETECTED, SENSE_FILEMARK, 7, fieldPointer(false, 20, 3));
    expect(hex(b.subarray(0, n))).toBe(
      "7200000100000018" + "000a800000000000000000" + "07" + "02060000" + "8b001400" + "04020080",
    );
    const d = decodeSense(b, n);
    expect(d).toMatchObject({
      format: "descriptor",
      key: 0,
      asc: 0,
      ascq: 1,
      filemark: true,
      information: 7,
    });
    expect(d.sks).toBe(0x8b0014);
  });

  it("puts ILI in a block commands descriptor for block devices", () => {
    const b = new Uint8Array(252);
    const n = writeSense(b, true, INVALID_FIELD_IN_CDB, SENSE_ILI, NO_INFORMATION, 0, true);
    expect(hex(b.subarray(0, n))).toBe("720524000000000405020020");
  });

  it("writes negative INFORMATION as 64-bit two's complement in descriptor format", () => {
    const b = new Uint8Array(252);
    const n = writeSense(b, true, FILEMARK_DETECTED, 0, -1);
    expect(hex(b.subarray(8, n))).toBe("000a8000ffffffffffffffff");
  });
});
