import { TraceKind } from "../trace/trace-buffer.js";
import { tracer } from "../trace/tracer.js";
import { claimBit, releaseBit, testBit } from "../xen/bitmap.js";
import type { DomainView } from "../xen/domain-view.js";
import { invalidArgument, invalidState } from "../xen/errors.js";
import {
  GNTST_no_space,
  GNTTAB_NR_RESERVED_ENTRIES,
  GTF_permit_access,
  GTF_reading,
  GTF_readonly,
  GTF_writing,
} from "../xen/grant-constants.js";
import { GE_DOMID_SHIFT, GE_W_COMBO, GE_W_FRAME, GRANT_ENTRY_WORDS } from "../xen/grant-layout.js";

const FLAG_BITS = (1 << GE_DOMID_SHIFT) - 1;

/**
 * The granting side: a domain's own grant table, driven as Linux's `drivers/xen/grant-table.c`
 * drives it. {@link grantAccess} claims a free ref and publishes an entry (`domid`, `frame`, then
 * `flags`); {@link endAccess} revokes it with a compare-and-swap that fails while a peer has it
 * mapped, and only then returns the ref for reuse.
 *
 * Refs 0-7 are reserved (`GNTTAB_NR_RESERVED_ENTRIES`): never handed out by {@link grantAccess},
 * and written only by {@link grantAccessRef} (the toolstack puts the xenstore ring page at ref 1).
 *
 * Everything here acts on this domain's own table; nothing allocates.
 */
export class GrantTable {
  readonly view: DomainView;
  private readonly gt: Int32Array;
  private readonly kernel: Int32Array;
  private readonly refBase: number;
  private readonly refWords: number;
  /** Word of the ref bitmap to start the next scan at; lowered on free so refs are reused soon. */
  private hint = 0;

  constructor(view: DomainView) {
    this.view = view;
    this.gt = view.grantTable;
    this.kernel = view.kernel;
    this.refBase = view.layout.refBitmap;
    this.refWords = view.layout.refBitmapWords;
  }

  /** Entries in the table. */
  get entries(): number {
    return this.view.grantEntries;
  }

  /**
   * `gnttab_grant_foreign_access`: let `peerDomid` map `frame` of this domain's memory, read-only
   * or writable. Returns the ref, or `GNTST_no_space` when every ref is in use. The frame is not
   * checked against this domain's memory, as Linux does not check it: a grant of a bogus frame is
   * the mapper's to refuse (`GNTST_bad_page`), and tests use that.
   */
  grantAccess(peerDomid: number, frame: number, readonly: boolean): number {
    checkDomid(peerDomid);
    checkFrame(frame);
    const ref = claimBit(this.kernel, this.refBase, this.refWords, this.hint);
    if (ref < 0) return GNTST_no_space;
    this.hint = ref >>> 5;
    this.publish(ref, peerDomid, frame, readonly);
    const t = tracer;
    if (t !== null) t.record(TraceKind.GrantAccess, this.view.domid, ref, peerDomid, frame, readonly ? 1 : 0);
    return ref;
  }

  /**
   * `gnttab_grant_foreign_access_ref` for a reserved ref (0-7): how the toolstack or the guest
   * fills `GNTTAB_RESERVED_XENSTORE` / `GNTTAB_RESERVED_CONSOLE`. Other refs come from
   * {@link grantAccess} only, so the two can never hand out the same ref.
   */
  grantAccessRef(ref: number, peerDomid: number, frame: number, readonly: boolean): void {
    if (!Number.isInteger(ref) || ref < 0 || ref >= GNTTAB_NR_RESERVED_ENTRIES) {
      throw invalidArgument("ref", `a reserved ref in [0, ${GNTTAB_NR_RESERVED_ENTRIES - 1}]`, ref);
    }
    checkDomid(peerDomid);
    checkFrame(frame);
    const flags = Atomics.load(this.gt, ref * GRANT_ENTRY_WORDS + GE_W_COMBO) & FLAG_BITS;
    if ((flags & (GTF_reading | GTF_writing)) !== 0) {
      throw invalidState(`dom${this.view.domid} grant ref ${ref}`, "still mapped; end access first");
    }
    this.publish(ref, peerDomid, frame, readonly);
  }

  /**
   * `gnttab_try_end_foreign_access`: revoke the grant unless it is mapped or being copied
   * (`GTF_reading` / `GTF_writing`), and free the ref. Returns false, changing nothing, while the
   * peer still has it mapped: the caller must not reuse the page (XSA-396). Ending a ref this
   * domain does not hold is a bug in the caller and throws.
   */
  endAccess(ref: number): boolean {
    this.checkRef(ref);
    const reserved = ref < GNTTAB_NR_RESERVED_ENTRIES;
    if (!reserved && !testBit(this.kernel, this.refBase, ref)) {
      throw invalidState(`dom${this.view.domid} grant ref ${ref}`, "ended but not granted");
    }
    const i = ref * GRANT_ENTRY_WORDS + GE_W_COMBO;
    let combo = Atomics.load(this.gt, i);
    for (;;) {
      if ((combo & (GTF_reading | GTF_writing)) !== 0) {
        const t = tracer;
        if (t !== null) t.record(TraceKind.GrantEnd, this.view.domid, ref, 0);
        return false;
      }
      // flags -> 0, domid kept: Linux's cmpxchg of the 16-bit flags, done on the 32-bit pair so
      // every access to the pair has the same size (see `GE_W_COMBO`).
      const prev = Atomics.compareExchange(this.gt, i, combo, combo & ~FLAG_BITS);
      if (prev === combo) break;
      combo = prev;
    }
    if (!reserved) {
      releaseBit(this.kernel, this.refBase, ref);
      if (ref >>> 5 < this.hint) this.hint = ref >>> 5;
    }
    const t = tracer;
    if (t !== null) t.record(TraceKind.GrantEnd, this.view.domid, ref, 1);
    return true;
  }

  /** `flags` of entry `ref` as the table holds it now. */
  flags(ref: number): number {
    this.checkRef(ref);
    return Atomics.load(this.gt, ref * GRANT_ENTRY_WORDS + GE_W_COMBO) & FLAG_BITS;
  }

  /** `domid` of entry `ref`. */
  domid(ref: number): number {
    this.checkRef(ref);
    return Atomics.load(this.gt, ref * GRANT_ENTRY_WORDS + GE_W_COMBO) >>> GE_DOMID_SHIFT;
  }

  /** `frame` of entry `ref`. */
  frame(ref: number): number {
    this.checkRef(ref);
    return Atomics.load(this.gt, ref * GRANT_ENTRY_WORDS + GE_W_FRAME) >>> 0;
  }

  /**
   * `gnttab_query_foreign_access`: whether a peer has the grant mapped or is copying through it
   * right now. Racy by nature (XSA-396); use the result of {@link endAccess} to decide anything.
   */
  inUse(ref: number): boolean {
    return (this.flags(ref) & (GTF_reading | GTF_writing)) !== 0;
  }

  /** Whether `ref` is currently handed out by {@link grantAccess} (reserved refs: never). */
  isAllocated(ref: number): boolean {
    this.checkRef(ref);
    return ref >= GNTTAB_NR_RESERVED_ENTRIES && testBit(this.kernel, this.refBase, ref);
  }

  /**
   * Write an entry raw, as a misbehaving guest can: any flags, any domid, any frame, no
   * protocol. For tests of how peers cope. Values are stored modulo their field widths.
   */
  writeEntry(ref: number, flags: number, domid: number, frame: number): void {
    this.checkRef(ref);
    Atomics.store(this.gt, ref * GRANT_ENTRY_WORDS + GE_W_FRAME, frame | 0);
    Atomics.store(
      this.gt,
      ref * GRANT_ENTRY_WORDS + GE_W_COMBO,
      (flags & FLAG_BITS) | (domid << GE_DOMID_SHIFT),
    );
  }

  /** Publish an entry the way grant_table.h prescribes: `domid` and `frame` first, `flags` last. */
  private publish(ref: number, domid: number, frame: number, readonly: boolean): void {
    const base = ref * GRANT_ENTRY_WORDS;
    // A plain store: the sequentially consistent store of the flags below publishes it, and a
    // mapper reads the frame only after its compare-and-swap on the flags saw them.
    this.gt[base + GE_W_FRAME] = frame | 0;
    // domid and flags share a word: one SC store publishes both, after the frame.
    const flags = GTF_permit_access | (readonly ? GTF_readonly : 0);
    Atomics.store(this.gt, base + GE_W_COMBO, flags | (domid << GE_DOMID_SHIFT));
  }

  private checkRef(ref: number): void {
    if (!Number.isInteger(ref) || ref < 0 || ref >= this.view.grantEntries) {
      throw invalidArgument("ref", `an integer in [0, ${this.view.grantEntries - 1}]`, ref);
    }
  }
}

function checkDomid(domid: number): void {
  if (!Number.isInteger(domid) || domid < 0 || domid > 0xffff) {
    throw invalidArgument("domid", "a domid_t (an integer in [0, 65535])", domid);
  }
}

function checkFrame(frame: number): void {
  if (!Number.isInteger(frame) || frame < 0 || frame > 0xffffffff) {
    throw invalidArgument("frame", "a uint32_t frame number", frame);
  }
}
