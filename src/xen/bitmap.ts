/**
 * Allocation bitmaps in shared memory (bit set: in use), claimed with compare-and-swap so that
 * several threads acting as the same domain can allocate at once without a lock. Bits past the
 * end and bits never to hand out are set once at creation, so the scan needs no masking.
 */

/**
 * Claim the lowest clear bit at or after word `fromWord` of `a[base, base + words)`, wrapping
 * around once. Returns its index, or -1 when every bit is set.
 */
export function claimBit(a: Int32Array, base: number, words: number, fromWord: number): number {
  let w = fromWord < words ? fromWord : 0;
  for (let scanned = 0; scanned < words; scanned++) {
    let cur = Atomics.load(a, base + w);
    while (cur !== -1) {
      const free = ~cur & (cur + 1); // lowest clear bit of cur
      const prev = Atomics.compareExchange(a, base + w, cur, cur | free);
      if (prev === cur) return (w << 5) + (31 - Math.clz32(free));
      cur = prev;
    }
    w = w + 1 === words ? 0 : w + 1;
  }
  return -1;
}

/** Clear bit `index`; returns whether it was set. */
export function releaseBit(a: Int32Array, base: number, index: number): boolean {
  const bit = 1 << (index & 31);
  return (Atomics.and(a, base + (index >>> 5), ~bit) & bit) !== 0;
}

/** Whether bit `index` is set. */
export function testBit(a: Int32Array, base: number, index: number): boolean {
  return (Atomics.load(a, base + (index >>> 5)) & (1 << (index & 31))) !== 0;
}

/** Set bits `[from, to)` (creation-time setup: reserved entries and the tail past the end). */
export function setBits(a: Int32Array, base: number, from: number, to: number): void {
  for (let i = from; i < to; i++) Atomics.or(a, base + (i >>> 5), 1 << (i & 31));
}
