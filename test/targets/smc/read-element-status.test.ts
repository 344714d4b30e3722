import { describe, expect, it } from "vitest";
import { SAM_STAT_GOOD } from "../../../src/scsi/device.js";
import { fieldPointer } from "../../../src/scsi/sense.js";
import { hex } from "../_support/devices.js";
import { autoloader, fixedSense, senseHex } from "../_support/tape.js";
import { execSync } from "../_support/task.js";

/** READ ELEMENT STATUS CDB. */
function res(
  type: number,
  start: number,
  count: number,
  alloc: number,
  voltag = false,
  dvcid = false,
): number[] {
  return [
    0xb8,
    (voltag ? 0x10 : 0) | type,
    start >>> 8,
    start & 0xff,
    count >>> 8,
    count & 0xff,
    dvcid ? 1 : 0,
    (alloc >>> 16) & 0xff,
    (alloc >>> 8) & 0xff,
    alloc & 0xff,
    0,
    0,
  ];
}

const tag = (s: string) => `${Buffer.from(s.padEnd(32, " ")).toString("hex")}00000000`;
const h16 = (v: number) => v.toString(16).padStart(4, "0");
const h24 = (v: number) => v.toString(16).padStart(6, "0");

/** One element descriptor as hex. */
function desc(
  addr: number,
  flags: number,
  byte6_7: string,
  src: number | null,
  voltag: string | null,
  trailer = "00000000",
): string {
  const full = flags & 1;
  const b9 = full ? (src !== null ? 0x81 : 0x01) : 0;
  return `${h16(addr)}${flags.toString(16).padStart(2, "0")}000000${byte6_7}00${b9.toString(16).padStart(2, "0")}${h16(src ?? 0)}${
    voltag === null ? "" : voltag === "" ? "00".repeat(36) : tag(voltag)
  }${trailer}`;
}

describe("READ ELEMENT STATUS", () => {
  it("storage elements with volume tags: 36-byte tag, 32-byte identifier space padded", () => {
    const { changer } = autoloader();
    const t = execSync(changer, res(2, 1000, 3, 4096, true), { dataIn: 4096 });
    expect(t.status).toBe(SAM_STAT_GOOD);
    expect(hex(t.bytes)).toBe(
      `${h16(1000)}0003` +
        `00${h24(8 + 3 * 52)}` +
        `0280${h16(52)}00${h24(3 * 52)}` +
        desc(1000, 0x09, "0000", null, "A00001L6") +
        desc(1001, 0x09, "0000", null, "A00002L6") +
        desc(1002, 0x09, "0000", null, "A00003L6"),
    );
  });

  it("without VOLTAG the descriptors are 16 bytes and PVOLTAG is clear", () => {
    const { changer } = autoloader();
    const t = execSync(changer, res(2, 1006, 10, 4096), { dataIn: 4096 });
    expect(hex(t.bytes)).toBe(
      `${h16(1006)}0002000000${(8 + 32).toString(16)}0200001000000020${desc(1006, 0x08, "0000", null, null)}${desc(
        1007,
        0x08,
        "0000",
        null,
        null,
      )}`,
    );
  });

  it("the drive with DVCID: SCSI address, and vendor/product/serial as an ASCII T10 identifier", () => {
    const { changer } = autoloader();
    const t = execSync(changer, res(4, 0, 1, 4096, true, true), { dataIn: 4096 });
    const id = Buffer.from("HP      Ultrium 6-SCSI  HU1234TAPE").toString("hex");
    expect(hex(t.bytes)).toBe(
      `01f40001000000${(8 + 86).toString(16)}0480005600000056${desc(500, 0x08, "3000", null, "", `02010022${id}`)}`,
    );
  });

  it("the import/export element: INENAB, EXENAB, ACCESS; the transport: empty", () => {
    const { changer } = autoloader();
    const ie = execSync(changer, res(3, 0, 9, 4096), { dataIn: 4096 });
    expect(hex(ie.bytes.subarray(16))).toBe(desc(10, 0x38, "0000", null, null));
    const mt = execSync(changer, res(1, 0, 9, 4096, true), { dataIn: 4096 });
    expect(hex(mt.bytes)).toBe(
      `00010001000000${(8 + 52).toString(16)}0180003400000034${desc(1, 0x00, "0000", null, "")}`,
    );
  });

  it("all element types (type 0): one correct page per type, in address order", () => {
    const { changer } = autoloader();
    const b = execSync(changer, res(0, 0, 100, 65535, true, true), { dataIn: 65535 }).bytes;
    // Header: first element 1 (the transport), 11 elements, byte count of everything after it.
    expect(hex(b.subarray(0, 8))).toBe(`00010${"00b"}00${h24(b.length - 8)}`);
    const pages: string[] = [];
    let at = 8;
    while (at < b.length) {
      const type = b[at]!;
      const len = (b[at + 2]! << 8) | b[at + 3]!;
      const bytes = (b[at + 5]! << 16) | (b[at + 6]! << 8) | b[at + 7]!;
      pages.push(`${type}:${b[at + 1]!.toString(16)}:${len}:${bytes / len}`);
      at += 8 + bytes;
    }
    expect(at).toBe(b.length);
    expect(pages).toEqual(["1:80:52:1", "3:80:52:1", "4:80:86:1", "2:80:52:8"]);
    // Starting inside the drives' range with a count of 3: the drive, then two slots.
    const mid = execSync(changer, res(0, 11, 3, 65535), { dataIn: 65535 }).bytes;
    expect(hex(mid.subarray(0, 4))).toBe("01f40003");
    expect([mid[8], mid[8 + 8 + 16]]).toEqual([4, 2]);
  });

  it("allocation length cuts what is sent, never the counts in the header", () => {
    const { changer } = autoloader();
    const full = execSync(changer, res(0, 0, 100, 65535, true), { dataIn: 65535 }).bytes;
    for (const alloc of [0, 1, 7, 8, 9, 50, full.length - 1, full.length, full.length + 10]) {
      const t = execSync(changer, res(0, 0, 100, alloc, true), { dataIn: 65535 });
      expect(t.status).toBe(SAM_STAT_GOOD);
      expect(t.transferred).toBe(Math.min(alloc, full.length));
      expect(t.bytes).toEqual(full.subarray(0, Math.min(alloc, full.length)));
    }
  });

  it("a start beyond every element of the type is INVALID ELEMENT ADDRESS 05/21/01; type 5 is invalid", () => {
    const { changer } = autoloader();
    expect(senseHex(execSync(changer, res(2, 1008, 1, 255), { dataIn: 255 }))).toBe(
      fixedSense(0x05, null, 0x21, 0x01, fieldPointer(true, 2, 7)),
    );
    expect(senseHex(execSync(changer, res(0, 2000, 1, 255), { dataIn: 255 }))).toBe(
      fixedSense(0x05, null, 0x21, 0x01, fieldPointer(true, 2, 7)),
    );
    expect(senseHex(execSync(changer, res(5, 0, 1, 255), { dataIn: 255 }))).toBe(
      fixedSense(0x05, null, 0x24, 0x00, fieldPointer(true, 1, 3)),
    );
    // NUMBER OF ELEMENTS 0: the header alone.
    expect(hex(execSync(changer, res(2, 0, 0, 255), { dataIn: 255 }).bytes)).toBe("03e8000000000000");
  });
});

describe("a changer's identity and mode pages", () => {
  it("INQUIRY: medium changer (08h), removable, SMC-3; VPD 00h/80h/83h only", () => {
    const { changer } = autoloader();
    const b = execSync(changer, [0x12, 0, 0, 0, 96, 0], { dataIn: 96 }).bytes;
    expect([b[0], b[1]]).toEqual([0x08, 0x80]);
    expect(Buffer.from(b.subarray(8, 32)).toString()).toBe("HP      1x8 G2 AUTOLDR  ");
    expect(hex(b.subarray(58, 64))).toBe("00a003000480");
    expect(hex(execSync(changer, [0x12, 1, 0, 0, 64, 0], { dataIn: 64 }).bytes)).toBe("08000003008083");
  });

  it("pages 1Dh (element addresses), 1Eh (no rotation), 1Fh (capabilities), as mtx reads them", () => {
    const { changer } = autoloader();
    const page = (code: number) =>
      hex(execSync(changer, [0x1a, 0x08, code, 0, 136, 0], { dataIn: 136 }).bytes.subarray(4));
    expect(page(0x1d)).toBe("1d12" + "00010001" + "03e80008" + "000a0001" + "01f40001" + "0000");
    expect(page(0x1e)).toBe("1e020000");
    expect(page(0x1f)).toBe(`1f120e00000e0e0e${"00".repeat(12)}`);
    const all = execSync(changer, [0x1a, 0, 0x3f, 0, 255, 0], { dataIn: 255 }).bytes;
    expect(all[3]).toBe(0); // no block descriptor on a changer
  });
});
