import { describe, expect, it } from "vitest";
import { BackRing, FrontRing, RingEntry, rd32, ringSize, SharedRing } from "../../src/ring/index.js";
import { PvscsiError } from "../../src/xen/errors.js";

describe("ring size (__RING_SIZE)", () => {
  it("rounds the entry count down to a power of two", () => {
    expect([0, 1, 2, 3, 5, 129, 0x80000001, 0xffffffff].map(rd32)).toEqual([
      0, 1, 2, 2, 4, 128, 0x80000000, 0x80000000,
    ]);
  });

  it("gives 16, 32, 64 and 128 vscsiif entries for 1, 2, 4 and 8 pages", () => {
    expect([1, 2, 4, 8].map((p) => ringSize(p * 4096, 252))).toEqual([16, 32, 64, 128]);
  });

  it("is generic over the entry size (blkif 112, netif tx 12)", () => {
    expect(ringSize(4096, 112)).toBe(32);
    expect(ringSize(4096, 12)).toBe(256);
  });
});

describe("constructing a ring over bad memory is a clear error naming the argument", () => {
  const buf = new SharedArrayBuffer(3 * 4096);
  const cases: Array<[string, () => unknown, RegExp]> = [
    [
      "not page-aligned",
      () => new SharedRing(buf, 100, 4096, 252),
      /byteOffset must be page-aligned.*got 100/,
    ],
    ["negative offset", () => new SharedRing(buf, -4096, 4096, 252), /byteOffset/],
    ["partial page", () => new SharedRing(buf, 0, 1000, 252), /byteLength must be one or more whole pages/],
    ["outside the buffer", () => new SharedRing(buf, 2 * 4096, 2 * 4096, 252), /outside \[0, 12288\)/],
    [
      "entry too big for one page",
      () => new SharedRing(buf, 0, 4096, 4096),
      /entrySize must be small enough for one entry/,
    ],
    ["entry size zero", () => new SharedRing(buf, 0, 4096, 0), /entrySize must be a positive integer/],
    [
      "not a buffer",
      () => new SharedRing({} as ArrayBuffer, 0, 4096, 252),
      /buffer must be a SharedArrayBuffer/,
    ],
  ];
  for (const [what, make, message] of cases) {
    it(what, () => {
      expect(make).toThrow(PvscsiError);
      expect(make).toThrow(message);
    });
  }

  it("copying with an entry of the wrong size is refused", () => {
    const ring = new SharedRing(buf, 4096, 4096, 252);
    expect(() => BackRing.init(ring).copyRequest(0, new RingEntry(12))).toThrow(/entry.size must be 252/);
  });
});

describe("the ring lives only in its region", () => {
  it("init touches only the header, and a ring in page 1 never writes pages 0 or 2", () => {
    const buf = new SharedArrayBuffer(3 * 4096);
    const all = new Uint8Array(buf);
    all.fill(0xee);
    const ring = new SharedRing(buf, 4096, 4096, 252);
    const front = FrontRing.init(ring);
    const e = new RingEntry(252);
    e.bytes.fill(0x11);
    // Hostile indices far beyond the ring still land in a masked slot.
    for (let i = 0; i < 40; i++) {
      front.putRequest(e);
      front.reqProdPvt = (front.reqProdPvt + 0x7fffffff) >>> 0;
    }
    expect(all.subarray(0, 4096).every((b) => b === 0xee)).toBe(true);
    expect(all.subarray(8192).every((b) => b === 0xee)).toBe(true);
    // SHARED_RING_INIT: producers 0, events 1, pvt and __pad zero; entries untouched by init.
    expect(Array.from(new Uint32Array(buf, 4096, 4))).toEqual([0, 1, 0, 1]);
    expect(all.subarray(4096 + 16, 4096 + 64).every((b) => b === 0)).toBe(true);
  });

  it("a ring may span several pages at a page-aligned offset", () => {
    const buf = new SharedArrayBuffer(10 * 4096);
    const ring = new SharedRing(buf, 2 * 4096, 8 * 4096, 252);
    expect(ring.size).toBe(128);
    expect(ring.slotOffset(127) + 252).toBeLessThanOrEqual(8 * 4096);
    expect(ring.slotOffset(128)).toBe(ring.slotOffset(0));
  });
});
