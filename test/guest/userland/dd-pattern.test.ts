import { describe, expect, it } from "vitest";
import { fillPattern, patternMismatch } from "../../../src/guest/userland/pattern.js";

/** dd's pattern:<seed> stream: deterministic, addressed by byte position, word-aligned or not. */
describe("dd's pattern generator", () => {
  const stream = (seed: number, offset: number, n: number) => {
    const b = new Uint8Array(n);
    fillPattern(b, seed, offset);
    return b;
  };

  it("is deterministic and depends on the seed", () => {
    expect(stream(7, 0, 4096)).toEqual(stream(7, 0, 4096));
    expect(stream(7, 0, 4096)).not.toEqual(stream(8, 0, 4096));
    // Not a constant or short cycle: many distinct words.
    const words = new Uint32Array(stream(7, 0, 4096).buffer);
    expect(new Set(words).size).toBeGreaterThan(1000);
  });

  it("gives the same byte at a position however the stream is cut, at aligned and unaligned offsets", () => {
    const whole = stream(2026, 1000, 8192);
    for (const [from, to] of [
      [0, 8192],
      [4, 4100], // word-aligned
      [1, 7], // inside two words
      [3, 4],
      [5, 5], // empty
      [6, 8190], // unaligned start and end
      [2, 4099],
    ] as const) {
      expect([from, to, stream(2026, 1000 + from, to - from)]).toEqual([from, to, whole.subarray(from, to)]);
    }
  });

  it("fills a buffer at any byte offset of its ArrayBuffer (no aligned view possible) the same", () => {
    const backing = new Uint8Array(4099);
    const odd = backing.subarray(3, 3 + 4093);
    fillPattern(odd, 9, 12);
    expect(odd).toEqual(stream(9, 12, 4093));
    fillPattern(odd, 9, 13);
    expect(odd).toEqual(stream(9, 13, 4093));
  });

  it("is little-endian words: byte 4w+i is byte i of word w", () => {
    const b = stream(5, 0, 8);
    const one = stream(5, 4, 1);
    expect(one[0]).toBe(b[4]);
    const dv = new DataView(b.buffer);
    expect(dv.getUint32(4, true) & 0xff).toBe(one[0]);
  });

  it("does not repeat past 16 GiB (word indexes above 32 bits)", () => {
    const at = 2 ** 34; // word 2^32
    expect(stream(1, at, 64)).not.toEqual(stream(1, 0, 64));
    // A fill that crosses the 2^32-word boundary agrees with fills on each side.
    const across = stream(1, at - 6, 12);
    expect(across.subarray(0, 6)).toEqual(stream(1, at - 6, 6));
    expect(across.subarray(6)).toEqual(stream(1, at, 6));
  });

  it("a reader checks what a writer wrote: patternMismatch finds the first wrong byte", () => {
    const b = stream(42, 512, 200_000);
    expect(patternMismatch(b, 42, 512)).toBe(-1);
    expect(patternMismatch(b.subarray(3), 42, 515)).toBe(-1);
    b[123_457] ^= 1;
    expect(patternMismatch(b, 42, 512)).toBe(123_457);
    expect(patternMismatch(b, 43, 512)).toBe(0);
  });
});
