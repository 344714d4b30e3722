import { invalidArgument, outOfRange } from "../xen/errors.js";
import { XEN_PAGE_SIZE } from "../xen/page.js";
import {
  XENSTORE_RING_SIZE,
  XS_RING_CONNECTION,
  XS_RING_ERROR,
  XS_RING_REQ,
  XS_RING_REQ_CONS,
  XS_RING_REQ_PROD,
  XS_RING_RSP,
  XS_RING_RSP_CONS,
  XS_RING_RSP_PROD,
  XS_RING_SERVER_FEATURES,
  xenstoreDomainInterfaceLayout,
} from "../xen/xenstore-layout.js";

/** Word index of a field after `req[]` and `rsp[]`. */
const W = (offset: number): number => (offset - XS_RING_REQ_CONS) >> 2;
/** The u32 words from `req_cons` to the end of the structure. */
const WORDS = (xenstoreDomainInterfaceLayout.size - XS_RING_REQ_CONS) >> 2;

/**
 * A domain's xenstore page (`struct xenstore_domain_interface` at offset 0 of a 4096-byte page)
 * over a SharedArrayBuffer region, or an ArrayBuffer for single-threaded use. The seven index and
 * state words are read and written only with `Atomics` (sequentially consistent), so the data
 * bytes written before a producer index is stored are visible to whoever loads that index — the
 * ordering `xen_wmb()`/`xen_rmb()` give in Xen's ring code. The ring bytes are plain memory.
 *
 * Who writes what (docs/misc/xenstore-ring.txt): the guest writes `req[]`, `req_prod`, `rsp_cons`
 * and sets `connection` to 1 to ask for a reset; the server writes `rsp[]`, `rsp_prod`, `req_cons`,
 * `server_features`, `error`, and sets `connection` back to 0. Either side must treat the other's
 * values as untrusted.
 */
export class XenstoreRingPage {
  readonly buffer: ArrayBufferLike;
  readonly byteOffset: number;
  /** The whole page. */
  readonly bytes: Uint8Array;
  private readonly words: Uint32Array;

  constructor(buffer: ArrayBufferLike, byteOffset = 0) {
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
    if (byteOffset + XEN_PAGE_SIZE > buffer.byteLength) {
      throw outOfRange("xenstore page in buffer", byteOffset, XEN_PAGE_SIZE, buffer.byteLength);
    }
    this.buffer = buffer;
    this.byteOffset = byteOffset;
    this.bytes = new Uint8Array(buffer, byteOffset, XEN_PAGE_SIZE);
    this.words = new Uint32Array(buffer, byteOffset + XS_RING_REQ_CONS, WORDS);
  }

  /** A fresh page in a new SharedArrayBuffer, zeroed as the domain builder leaves it. */
  static allocate(): XenstoreRingPage {
    return new XenstoreRingPage(new SharedArrayBuffer(XEN_PAGE_SIZE));
  }

  get reqCons(): number {
    return Atomics.load(this.words, W(XS_RING_REQ_CONS));
  }
  set reqCons(v: number) {
    Atomics.store(this.words, W(XS_RING_REQ_CONS), v);
  }
  get reqProd(): number {
    return Atomics.load(this.words, W(XS_RING_REQ_PROD));
  }
  set reqProd(v: number) {
    Atomics.store(this.words, W(XS_RING_REQ_PROD), v);
  }
  get rspCons(): number {
    return Atomics.load(this.words, W(XS_RING_RSP_CONS));
  }
  set rspCons(v: number) {
    Atomics.store(this.words, W(XS_RING_RSP_CONS), v);
  }
  get rspProd(): number {
    return Atomics.load(this.words, W(XS_RING_RSP_PROD));
  }
  set rspProd(v: number) {
    Atomics.store(this.words, W(XS_RING_RSP_PROD), v);
  }
  get serverFeatures(): number {
    return Atomics.load(this.words, W(XS_RING_SERVER_FEATURES));
  }
  set serverFeatures(v: number) {
    Atomics.store(this.words, W(XS_RING_SERVER_FEATURES), v);
  }
  get connection(): number {
    return Atomics.load(this.words, W(XS_RING_CONNECTION));
  }
  set connection(v: number) {
    Atomics.store(this.words, W(XS_RING_CONNECTION), v);
  }
  get error(): number {
    return Atomics.load(this.words, W(XS_RING_ERROR));
  }
  set error(v: number) {
    Atomics.store(this.words, W(XS_RING_ERROR), v);
  }

  /** Byte offset in {@link bytes} of request-stream position `idx` (`MASK_XENSTORE_IDX`). */
  static reqOffset(idx: number): number {
    return XS_RING_REQ + (idx & (XENSTORE_RING_SIZE - 1));
  }

  /** Byte offset in {@link bytes} of response-stream position `idx`. */
  static rspOffset(idx: number): number {
    return XS_RING_RSP + (idx & (XENSTORE_RING_SIZE - 1));
  }
}

/**
 * xenstored's `check_indexes`: `prod - cons` (mod 2^32) is at most the ring size. Anything else
 * means the peer corrupted an index.
 */
export function ringIndexesValid(cons: number, prod: number): boolean {
  return (prod - cons) >>> 0 <= XENSTORE_RING_SIZE;
}
