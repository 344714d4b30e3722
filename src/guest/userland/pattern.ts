import { HOST_IS_LITTLE_ENDIAN } from "../../xen/host-endian.js";

/*
 * dd's `if=pattern:<seed>`: a deterministic byte stream addressed by position, so that a
 * writer and a reader (a test, a later dd) agree on the byte at any offset however the stream
 * was cut into records or commands. The stream is a sequence of 32-bit little-endian words;
 * word `w` is murmur3's 32-bit finaliser of `w × golden ratio` xor a mix of the seed (and of
 * `w`'s bits above 32, so the stream does not repeat every 16 GiB). A counter-based generator
 * costs a few multiplies per 4 bytes and needs no state carried between calls.
 */

/** murmur3's fmix32: every input bit affects every output bit. */
function fmix32(h: number): number {
  let x = h;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The per-seed key for words whose index has `hi` as its bits above 32. */
function key(seed: number, hi: number): number {
  return fmix32((seed >>> 0) ^ fmix32(hi + 0x6a09e667));
}

/** Word `lo` (the low 32 bits of its index) of the stream under `k`. */
function word(k: number, lo: number): number {
  return fmix32(Math.imul(lo, 0x9e3779b1) ^ k);
}

/**
 * Fill `buf` with the pattern stream of `seed` from byte `offset` on (`offset` need not be a
 * multiple of 4, nor `buf` aligned). The whole aligned middle is written through a
 * 32-bit typed-array view, one word per step; the host is little-endian (checked by
 * `xen/host-endian`), so the view's words are the stream's little-endian words.
 */
export function fillPattern(buf: Uint8Array, seed: number, offset: number): void {
  if (!HOST_IS_LITTLE_ENDIAN) throw new Error("little-endian host required");
  const n = buf.length;
  if (n === 0) return;
  const w = Math.floor(offset / 4);
  let hi = Math.floor(w / 0x1_0000_0000);
  let lo = w - hi * 0x1_0000_0000;
  let k = key(seed, hi);
  let i = 0;
  // Head: the bytes before the next word boundary of the stream.
  const lead = offset % 4;
  if (lead !== 0) {
    const v = word(k, lo);
    for (let b = lead; b < 4 && i < n; b++, i++) buf[i] = (v >>> (8 * b)) & 0xff;
    lo = (lo + 1) >>> 0;
    if (lo === 0) k = key(seed, ++hi);
  }
  const words = (n - i) >>> 2;
  if (words > 0) {
    if ((buf.byteOffset + i) % 4 === 0) {
      // Int32 values and stores keep V8 on its integer path (a Uint32Array store of a value
      // above 2^31 boxes a double); the bits written are the same.
      const view = new Int32Array(buf.buffer, buf.byteOffset + i, words);
      for (let j = 0; j < words; ) {
        // Runs that do not cross a 2^32-word boundary, so the loop has no key change in it.
        const end = Math.min(words, j + (0x1_0000_0000 - lo));
        let l = lo | 0;
        const kk = k | 0;
        for (; j < end; j++, l = (l + 1) | 0) {
          let x = Math.imul(l, 0x9e3779b1) ^ kk;
          x ^= x >>> 16;
          x = Math.imul(x, 0x85ebca6b);
          x ^= x >>> 13;
          x = Math.imul(x, 0xc2b2ae35);
          view[j] = x ^ (x >>> 16);
        }
        lo = l >>> 0;
        if (lo === 0) k = key(seed, ++hi);
      }
    } else {
      // A view needs 4-byte alignment in its ArrayBuffer: store the same words bytewise.
      for (let j = 0, at = i; j < words; j++, at += 4) {
        const v = word(k, lo);
        buf[at] = v & 0xff;
        buf[at + 1] = (v >>> 8) & 0xff;
        buf[at + 2] = (v >>> 16) & 0xff;
        buf[at + 3] = v >>> 24;
        lo = (lo + 1) >>> 0;
        if (lo === 0) k = key(seed, ++hi);
      }
    }
    i += words * 4;
  }
  // Tail: the first bytes of one more word.
  if (i < n) {
    const v = word(k, lo);
    for (let b = 0; i < n; b++, i++) buf[i] = (v >>> (8 * b)) & 0xff;
  }
}

/**
 * Where `buf` first differs from the pattern stream of `seed` at `offset`, or -1 when it holds
 * exactly that stream: the reader's side of {@link fillPattern}.
 */
export function patternMismatch(buf: Uint8Array, seed: number, offset: number): number {
  const want = new Uint8Array(Math.min(buf.length, 1 << 16));
  for (let at = 0; at < buf.length; at += want.length) {
    const part = want.subarray(0, Math.min(want.length, buf.length - at));
    fillPattern(part, seed, offset + at);
    for (let i = 0; i < part.length; i++) if (buf[at + i] !== part[i]) return at + i;
  }
  return -1;
}
