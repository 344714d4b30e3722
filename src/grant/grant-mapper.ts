import createDebug from "debug";
import { TraceKind } from "../trace/trace-buffer.js";
import { tracer } from "../trace/tracer.js";
import type { DomainView } from "../xen/domain-view.js";
import { DOMID_SELF } from "../xen/domid.js";
import { hypercallFailed, invalidArgument } from "../xen/errors.js";
import {
  GNTCOPY_dest_gref,
  GNTCOPY_source_gref,
  GNTST_bad_copy_arg,
  GNTST_bad_domain,
  GNTST_bad_gntref,
  GNTST_bad_handle,
  GNTST_bad_page,
  GNTST_no_device_space,
  GNTST_okay,
  GNTST_permission_denied,
  type GrantStatus,
  grantStatusMessage,
  grantStatusName,
} from "../xen/grant-constants.js";
import {
  MAPTRACK_ENTRY_WORDS,
  MT_BUSY,
  MT_FREE,
  MT_READONLY,
  MT_W_DOMID,
  MT_W_FRAME,
  MT_W_REF,
  MT_W_STATE,
  MT_WRITABLE,
} from "../xen/grant-layout.js";
import { XEN_PAGE_SHIFT, XEN_PAGE_SIZE } from "../xen/page.js";
import type { PeerTable } from "../xen/peer-table.js";
import { copyBytes } from "./_copy-bytes.js";
import { lastPinFailure, pinGrant, unpinGrant } from "./active.js";
import type { GrantCopyBatch } from "./copy-batch.js";

/** Full lock spins a copy makes to drop its pin before it decides the holder is dead. */
const RELEASE_TRIES = 16;

/** What {@link GrantMapper.mapView} returns: a mapped page, or why it could not be mapped. */
export type GrantMapping =
  | {
      readonly ok: true;
      readonly handle: number;
      /** Exactly the granted frame: 4096 bytes of the granter's memory. */
      readonly bytes: Uint8Array;
      readonly readonly: boolean;
    }
  | { readonly ok: false; readonly status: GrantStatus; readonly message: string };

/**
 * The mapping side: what a backend does with other domains' grants (`GNTTABOP_map_grant_ref`,
 * `unmap_grant_ref`, `copy`), acting as this thread's domain. Every value a guest controls — the
 * granting domain, the ref, the grant entry itself, offsets and lengths — is checked, and a bad
 * one yields the `GNTST_*` status Xen gives, never an exception and never an access outside the
 * granted frame.
 *
 * Hot path: {@link map} returns a numeric handle (or a negative status) and allocates nothing;
 * the page is at {@link mappedOffset} inside {@link mappedMemory}, the granter's whole memory, so
 * no view is created per map. A read-only mapping ({@link isReadonly}) must not be written: the
 * memory object cannot enforce that, so the layers above (scsiback's data buffers) do.
 * {@link mapView} is the allocating convenience for tests and tools.
 */
const debug = createDebug("pvscsi:grant");

export class GrantMapper {
  /** This thread's domain: the mapper. */
  readonly self: DomainView;
  /** Why the last failed operation failed: a constant string, for logs and error messages. */
  lastError = "";
  private readonly peers: PeerTable;
  private readonly mt: Int32Array;
  private readonly mtBase: number;
  private readonly mtEntries: number;
  /** Granter view per handle made by this thread, so accessors need no lookup. */
  private readonly handleViews: Array<DomainView | null>;
  private cursor = 0;
  /** The frame of the last successful {@link mapOne}. */
  private lastFrame = 0;

  constructor(peers: PeerTable) {
    this.self = peers.self;
    this.peers = peers;
    this.mt = peers.self.xen;
    this.mtBase = peers.self.layout.maptrack;
    this.mtEntries = peers.self.maptrackEntries;
    this.handleViews = new Array<DomainView | null>(this.mtEntries).fill(null);
  }

  /**
   * `GNTTABOP_map_grant_ref`: map `ref` of domain `granter`, read-only or writable. Returns a
   * handle (>= 0), or:
   * - `GNTST_bad_domain`: `granter` is not a live domain this thread knows;
   * - `GNTST_no_device_space`: this domain has `maptrackEntries` mappings already;
   * - `GNTST_bad_gntref`: `ref` is outside the granter's table;
   * - `GNTST_general_error`: the entry does not grant access to this domain, or is read-only and
   *   a writable map was asked for, or is mapped by another domain, or kept changing (5 tries);
   * - `GNTST_bad_page`: the granted frame is outside the granter's memory;
   * - `GNTST_eagain`: another thread held the entry too long; try again.
   */
  map(granter: number, ref: number, readonly: boolean): number {
    const g = this.peers.get(granter);
    if (g === null)
      return this.fail(GNTST_bad_domain, "the granting domain is unknown to this thread or gone");
    return this.mapOne(g, ref, readonly);
  }

  /**
   * `GNTTABOP_map_grant_ref` with a count: map `refs[from, from + count)` of `granter`, all
   * read-only or all writable, each op on its own as Xen runs them — a bad op gets its status and
   * the next op still runs. `handles[i]` receives op i's handle (>= 0) or its negative `GNTST_*`
   * (as {@link map} returns them), and `offsets[i]`, for a mapped op, the byte offset of its page
   * inside the granter's memory ({@link mappedMemory}, also {@link granterMemory}). Returns how many ops
   * failed; the caller unmaps the others if it wants all or nothing (as Linux's backends do).
   * The granter is looked up once for the batch; nothing allocates.
   */
  mapBatch(
    granter: number,
    refs: ArrayLike<number>,
    from: number,
    count: number,
    readonly: boolean,
    handles: Int32Array,
    offsets: Int32Array,
  ): number {
    const g = this.peers.get(granter);
    if (g === null) {
      for (let i = 0; i < count; i++) handles[i] = GNTST_bad_domain;
      if (count > 0) this.fail(GNTST_bad_domain, "the granting domain is unknown to this thread or gone");
      return count;
    }
    let failed = 0;
    for (let i = 0; i < count; i++) {
      const h = this.mapOne(g, refs[from + i]!, readonly);
      handles[i] = h;
      if (h < 0) failed++;
      else offsets[i] = this.lastFrame << XEN_PAGE_SHIFT;
    }
    return failed;
  }

  /**
   * `GNTTABOP_unmap_grant_ref` with a count: unmap `handles[0, count)`, each on its own; a handle
   * below 0 (a failed map's status) is skipped. `status[i]` receives op i's result if given.
   * Returns how many ops failed.
   */
  unmapBatch(handles: Int32Array, count: number, status?: Int32Array): number {
    let failed = 0;
    for (let i = 0; i < count; i++) {
      const h = handles[i]!;
      const st = h < 0 ? GNTST_okay : this.unmap(h);
      if (status !== undefined) status[i] = st;
      if (st !== GNTST_okay) failed++;
    }
    return failed;
  }

  /** The memory of live domain `granter` (where {@link mapBatch}'s offsets point), or null. */
  granterMemory(granter: number): Uint8Array | null {
    return this.peers.get(granter)?.memory ?? null;
  }

  private mapOne(g: DomainView, ref: number, readonly: boolean): number {
    const h = this.claimHandle();
    if (h < 0) return this.fail(GNTST_no_device_space, "every maptrack handle is in use");
    const mt = this.mt;
    const e = this.mtBase + h * MAPTRACK_ENTRY_WORDS;
    if (ref >>> 0 !== ref || ref >= g.grantEntries) {
      Atomics.store(mt, e + MT_W_STATE, MT_FREE);
      return this.fail(GNTST_bad_gntref, "the grant ref is outside the granter's table");
    }
    const frame = pinGrant(g, ref, this.self.domid, readonly, true);
    if (frame < 0) {
      Atomics.store(mt, e + MT_W_STATE, MT_FREE);
      return this.fail(frame, lastPinFailure());
    }
    // Plain stores: this thread owns the entry (state BUSY), and the state's sequentially
    // consistent store below publishes them — a thread that sees it mapped sees the fields
    // (Xen: "flags last").
    mt[e + MT_W_DOMID] = g.domid | ((g.generation & 0xffff) << 16);
    mt[e + MT_W_REF] = ref;
    mt[e + MT_W_FRAME] = frame;
    Atomics.store(mt, e + MT_W_STATE, readonly ? MT_READONLY : MT_WRITABLE);
    this.handleViews[h] = g;
    this.lastFrame = frame;
    this.lastError = "";
    const t = tracer;
    if (t !== null) t.record(TraceKind.GrantMap, this.self.domid, g.domid, ref, h, readonly ? 1 : 0);
    return h;
  }

  /**
   * `GNTTABOP_unmap_grant_ref`: drop the mapping. Returns `GNTST_okay`, `GNTST_bad_handle` for a
   * handle that is not mapped (out of range, never mapped, or already unmapped), or
   * `GNTST_eagain` (the handle stays mapped; try again). Unmapping a grant of a domain that has
   * been destroyed only frees the handle.
   */
  unmap(handle: number): GrantStatus {
    if (handle >>> 0 !== handle || handle >= this.mtEntries) {
      return this.fail(GNTST_bad_handle, "the handle is out of range");
    }
    const e = this.mtBase + handle * MAPTRACK_ENTRY_WORDS;
    const state = Atomics.load(this.mt, e + MT_W_STATE);
    if (state !== MT_READONLY && state !== MT_WRITABLE)
      return this.fail(GNTST_bad_handle, "the handle is not mapped");
    // Take the handle, so that two threads unmapping it cannot both drop the pin.
    if (Atomics.compareExchange(this.mt, e + MT_W_STATE, state, MT_BUSY) !== state) {
      return this.fail(GNTST_bad_handle, "the handle is being unmapped by another thread");
    }
    const g = this.granterOf(handle, e);
    if (g !== null) {
      const rc = unpinGrant(g, this.mt[e + MT_W_REF]!, state === MT_READONLY);
      if (rc !== GNTST_okay) {
        Atomics.store(this.mt, e + MT_W_STATE, state);
        return this.fail(rc, lastPinFailure());
      }
    }
    const t = tracer;
    if (t !== null)
      t.record(
        TraceKind.GrantUnmap,
        this.self.domid,
        g?.domid ?? -1,
        Atomics.load(this.mt, e + MT_W_REF),
        handle,
      );
    this.handleViews[handle] = null;
    Atomics.store(this.mt, e + MT_W_STATE, MT_FREE);
    if (handle < this.cursor) this.cursor = handle;
    this.lastError = "";
    return GNTST_okay;
  }

  /** The granter's whole memory, in which the page of `handle` lies at {@link mappedOffset}. */
  mappedMemory(handle: number): Uint8Array {
    const e = this.mappedEntry(handle);
    const v = this.handleViews[handle] ?? this.peers.known(Atomics.load(this.mt, e + MT_W_DOMID) & 0xffff);
    if (v === null) throw invalidArgument("handle", "a handle whose granter this thread knows", handle);
    return v.memory;
  }

  /** Byte offset of the mapped page inside {@link mappedMemory}: `frame * 4096`. */
  mappedOffset(handle: number): number {
    return Atomics.load(this.mt, this.mappedEntry(handle) + MT_W_FRAME) << XEN_PAGE_SHIFT;
  }

  /** Whether `handle` maps its page read-only (writes through it are a bug of the caller). */
  isReadonly(handle: number): boolean {
    return Atomics.load(this.mt, this.mappedEntry(handle) + MT_W_STATE) === MT_READONLY;
  }

  /** The granting domain of `handle`. */
  mappedGranter(handle: number): number {
    return Atomics.load(this.mt, this.mappedEntry(handle) + MT_W_DOMID) & 0xffff;
  }

  /** The grant ref `handle` maps. */
  mappedRef(handle: number): number {
    return Atomics.load(this.mt, this.mappedEntry(handle) + MT_W_REF);
  }

  /** Whether `handle` is a live mapping of this domain. */
  isMapped(handle: number): boolean {
    if (handle >>> 0 !== handle || handle >= this.mtEntries) return false;
    const s = Atomics.load(this.mt, this.mtBase + handle * MAPTRACK_ENTRY_WORDS + MT_W_STATE);
    return s === MT_READONLY || s === MT_WRITABLE;
  }

  /** {@link map}, returning a view of exactly the granted page (allocates; for tests and tools). */
  mapView(granter: number, ref: number, readonly: boolean): GrantMapping {
    const h = this.map(granter, ref, readonly);
    if (h < 0) {
      const err = hypercallFailed(
        `map of dom${granter} ref ${ref}${readonly ? " read-only" : ""} by dom${this.self.domid}`,
        grantStatusName(h),
        grantStatusMessage(h),
        this.lastError,
      );
      return { ok: false, status: h, message: err.message };
    }
    const off = this.mappedOffset(h);
    return { ok: true, handle: h, bytes: this.mappedMemory(h).subarray(off, off + XEN_PAGE_SIZE), readonly };
  }

  /**
   * `GNTTABOP_copy`: run every segment of `batch` in order, each on its own: a failure sets that
   * segment's `status[i]` and the next segment still runs. A grant is pinned (`GTF_reading` for a
   * source, `GTF_writing` for a destination) only while its segment copies. Returns how many
   * segments failed. Statuses, in the order Xen checks:
   * - `GNTST_permission_denied`: a side names a frame (no gref flag) of a domain other than `DOMID_SELF`;
   * - `GNTST_bad_domain`: a gref side's domain is not a live domain this thread knows;
   * - `GNTST_bad_gntref`, `GNTST_general_error`, `GNTST_bad_page`, `GNTST_eagain`: as for {@link map};
   * - `GNTST_bad_page`: an own frame outside this domain's memory;
   * - `GNTST_bad_copy_arg`: `offset + len` passes the end of the page, on either side.
   */
  copy(batch: GrantCopyBatch): number {
    let failed = 0;
    for (let i = 0; i < batch.count; i++) {
      const st = this.copyOne(batch, i);
      batch.status[i] = st;
      if (st !== GNTST_okay) failed++;
    }
    return failed;
  }

  private copyOne(b: GrantCopyBatch, i: number): GrantStatus {
    const flags = b.flags[i]!;
    const srcGref = (flags & GNTCOPY_source_gref) !== 0;
    const dstGref = (flags & GNTCOPY_dest_gref) !== 0;
    const sDom = b.sourceDomid[i]!;
    const dDom = b.destDomid[i]!;
    if ((!srcGref && sDom !== DOMID_SELF) || (!dstGref && dDom !== DOMID_SELF)) {
      return this.fail(GNTST_permission_denied, "only DOMID_SELF may name a frame instead of a grant");
    }
    const self = this.self;
    const s = sDom === DOMID_SELF ? self : this.peers.get(sDom);
    if (s === null) return this.fail(GNTST_bad_domain, "the source domain is unknown to this thread or gone");
    const d = dDom === DOMID_SELF ? self : this.peers.get(dDom);
    if (d === null)
      return this.fail(GNTST_bad_domain, "the destination domain is unknown to this thread or gone");

    const sPtr = b.sourcePtr[i]!;
    let sFrame: number;
    if (srcGref) {
      if (sPtr >= s.grantEntries) return this.fail(GNTST_bad_gntref, "the source grant ref is out of range");
      sFrame = pinGrant(s, sPtr, self.domid, true, false);
      if (sFrame < 0) return this.fail(sFrame, lastPinFailure());
    } else {
      sFrame = sPtr;
      if (sFrame >= self.frames)
        return this.fail(GNTST_bad_page, "the source frame is outside this domain's memory");
    }

    const dPtr = b.destPtr[i]!;
    let dFrame: number;
    let st: number = GNTST_okay;
    if (dstGref) {
      if (dPtr >= d.grantEntries) {
        st = this.fail(GNTST_bad_gntref, "the destination grant ref is out of range");
        dFrame = -1;
      } else {
        dFrame = pinGrant(d, dPtr, self.domid, false, false);
        if (dFrame < 0) st = this.fail(dFrame, lastPinFailure());
      }
    } else {
      dFrame = dPtr;
      if (dFrame >= self.frames) {
        st = this.fail(GNTST_bad_page, "the destination frame is outside this domain's memory");
        dFrame = -1;
      }
    }

    if (st === GNTST_okay) {
      const sOff = b.sourceOffset[i]!;
      const dOff = b.destOffset[i]!;
      const len = b.len[i]!;
      if (sOff + len > XEN_PAGE_SIZE || dOff + len > XEN_PAGE_SIZE) {
        st = this.fail(GNTST_bad_copy_arg, "offset + len passes the end of the page");
      } else {
        copyBytes(s, sFrame, sOff, d, dFrame, dOff, len);
      }
      if (dstGref) this.release(d, dPtr, false);
    }
    if (srcGref) this.release(s, sPtr, true);
    if (st === GNTST_okay) this.lastError = "";
    return st;
  }

  /**
   * Drop a copy's pin, which must not leak. If the entry's lock stays held through many full
   * spins, its holder is dead (a terminated worker), not slow: then take it regardless.
   */
  private release(g: DomainView, ref: number, readonly: boolean): void {
    for (let i = 0; i < RELEASE_TRIES; i++) if (unpinGrant(g, ref, readonly) === GNTST_okay) return;
    unpinGrant(g, ref, readonly, true);
  }

  /** The live granter of a handle's mapping, or null if that incarnation is gone. */
  private granterOf(handle: number, e: number): DomainView | null {
    const dw = Atomics.load(this.mt, e + MT_W_DOMID);
    const v = this.handleViews[handle] ?? this.peers.known(dw & 0xffff);
    if (v === null || v.domid !== (dw & 0xffff) || (v.generation & 0xffff) !== dw >>> 16) return null;
    return v.alive() ? v : null;
  }

  /** Claim a free maptrack entry (state FREE → BUSY); -1 if none. */
  private claimHandle(): number {
    const n = this.mtEntries;
    let h = this.cursor;
    for (let scanned = 0; scanned < n; scanned++) {
      const s = this.mtBase + h * MAPTRACK_ENTRY_WORDS + MT_W_STATE;
      if (
        Atomics.load(this.mt, s) === MT_FREE &&
        Atomics.compareExchange(this.mt, s, MT_FREE, MT_BUSY) === MT_FREE
      ) {
        this.cursor = h + 1 === n ? 0 : h + 1;
        return h;
      }
      h = h + 1 === n ? 0 : h + 1;
    }
    return -1;
  }

  private mappedEntry(handle: number): number {
    if (!this.isMapped(handle)) throw invalidArgument("handle", "a mapped grant handle", handle);
    return this.mtBase + handle * MAPTRACK_ENTRY_WORDS;
  }

  private fail(status: number, why: string): number {
    this.lastError = why;
    debug("dom%d: %s: %s", this.self.domid, grantStatusName(status), why);
    return status;
  }
}
