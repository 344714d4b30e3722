import { invalidArgument, outOfRange } from "../xen/errors.js";
import { XEN_PAGE_SIZE } from "../xen/page.js";
import { ringSize } from "../xen/ring-size.js";
import {
  SRING_PAD,
  SRING_PAD_SIZE,
  SRING_PVT,
  SRING_PVT_SIZE,
  SRING_RING,
  W_REQ_EVENT,
  W_REQ_PROD,
  W_RSP_EVENT,
  W_RSP_PROD,
} from "../xen/sring-layout.js";
import type { RingEntry } from "./entry.js";

/**
 * The shared half of a Xen ring (`struct X_sring`): a page-aligned region of one or more 4096-byte
 * pages inside a SharedArrayBuffer (or an ArrayBuffer, for single-threaded use and for loading
 * page images), holding the four shared indices and `size` entries of `entrySize` bytes.
 *
 * Memory ordering. The four indices are read and written only with `Atomics`, which are
 * sequentially consistent: a plain write to an entry followed by an `Atomics.store` of the
 * producer index is visible to any thread whose `Atomics.load` sees that index. That is at least
 * what `xen_wmb()` before a producer update and `xen_rmb()` after a producer read guarantee, and
 * the store-then-load pairs where ring.h uses `xen_mb()` (push-and-check-notify, final check) are
 * ordered by the single total order of SC atomics. Entries themselves are plain memory.
 *
 * Nothing here knows about vscsiif; `entrySize` is the size of the request/response union.
 */
export class SharedRing {
  readonly buffer: ArrayBufferLike;
  /** Start of the region inside `buffer`; a multiple of 4096. */
  readonly byteOffset: number;
  /** Region length: a whole number of pages. */
  readonly byteLength: number;
  /** Size of one entry (the request/response union), in bytes. */
  readonly entrySize: number;
  /** `RING_SIZE`: entries in the ring, a power of two. */
  readonly size: number;
  /** Byte view of the region (offset 0 = the `req_prod` field). */
  readonly bytes: Uint8Array;
  /** Word view of the region, used to copy entries whose size is a multiple of 4. */
  readonly words: Int32Array;
  private readonly idx: Uint32Array;
  private readonly mask: number;
  /**
   * Who owns this view of the ring, for tracing only: the domain and device id its driver sets
   * after attaching (-1: untraced). Notification decisions are recorded under them.
   */
  traceDomid = -1;
  /** See {@link traceDomid}. */
  traceDevid = 0;

  constructor(buffer: ArrayBufferLike, byteOffset: number, byteLength: number, entrySize: number) {
    if (!(buffer instanceof SharedArrayBuffer) && !(buffer instanceof ArrayBuffer)) {
      throw invalidArgument("buffer", "a SharedArrayBuffer or ArrayBuffer", buffer);
    }
    if (!Number.isInteger(byteOffset) || byteOffset < 0 || byteOffset % XEN_PAGE_SIZE !== 0) {
      throw invalidArgument(
        "byteOffset",
        `page-aligned (a non-negative multiple of ${XEN_PAGE_SIZE})`,
        byteOffset,
      );
    }
    if (!Number.isInteger(byteLength) || byteLength <= 0 || byteLength % XEN_PAGE_SIZE !== 0) {
      throw invalidArgument(
        "byteLength",
        `one or more whole pages (a positive multiple of ${XEN_PAGE_SIZE})`,
        byteLength,
      );
    }
    if (byteOffset + byteLength > buffer.byteLength) {
      throw outOfRange(
        "ring region (byteOffset, byteLength) in buffer",
        byteOffset,
        byteLength,
        buffer.byteLength,
      );
    }
    if (!Number.isInteger(entrySize) || entrySize <= 0) {
      throw invalidArgument("entrySize", "a positive integer", entrySize);
    }
    const size = ringSize(byteLength, entrySize);
    if (size === 0) {
      throw invalidArgument(
        "entrySize",
        `small enough for one entry after the ${SRING_RING}-byte header in ${byteLength} bytes`,
        entrySize,
      );
    }
    this.buffer = buffer;
    this.byteOffset = byteOffset;
    this.byteLength = byteLength;
    this.entrySize = entrySize;
    this.size = size;
    this.mask = size - 1;
    this.bytes = new Uint8Array(buffer, byteOffset, byteLength);
    this.words = new Int32Array(buffer, byteOffset, byteLength >> 2);
    this.idx = new Uint32Array(buffer, byteOffset, 4);
  }

  /** `SHARED_RING_INIT`: producers 0, events 1, `pvt` and `__pad` zeroed. Only the frontend does this. */
  init(): void {
    this.bytes.fill(0, SRING_PVT, SRING_PVT + SRING_PVT_SIZE);
    this.bytes.fill(0, SRING_PAD, SRING_PAD + SRING_PAD_SIZE);
    Atomics.store(this.idx, W_REQ_EVENT, 1);
    Atomics.store(this.idx, W_RSP_EVENT, 1);
    Atomics.store(this.idx, W_REQ_PROD, 0);
    Atomics.store(this.idx, W_RSP_PROD, 0);
  }

  get reqProd(): number {
    return Atomics.load(this.idx, W_REQ_PROD);
  }
  set reqProd(v: number) {
    Atomics.store(this.idx, W_REQ_PROD, v);
  }
  get reqEvent(): number {
    return Atomics.load(this.idx, W_REQ_EVENT);
  }
  set reqEvent(v: number) {
    Atomics.store(this.idx, W_REQ_EVENT, v);
  }
  get rspProd(): number {
    return Atomics.load(this.idx, W_RSP_PROD);
  }
  set rspProd(v: number) {
    Atomics.store(this.idx, W_RSP_PROD, v);
  }
  get rspEvent(): number {
    return Atomics.load(this.idx, W_RSP_EVENT);
  }
  set rspEvent(v: number) {
    Atomics.store(this.idx, W_RSP_EVENT, v);
  }

  /**
   * `RING_GET_REQUEST` / `RING_GET_RESPONSE`: byte offset, inside {@link bytes}, of the entry that
   * index `idx` names (`idx & (RING_SIZE - 1)`). Whatever a peer writes to an index, the slot stays
   * inside the ring.
   */
  slotOffset(idx: number): number {
    return SRING_RING + (idx & this.mask) * this.entrySize;
  }

  /** `RING_COPY_REQUEST` / `RING_COPY_RESPONSE`: copy the entry at `idx` once into private memory. */
  copyOut(idx: number, dst: RingEntry): void {
    this.checkEntry(dst);
    const off = this.slotOffset(idx);
    const dw = dst.words;
    if (dw !== null) {
      const src = this.words;
      const base = off >> 2;
      for (let i = 0; i < dw.length; i++) dw[i] = src[base + i]!;
    } else {
      const db = dst.bytes;
      const src = this.bytes;
      for (let i = 0; i < db.length; i++) db[i] = src[off + i]!;
    }
  }

  /** Write a whole entry (all `entrySize` bytes, so no stale byte survives) into the slot at `idx`. */
  copyIn(idx: number, src: RingEntry): void {
    this.checkEntry(src);
    const off = this.slotOffset(idx);
    const sw = src.words;
    if (sw !== null) {
      const dst = this.words;
      const base = off >> 2;
      for (let i = 0; i < sw.length; i++) dst[base + i] = sw[i]!;
    } else {
      const sb = src.bytes;
      const dst = this.bytes;
      for (let i = 0; i < sb.length; i++) dst[off + i] = sb[i]!;
    }
  }

  private checkEntry(e: RingEntry): void {
    if (e.size !== this.entrySize)
      throw invalidArgument("entry.size", `${this.entrySize} (this ring's entry size)`, e.size);
  }
}
