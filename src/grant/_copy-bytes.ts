/**
 * Copy `len` bytes between two domains' memories without creating a view (a `subarray` per copy
 * would allocate on the hot path). Word-aligned copies move 32-bit words; others, bytes. Ranges
 * are the caller's to check. Overlap within one buffer copies forwards, as a page-bounded memcpy
 * may (Xen's GNTTABOP_copy makes no promise for overlapping segments).
 */
export function copyBytes(
  src: Uint8Array,
  srcWords: Int32Array,
  srcOff: number,
  dst: Uint8Array,
  dstWords: Int32Array,
  dstOff: number,
  len: number,
): void {
  if (((srcOff | dstOff | len) & 3) === 0) {
    const s = srcOff >>> 2;
    const d = dstOff >>> 2;
    const n = len >>> 2;
    for (let i = 0; i < n; i++) dstWords[d + i] = srcWords[s + i]!;
    return;
  }
  for (let i = 0; i < len; i++) dst[dstOff + i] = src[srcOff + i]!;
}
