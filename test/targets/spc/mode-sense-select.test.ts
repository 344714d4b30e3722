import { describe, expect, it } from "vitest";
import { SAM_STAT_GOOD } from "../../../src/scsi/device.js";
import { cdrom, hex, ramDisk } from "../_support/devices.js";
import { cdb10, clearUas, execSync } from "../_support/task.js";

const sense6 = (b1: number, pcPage: number, sub: number, alloc = 255) => [0x1a, b1, pcPage, sub, alloc, 0];
const sense10 = (b1: number, pcPage: number, sub: number, alloc = 1024) => [
  0x5a,
  b1,
  pcPage,
  sub,
  0,
  0,
  0,
  alloc >>> 8,
  alloc & 0xff,
  0,
];
const select6 = (list: Uint8Array, b1 = 0x10) => [0x15, b1, 0, 0, list.length, 0];

function ready() {
  const d = ramDisk(2048, 512);
  clearUas(d);
  return d;
}

/** A MODE SELECT(6) list carrying `page`. */
function list6(page: number[]): Uint8Array {
  const l = new Uint8Array(4 + page.length);
  l.set(page, 4);
  return l;
}

describe("MODE SENSE", () => {
  it("(6) caching page with block descriptor: header, descriptor, WCE set by default", () => {
    const t = execSync(ready(), sense6(0, 0x08, 0), { dataIn: 255 });
    expect(hex(t.bytes)).toBe("1f001008" + "0000080000000200" + "08120400ffff0000ffffffff8014000000000000");
  });

  it("DBD drops the block descriptor; DPOFUA is set, WP is not", () => {
    const t = execSync(ready(), sense6(0x08, 0x08, 0), { dataIn: 255 });
    expect(hex(t.bytes.subarray(0, 4))).toBe("17001000");
  });

  it("(10) with LLBAA returns a 16-byte block descriptor and LONGLBA", () => {
    const t = execSync(ready(), sense10(0x10, 0x0a, 0), { dataIn: 1024 });
    expect(hex(t.bytes.subarray(0, 24))).toBe("0022001001000010" + "0000000000000800" + "0000000000000200");
  });

  it("0x3F returns every page_0 page; 0x3F/0xFF adds sub-pages", () => {
    const all = execSync(ready(), sense10(0x08, 0x3f, 0), { dataIn: 1024 }).bytes;
    const codes = (b: Uint8Array) => {
      const out: string[] = [];
      for (let p = 8; p < b.length; ) {
        const spf = (b[p]! & 0x40) !== 0;
        out.push(spf ? `${(b[p]! & 0x3f).toString(16)}/${b[p + 1]}` : (b[p]! & 0x3f).toString(16));
        p += spf ? 4 + ((b[p + 2]! << 8) | b[p + 3]!) : 2 + b[p + 1]!;
      }
      return out;
    };
    expect(codes(all)).toEqual(["1", "8", "a", "1c"]);
    const subs = execSync(ready(), sense10(0x08, 0x3f, 0xff), { dataIn: 1024 }).bytes;
    expect(codes(subs)).toEqual(["1", "8", "a", "a/1", "1c"]);
  });

  it("PC=1 returns the changeable mask, PC=2 the defaults", () => {
    expect(hex(execSync(ready(), sense6(0x08, 0x48, 0), { dataIn: 255 }).bytes.subarray(4, 8))).toBe(
      "08120400",
    );
    const ctl = execSync(ready(), sense6(0x08, 0x4a, 0), { dataIn: 255 }).bytes.subarray(4);
    expect(hex(ctl)).toBe("0a0a0400080000000000" + "0000");
    expect(execSync(ready(), sense6(0x08, 0x88, 0), { dataIn: 255 }).status).toBe(SAM_STAT_GOOD);
  });

  it("PC=3 (saved) → 05/39/00", () => {
    expect(execSync(ready(), sense6(0, 0xc8, 0), { dataIn: 255 }).senseString).toBe("05/39/00");
  });

  it("an unsupported page → 05/24/00 at PAGE CODE; an unsupported sub-page → at SUBPAGE CODE", () => {
    const page = execSync(ready(), sense6(0, 0x05, 0), { dataIn: 255 });
    expect(page.senseString).toBe("05/24/00");
    expect(page.decoded.sks).toBe(0xcd0002);
    const sub = execSync(ready(), sense6(0, 0x08, 0x02), { dataIn: 255 });
    expect(sub.decoded.sks).toBe(0xcf0003);
  });

  it("a CD-ROM returns no block descriptor and the capabilities page", () => {
    const cd = cdrom();
    clearUas(cd);
    const t = execSync(cd, sense10(0, 0x2a, 0), { dataIn: 1024 });
    expect(hex(t.bytes.subarray(0, 12))).toBe("001c000000000000" + "2a140800");
  });
});

describe("MODE SELECT", () => {
  it("turns the write cache off and MODE SENSE shows it", () => {
    const d = ready();
    const page = [
      0x08, 0x12, 0x00, 0, 0xff, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x80, 0x14, 0, 0, 0, 0, 0, 0,
    ];
    const t = execSync(d, select6(list6(page)), { dataOut: list6(page) });
    expect(t.status).toBe(SAM_STAT_GOOD);
    expect(d.writeCacheEnabled).toBe(false);
    expect(execSync(d, sense6(0x08, 0x08, 0), { dataIn: 255 }).bytes[6]).toBe(0);
  });

  it("changing a bit that is not changeable → 05/26/00 pointing at the parameter byte and bit", () => {
    const d = ready();
    const page = [
      0x08, 0x12, 0x05, 0, 0xff, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x80, 0x14, 0, 0, 0, 0, 0, 0,
    ];
    const t = execSync(d, select6(list6(page)), { dataOut: list6(page) });
    expect(t.senseString).toBe("05/26/00");
    expect(t.decoded.sks).toBe(0x880006); // parameter list (C/D 0), BPV, bit 0, byte 6
    expect(d.writeCacheEnabled).toBe(true); // nothing applied
  });

  it("a wrong page length or an unknown page → 05/26/00; a page past the list → 05/1A/00", () => {
    const d = ready();
    const bad = list6([0x08, 0x11, 0x00]);
    expect(execSync(d, select6(bad), { dataOut: bad }).senseString).toBe("05/1A/00");
    const len = list6([0x1c, 0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const t = execSync(d, select6(len), { dataOut: len });
    expect(t.senseString).toBe("05/26/00");
    expect(t.decoded.sks).toBe(0x8f0005);
    const unknown = list6([0x05, 0x02, 0, 0]);
    expect(execSync(d, select6(unknown), { dataOut: unknown }).senseString).toBe("05/26/00");
  });

  it("PF=0 or SP=1 → 05/24/00; length 0 is a no-op", () => {
    const d = ready();
    const l = list6([0x1c, 0x0a, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(execSync(d, select6(l, 0x00), { dataOut: l }).decoded.sks).toBe(0xcc0001);
    expect(execSync(d, select6(l, 0x11), { dataOut: l }).decoded.sks).toBe(0xc80001);
    expect(execSync(d, [0x15, 0x10, 0, 0, 0, 0]).status).toBe(SAM_STAT_GOOD);
  });

  it("a block descriptor must keep the block length", () => {
    const d = ready();
    const l = new Uint8Array(12);
    l[3] = 8;
    l.set([0, 0, 0, 0, 0, 0, 0x10, 0x00], 4); // 4096
    const t = execSync(d, select6(l), { dataOut: l });
    expect(t.senseString).toBe("05/26/00");
    expect(t.decoded.sks).toBe(0x8f0009);
    l.set([0, 0, 0, 0, 0, 0, 0x02, 0x00], 4);
    expect(execSync(d, select6(l), { dataOut: l }).status).toBe(SAM_STAT_GOOD);
  });

  it("a parameter list shorter than the CDB says → 05/24/00 at the length field", () => {
    const d = ready();
    const t = execSync(d, [0x15, 0x10, 0, 0, 40, 0], { dataOut: new Uint8Array(12) });
    expect(t.senseString).toBe("05/24/00");
    expect(t.decoded.sks).toBe(0xcf0004);
  });

  it("SWP in the Control page write-protects the disk (07/27/00) and sets WP", () => {
    const d = ready();
    const l = list6([0x0a, 0x0a, 0x00, 0x10, 0x08, 0, 0, 0, 0xff, 0xff, 0, 0]);
    expect(execSync(d, select6(l), { dataOut: l }).status).toBe(SAM_STAT_GOOD);
    expect(execSync(d, cdb10(0x2a, 0, 1), { dataOut: new Uint8Array(512) }).senseString).toBe("07/27/00");
    expect(execSync(d, sense6(0x08, 0x0a, 0), { dataIn: 255 }).bytes[2]).toBe(0x90);
  });

  it("D_SENSE switches CHECK CONDITION sense to descriptor format", () => {
    const d = ready();
    const l = list6([0x0a, 0x0a, 0x04, 0x10, 0, 0, 0, 0, 0xff, 0xff, 0, 0]);
    expect(execSync(d, select6(l), { dataOut: l }).status).toBe(SAM_STAT_GOOD);
    const t = execSync(d, [0xff]);
    expect(t.decoded.format).toBe("descriptor");
    expect(t.senseString).toBe("05/20/00");
  });
});
