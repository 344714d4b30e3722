import { describe, expect, it } from "vitest";
import { SAM_STAT_CHECK_CONDITION, SAM_STAT_GOOD } from "../../src/scsi/device.js";
import { ScsiTarget } from "../../src/targets/target.js";
import { cdrom, ramDisk } from "./_support/devices.js";
import { autoloader, cdb, loadedDrive, pattern, writeBlock } from "./_support/tape.js";
import type { Submittable } from "./_support/task.js";
import { clearUas, execSync, I1 } from "./_support/task.js";

type Builder = (alloc: number) => number[];
const u16 = (a: number) => [(a >>> 8) & 0xff, a & 0xff];
const u32 = (a: number) => [(a >>> 24) & 0xff, (a >>> 16) & 0xff, (a >>> 8) & 0xff, a & 0xff];

/** Data-in CDBs with an ALLOCATION LENGTH field, and that field's width in bits. */
const SPC: Array<[string, Builder, number]> = [
  ["INQUIRY", (a) => [0x12, 0, 0, ...u16(a), 0], 16],
  ["INQUIRY VPD 00", (a) => [0x12, 1, 0x00, ...u16(a), 0], 16],
  ["INQUIRY VPD 80", (a) => [0x12, 1, 0x80, ...u16(a), 0], 16],
  ["INQUIRY VPD 83", (a) => [0x12, 1, 0x83, ...u16(a), 0], 16],
  ["REQUEST SENSE", (a) => [0x03, 0, 0, 0, a & 0xff, 0], 8],
  ["REQUEST SENSE DESC", (a) => [0x03, 1, 0, 0, a & 0xff, 0], 8],
  ["REPORT LUNS", (a) => [0xa0, 0, 0, 0, 0, 0, ...u32(a), 0, 0], 32],
  ["MODE SENSE(6) all", (a) => [0x1a, 0, 0x3f, 0, a & 0xff, 0], 8],
  ["MODE SENSE(10) all+sub", (a) => [0x5a, 0, 0x3f, 0xff, 0, 0, 0, ...u16(a), 0], 16],
  ["MODE SENSE(10) changeable", (a) => [0x5a, 0x08, 0x7f, 0, 0, 0, 0, ...u16(a), 0], 16],
  ["RSOC all RCTD", (a) => [0xa3, 0x0c, 0x80, 0, 0, 0, ...u32(a), 0, 0], 32],
  ["RSOC one", (a) => [0xa3, 0x0c, 0x81, 0x12, 0, 0, ...u32(a), 0, 0], 32],
  ["RSOC SA", (a) => [0xa3, 0x0c, 0x82, 0x5e, 0, 3, ...u32(a), 0, 0], 32],
  ["PR IN READ KEYS", (a) => [0x5e, 0, 0, 0, 0, 0, 0, ...u16(a), 0], 16],
  ["PR IN READ RESERVATION", (a) => [0x5e, 1, 0, 0, 0, 0, 0, ...u16(a), 0], 16],
  ["PR IN REPORT CAPABILITIES", (a) => [0x5e, 2, 0, 0, 0, 0, 0, ...u16(a), 0], 16],
  ["PR IN READ FULL STATUS", (a) => [0x5e, 3, 0, 0, 0, 0, 0, ...u16(a), 0], 16],
];
const DISK: Array<[string, Builder, number]> = [
  ...SPC,
  ["MODE SENSE(10) LLBAA", (a) => [0x5a, 0x10, 0x3f, 0, 0, 0, 0, ...u16(a), 0], 16],
  ["INQUIRY VPD B0", (a) => [0x12, 1, 0xb0, ...u16(a), 0], 16],
  ["INQUIRY VPD B1", (a) => [0x12, 1, 0xb1, ...u16(a), 0], 16],
  ["INQUIRY VPD B2", (a) => [0x12, 1, 0xb2, ...u16(a), 0], 16],
  ["READ CAPACITY(16)", (a) => [0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, ...u32(a), 0, 0], 32],
  ["GET LBA STATUS", (a) => [0x9e, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, ...u32(a), 0, 0], 32],
];
const CD: Array<[string, Builder, number]> = [
  ...SPC,
  ["READ TOC 0", (a) => [0x43, 0, 0, 0, 0, 0, 0, ...u16(a), 0], 16],
  ["READ TOC 0 MSF", (a) => [0x43, 2, 0, 0, 0, 0, 0, ...u16(a), 0], 16],
  ["READ TOC 1", (a) => [0x43, 0, 1, 0, 0, 0, 0, ...u16(a), 0], 16],
  ["READ TOC 2", (a) => [0x43, 2, 2, 0, 0, 0, 0, ...u16(a), 0], 16],
  ["GET CONFIGURATION", (a) => [0x46, 0, 0, 0, 0, 0, 0, ...u16(a), 0], 16],
  ["GET CONFIGURATION current", (a) => [0x46, 1, 0, 0, 0, 0, 0, ...u16(a), 0], 16],
  ["GESN", (a) => [0x4a, 1, 0, 0, 0x10, 0, 0, ...u16(a), 0], 16],
  ["MECHANISM STATUS", (a) => [0xbd, 0, 0, 0, 0, 0, 0, 0, ...u16(a), 0, 0], 16],
];
const TAPE: Array<[string, Builder, number]> = [
  ...SPC,
  ["READ POSITION extended", (a) => [0x34, 0x08, 0, 0, 0, 0, 0, ...u16(a), 0], 16],
  ["REPORT DENSITY SUPPORT", (a) => [0x44, 0, 0, 0, 0, 0, 0, ...u16(a), 0], 16],
  ["REPORT DENSITY SUPPORT MEDIA", (a) => [0x44, 1, 0, 0, 0, 0, 0, ...u16(a), 0], 16],
  ["MODE SENSE(6) page 0 (st's probe)", (a) => [0x1a, 0, 0, 0, a & 0xff, 0], 8],
  ["MODE SENSE(6) 0Fh", (a) => [0x1a, 0, 0x0f, 0, a & 0xff, 0], 8],
  ["LOG SENSE supported pages", (a) => [0x4d, 0, 0x40, 0, 0, 0, 0, ...u16(a), 0], 16],
  ["LOG SENSE write errors", (a) => [0x4d, 0, 0x42, 0, 0, 0, 0, ...u16(a), 0], 16],
  ["LOG SENSE read errors", (a) => [0x4d, 0, 0x43, 0, 0, 0, 0, ...u16(a), 0], 16],
  ["LOG SENSE sequential access", (a) => [0x4d, 0, 0x4c, 0, 0, 0, 0, ...u16(a), 0], 16],
  ["LOG SENSE TapeAlert", (a) => [0x4d, 0, 0x6e, 0, 0, 0, 0, ...u16(a), 0], 16],
];
const u24 = (a: number) => [(a >>> 16) & 0xff, (a >>> 8) & 0xff, a & 0xff];
const CHANGER: Array<[string, Builder, number]> = [
  ...SPC,
  ["MODE SENSE(6) 1Dh DBD", (a) => [0x1a, 0x08, 0x1d, 0, a & 0xff, 0], 8],
  ["READ ELEMENT STATUS all VOLTAG DVCID", (a) => [0xb8, 0x10, 0, 0, 0xff, 0xff, 1, ...u24(a), 0, 0], 16],
  ["READ ELEMENT STATUS all", (a) => [0xb8, 0x00, 0, 0, 0xff, 0xff, 0, ...u24(a), 0, 0], 16],
  ["READ ELEMENT STATUS transport", (a) => [0xb8, 0x11, 0, 0, 0, 9, 0, ...u24(a), 0, 0], 16],
  ["READ ELEMENT STATUS storage", (a) => [0xb8, 0x12, 0, 0, 0, 20, 0, ...u24(a), 0, 0], 16],
  ["READ ELEMENT STATUS import/export", (a) => [0xb8, 0x13, 0, 0, 0, 9, 0, ...u24(a), 0, 0], 16],
  ["READ ELEMENT STATUS drives DVCID", (a) => [0xb8, 0x14, 0, 0, 0, 9, 1, ...u24(a), 0, 0], 16],
];
const NO_LUN: Array<[string, Builder, number]> = [
  ["INQUIRY", (a) => [0x12, 0, 0, ...u16(a), 0], 16],
  ["INQUIRY VPD 00", (a) => [0x12, 1, 0, ...u16(a), 0], 16],
  ["REQUEST SENSE", (a) => [0x03, 0, 0, 0, a & 0xff, 0], 8],
  ["REPORT LUNS", (a) => [0xa0, 0, 0, 0, 0, 0, ...u32(a), 0, 0], 32],
];

/** Alloc 0..255 and a large one, each into a buffer of exactly alloc, alloc + 37, and half of alloc. */
function sweep(name: string, dev: Submittable, build: Builder, bits: number, lun = 0): void {
  const big = bits === 8 ? 255 : 65535;
  const full = execSync(dev, build(big), { dataIn: big + 64, lun });
  expect(full.status, `${name}: full response`).toBe(SAM_STAT_GOOD);
  const whole = full.bytes;
  const isReportLuns = build(0)[0] === 0xa0;
  for (const alloc of [...Array.from({ length: 256 }, (_, i) => i), big]) {
    for (const bufLen of [alloc, alloc + 37, alloc >>> 1]) {
      const t = execSync(dev, build(alloc), { dataIn: bufLen, lun, segment: 13 });
      if (isReportLuns && alloc < 16) {
        expect(t.status, `${name} alloc ${alloc}`).toBe(SAM_STAT_CHECK_CONDITION);
        expect(t.transferred).toBe(0);
        continue;
      }
      expect(t.status, `${name} alloc ${alloc} buffer ${bufLen}`).toBe(SAM_STAT_GOOD);
      const want = Math.min(whole.length, alloc, bufLen);
      expect(t.transferred, `${name} alloc ${alloc} buffer ${bufLen}`).toBe(want);
      expect(t.bytes).toEqual(whole.subarray(0, want));
      // Bytes past the transfer are the untouched guard fill.
      expect(
        t.buffer.subarray(want).every((b) => b === 0xa5),
        `${name}: wrote past the transfer`,
      ).toBe(true);
    }
  }
}

describe("allocation length sweep: truncation, residual, nothing past the buffer", () => {
  it.each(DISK.map(([n, b, bits]) => [n, b, bits] as const))("disk: %s", (name, build, bits) => {
    const d = ramDisk(4096, 512, { thin: true });
    clearUas(d, I1);
    // Some PR state so PR IN has content.
    execSync(d, [0x5f, 0, 0, 0, 0, 0, 0, 0, 24, 0], {
      dataOut: Uint8Array.from([...new Array(8).fill(0), 0, 0, 0, 0, 0, 0, 0, 9, ...new Array(8).fill(0)]),
    });
    new ScsiTarget({ wwn: "3000000000000abc" }).attach(0, d);
    clearUas(d, I1);
    sweep(name, d, build, bits);
  });

  it.each(CD.map(([n, b, bits]) => [n, b, bits] as const))("cdrom: %s", (name, build, bits) => {
    const cd = cdrom(1000);
    clearUas(cd, I1);
    sweep(name, cd, build, bits);
  });

  it.each(TAPE.map(([n, b, bits]) => [n, b, bits] as const))("tape: %s", (name, build, bits) => {
    const { drive } = loadedDrive();
    writeBlock(drive, pattern(100));
    execSync(drive, cdb.filemarks(1));
    execSync(drive, [0x5f, 0, 0, 0, 0, 0, 0, 0, 24, 0], {
      dataOut: Uint8Array.from([...new Array(8).fill(0), 0, 0, 0, 0, 0, 0, 0, 9, ...new Array(8).fill(0)]),
    });
    new ScsiTarget({ wwn: "3000000000000abd" }).attach(0, drive);
    clearUas(drive, I1);
    sweep(name, drive, build, bits);
  });

  it.each(CHANGER.map(([n, b, bits]) => [n, b, bits] as const))("changer: %s", (name, build, bits) => {
    const { changer } = autoloader();
    execSync(changer, [0xa5, 0, 0, 0, 0x03, 0xe8, 0x01, 0xf4, 0, 0, 0, 0]);
    new ScsiTarget({ wwn: "3000000000000abe" }).attach(0, changer);
    clearUas(changer, I1);
    sweep(name, changer, build, bits);
  });

  it("fixed-length tape responses (READ BLOCK LIMITS, READ POSITION short and long) into smaller buffers", () => {
    const { drive } = loadedDrive();
    const cases: Array<[number[], number]> = [
      [[0x05, 0, 0, 0, 0, 0], 6],
      [cdb.readPosition(0), 20],
      [cdb.readPosition(1), 20],
      [cdb.readPosition(6), 32],
    ];
    for (const [c, size] of cases) {
      const whole = execSync(drive, c, { dataIn: size + 10 });
      expect(whole.transferred).toBe(size);
      for (let n = 0; n <= size; n++) {
        const t = execSync(drive, c, { dataIn: n, segment: 7 });
        expect(t.transferred).toBe(n);
        expect(t.bytes).toEqual(whole.bytes.subarray(0, n));
      }
    }
  });

  it.each(NO_LUN.map(([n, b, bits]) => [n, b, bits] as const))("empty LUN: %s", (name, build, bits) => {
    const t = new ScsiTarget();
    t.attach(0, ramDisk());
    t.attach(1, ramDisk());
    sweep(name, t, build, bits, 5);
  });

  it("READ CAPACITY(10) (fixed 8 bytes) into smaller buffers", () => {
    const d = ramDisk();
    clearUas(d);
    for (let n = 0; n <= 8; n++) {
      expect(execSync(d, [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], { dataIn: n }).transferred).toBe(n);
    }
  });
});
