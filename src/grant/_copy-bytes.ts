import type { DomainView } from "../xen/domain-view.js";
import { XEN_PAGE_SHIFT, XEN_PAGE_SIZE } from "../xen/page.js";

/**
 * Copy `len` bytes from frame `sFrame` of `s` at `sOff` to frame `dFrame` of `d` at `dOff`,
 * without creating a view per copy (a `subarray` per segment would allocate on the hot path). A
 * whole page goes through the engine's memcpy (`set` from a cached frame view); other word-aligned
 * copies move 32-bit words; the rest, bytes. Ranges are the caller's to check. Overlap within one
 * buffer copies forwards, as a page-bounded memcpy may (GNTTABOP_copy promises nothing for it).
 */
export function copyBytes(
  s: DomainView,
  sFrame: number,
  sOff: number,
  d: DomainView,
  dFrame: number,
  dOff: number,
  len: number,
): void {
  const src = (sFrame << XEN_PAGE_SHIFT) + sOff;
  const dst = (dFrame << XEN_PAGE_SHIFT) + dOff;
  if (len === XEN_PAGE_SIZE) {
    d.memory.set(s.frameView(sFrame), dst);
    return;
  }
  if (((sOff | dOff | len) & 3) === 0) {
    const sw = s.memoryWords;
    const dw = d.memoryWords;
    const a = src >>> 2;
    const b = dst >>> 2;
    const n = len >>> 2;
    for (let i = 0; i < n; i++) dw[b + i] = sw[a + i]!;
    return;
  }
  const sb = s.memory;
  const db = d.memory;
  for (let i = 0; i < len; i++) db[dst + i] = sb[src + i]!;
}
