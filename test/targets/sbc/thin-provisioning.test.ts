import { describe, expect, it } from "vitest";
import { SAM_STAT_GOOD } from "../../../src/scsi/device.js";
import { RAM_CHUNK_SIZE, RamStore } from "../../../src/targets/sbc/ram-store.js";
import { hex, ramDisk } from "../_support/devices.js";
import { cdb10, cdb16, clearUas, execSync } from "../_support/task.js";

const BLOCKS_PER_CHUNK = RAM_CHUNK_SIZE / 512;

function thin(blocks = 4 * BLOCKS_PER_CHUNK) {
  const d = ramDisk(blocks, 512, { thin: true });
  clearUas(d);
  return d;
}

function unmapList(ranges: Array<[number, number]>): Uint8Array {
  const l = new Uint8Array(8 + 16 * ranges.length);
  const len = l.length - 2;
  l[0] = len >>> 8;
  l[1] = len & 0xff;
  l[3] = 16 * ranges.length;
  ranges.forEach(([lba, n], i) => {
    const at = 8 + 16 * i;
    l[at + 4] = (lba >>> 24) & 0xff;
    l[at + 5] = (lba >>> 16) & 0xff;
    l[at + 6] = (lba >>> 8) & 0xff;
    l[at + 7] = lba & 0xff;
    l[at + 8] = (n >>> 24) & 0xff;
    l[at + 9] = (n >>> 16) & 0xff;
    l[at + 10] = (n >>> 8) & 0xff;
    l[at + 11] = n & 0xff;
  });
  return l;
}

const unmap = (l: Uint8Array) => [0x42, 0, 0, 0, 0, 0, 0, l.length >>> 8, l.length & 0xff, 0];
const getLbaStatus = (lba: number, alloc = 256) => {
  const c = cdb16(0x9e, lba, alloc);
  c[1] = 0x12;
  return c;
};

describe("thin provisioning", () => {
  it("READ CAPACITY(16) reports LBPME and LBPRZ", () => {
    const t = execSync(thin(), [0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0], { dataIn: 32 });
    expect(hex(t.bytes.subarray(0, 16))).toBe("0000000000001fff00000200" + "0000c000");
  });

  it("GET LBA STATUS: deallocated until written, mapped after, deallocated again after UNMAP", () => {
    const d = thin();
    expect(hex(execSync(d, getLbaStatus(0), { dataIn: 256 }).bytes)).toBe(
      "0000001400000000" + "00000000000000000000200001000000",
    );
    execSync(d, cdb10(0x2a, BLOCKS_PER_CHUNK + 5, 1), { dataOut: new Uint8Array(512).fill(1) });
    const st = execSync(d, getLbaStatus(0), { dataIn: 256 }).bytes;
    expect(hex(st.subarray(0, 4))).toBe("00000034");
    expect(hex(st.subarray(8, 24))).toBe("00000000000000000000080001000000");
    expect(hex(st.subarray(24, 40))).toBe("00000000000008000000080000000000");
    expect(hex(st.subarray(40, 56))).toBe("00000000000010000000100001000000");
    const l = unmapList([[BLOCKS_PER_CHUNK, BLOCKS_PER_CHUNK]]);
    expect(execSync(d, unmap(l), { dataOut: l }).status).toBe(SAM_STAT_GOOD);
    expect(hex(execSync(d, getLbaStatus(0), { dataIn: 256 }).bytes.subarray(8, 24))).toBe(
      "00000000000000000000200001000000",
    );
    expect((d.store as RamStore).allocatedBytes).toBe(0);
  });

  it("UNMAP of part of a chunk zeroes it; the data reads back as zeros (LBPRZ)", () => {
    const d = thin();
    execSync(d, cdb10(0x2a, 0, 4), { dataOut: new Uint8Array(2048).fill(7) });
    const l = unmapList([
      [1, 1],
      [3, 1],
    ]);
    expect(execSync(d, unmap(l), { dataOut: l }).status).toBe(SAM_STAT_GOOD);
    const r = execSync(d, cdb10(0x28, 0, 4), { dataIn: 2048 }).bytes;
    expect([r[0], r[512], r[1024], r[1536]]).toEqual([7, 0, 7, 0]);
  });

  it("UNMAP errors: out of range 05/21/00, bad lengths 05/1A/00, ANCHOR 05/24/00; none on a thick disk", () => {
    const d = thin();
    const far = unmapList([[d.blocks - 1, 2]]);
    expect(execSync(d, unmap(far), { dataOut: far }).senseString).toBe("05/21/00");
    const bad = unmapList([[0, 1]]);
    bad[1] = 99;
    expect(execSync(d, unmap(bad), { dataOut: bad }).senseString).toBe("05/1A/00");
    expect(execSync(d, [0x42, 0, 0, 0, 0, 0, 0, 0, 4, 0], { dataOut: new Uint8Array(4) }).senseString).toBe(
      "05/1A/00",
    );
    const ok = unmapList([[0, 1]]);
    expect(execSync(d, [0x42, 1, 0, 0, 0, 0, 0, 0, ok.length, 0], { dataOut: ok }).senseString).toBe(
      "05/24/00",
    );
    const thick = ramDisk();
    clearUas(thick);
    expect(execSync(thick, unmap(ok), { dataOut: ok }).senseString).toBe("05/20/00");
  });

  it("WRITE SAME(10/16) fills blocks; with UNMAP and zeros it deallocates; bad bits are refused, TL 0 runs to the end", () => {
    const d = thin();
    const pat = new Uint8Array(512).fill(0xee);
    expect(execSync(d, [0x41, 0, 0, 0, 0, 10, 0, 0, 3, 0], { dataOut: pat }).status).toBe(SAM_STAT_GOOD);
    const r = execSync(d, cdb10(0x28, 9, 5), { dataIn: 2560 }).bytes;
    expect([r[0], r[512], r[1024], r[1536], r[2048]]).toEqual([0, 0xee, 0xee, 0xee, 0]);
    const c = cdb16(0x93, 0, BLOCKS_PER_CHUNK, 0x08);
    expect(execSync(d, c, { dataOut: new Uint8Array(512) }).status).toBe(SAM_STAT_GOOD);
    expect((d.store as RamStore).allocatedBytes).toBe(0);
    // WSNZ = 0: TL 0 writes the pattern from the LBA to the last one.
    expect(execSync(d, [0x41, 0, 0, 0, 0x1f, 0xfe, 0, 0, 0, 0], { dataOut: pat }).status).toBe(SAM_STAT_GOOD);
    expect(execSync(d, cdb10(0x28, 0x1ffe, 2), { dataIn: 1024 }).bytes).toEqual(
      new Uint8Array(1024).fill(0xee),
    );
    expect(execSync(d, [0x41, 0x10, 0, 0, 0, 0, 0, 0, 1, 0], { dataOut: pat }).senseString).toBe("05/24/00");
    expect(execSync(d, [0x41, 0x02, 0, 0, 0, 0, 0, 0, 1, 0], { dataOut: pat }).senseString).toBe("05/24/00");
    const thick = ramDisk();
    clearUas(thick);
    expect(execSync(thick, [0x41, 0x08, 0, 0, 0, 0, 0, 0, 1, 0], { dataOut: pat }).senseString).toBe(
      "05/24/00",
    );
    expect(
      execSync(thick, [0x41, 0, 0, 0, 0, 0, 0, 0, 1, 0], { dataOut: new Uint8Array(100) }).senseString,
    ).toBe("05/0E/03");
  });

  it("GET LBA STATUS past the end → 05/21/00 (even at 2^64-1)", () => {
    const d = thin();
    expect(execSync(d, getLbaStatus(d.blocks), { dataIn: 256 }).senseString).toBe("05/21/00");
    const max = getLbaStatus(0);
    max.fill(0xff, 2, 10);
    expect(execSync(d, max, { dataIn: 256 }).senseString).toBe("05/21/00");
  });

  it("a RAM store of 1 TiB costs nothing until written", () => {
    expect(new RamStore(2 ** 40).allocatedBytes).toBe(0);
  });
});

describe("UNMAP residual", () => {
  it("GOOD with residual 0: the whole parameter list was consumed (SBC-3 §5.28)", () => {
    const d = thin();
    const l = unmapList([[0, 8]]);
    expect(l.length).toBe(24);
    const t = execSync(d, unmap(l), { dataOut: l });
    expect([t.status, t.transferred]).toEqual([SAM_STAT_GOOD, 24]);
    // A data-out buffer longer than the list: only the list is consumed.
    const longer = new Uint8Array(64);
    longer.set(l);
    expect(execSync(d, unmap(l), { dataOut: longer }).transferred).toBe(24);
  });
});
