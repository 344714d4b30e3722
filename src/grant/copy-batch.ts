import { DOMID_SELF } from "../xen/domid.js";
import { invalidArgument } from "../xen/errors.js";
import { GNTCOPY_dest_gref, GNTCOPY_source_gref, GNTST_okay } from "../xen/grant-constants.js";

/**
 * A batch of `GNTTABOP_copy` operations (`struct gnttab_copy[]`), held as one typed array per
 * field so a backend can allocate it once and refill it for every request. Segment `i`'s fields
 * have Xen's names and widths: `source`/`dest` each name a domain and either a grant ref of that
 * domain (flag `GNTCOPY_source_gref` / `GNTCOPY_dest_gref`) or, with `DOMID_SELF`, a frame of the
 * caller's own memory; then an offset inside the page, and a length. `GrantMapper.copy` fills
 * `status[i]` with a `GNTST_*` per segment.
 */
export class GrantCopyBatch {
  readonly capacity: number;
  /** Segments in use, `[0, count)`. */
  count = 0;
  /** `GNTCOPY_*`. */
  readonly flags: Uint16Array;
  readonly sourceDomid: Uint16Array;
  /** `source.u.ref` with `GNTCOPY_source_gref`, else `source.u.gmfn`. */
  readonly sourcePtr: Uint32Array;
  readonly sourceOffset: Uint16Array;
  readonly destDomid: Uint16Array;
  readonly destPtr: Uint32Array;
  readonly destOffset: Uint16Array;
  readonly len: Uint16Array;
  /** Out: `GNTST_*` per segment. */
  readonly status: Int16Array;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity <= 0) {
      throw invalidArgument("capacity", "a positive integer", capacity);
    }
    this.capacity = capacity;
    this.flags = new Uint16Array(capacity);
    this.sourceDomid = new Uint16Array(capacity);
    this.sourcePtr = new Uint32Array(capacity);
    this.sourceOffset = new Uint16Array(capacity);
    this.destDomid = new Uint16Array(capacity);
    this.destPtr = new Uint32Array(capacity);
    this.destOffset = new Uint16Array(capacity);
    this.len = new Uint16Array(capacity);
    this.status = new Int16Array(capacity);
  }

  /** Empty the batch (the arrays keep their contents until overwritten). */
  clear(): void {
    this.count = 0;
  }

  /**
   * Append one `struct gnttab_copy` and return its index. Values must fit their C fields
   * (`domid_t`, `grant_ref_t`/`xen_pfn_t` as u32, u16 offsets and length); anything else is a bug
   * in the caller and throws. A value that fits but is wrong (an offset past the page, a bad ref)
   * is the hypervisor's to refuse, with a status.
   */
  push(
    flags: number,
    sourceDomid: number,
    sourcePtr: number,
    sourceOffset: number,
    destDomid: number,
    destPtr: number,
    destOffset: number,
    len: number,
  ): number {
    if (this.count === this.capacity) {
      throw invalidArgument("GrantCopyBatch segment count", `at most ${this.capacity}`, this.count + 1);
    }
    u16("flags", flags);
    u16("source.domid", sourceDomid);
    u32("source.u", sourcePtr);
    u16("source.offset", sourceOffset);
    u16("dest.domid", destDomid);
    u32("dest.u", destPtr);
    u16("dest.offset", destOffset);
    u16("len", len);
    const i = this.count++;
    this.flags[i] = flags;
    this.sourceDomid[i] = sourceDomid;
    this.sourcePtr[i] = sourcePtr;
    this.sourceOffset[i] = sourceOffset;
    this.destDomid[i] = destDomid;
    this.destPtr[i] = destPtr;
    this.destOffset[i] = destOffset;
    this.len[i] = len;
    this.status[i] = GNTST_okay;
    return i;
  }

  /** Copy `len` bytes from `granter`'s grant `ref` at `offset` into frame `frame` of one's own memory. */
  pushFromGrant(
    granter: number,
    ref: number,
    offset: number,
    frame: number,
    frameOffset: number,
    len: number,
  ): number {
    return this.push(GNTCOPY_source_gref, granter, ref, offset, DOMID_SELF, frame, frameOffset, len);
  }

  /** Copy `len` bytes from frame `frame` of one's own memory into `granter`'s grant `ref` at `offset`. */
  pushToGrant(
    frame: number,
    frameOffset: number,
    granter: number,
    ref: number,
    offset: number,
    len: number,
  ): number {
    return this.push(GNTCOPY_dest_gref, DOMID_SELF, frame, frameOffset, granter, ref, offset, len);
  }
}

function u16(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw invalidArgument(name, "a uint16_t", v);
}

function u32(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw invalidArgument(name, "a uint32_t", v);
}
