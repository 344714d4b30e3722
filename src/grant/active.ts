import type { DomainView } from "../xen/domain-view.js";
import {
  GNTST_bad_page,
  GNTST_eagain,
  GNTST_general_error,
  GNTST_okay,
  GTF_permit_access,
  GTF_reading,
  GTF_readonly,
  GTF_sub_page,
  GTF_type_mask,
  GTF_writing,
} from "../xen/grant-constants.js";
import {
  ACT_MAX_PINS,
  ACT_PIN_WRITER,
  ACT_W_DOMID,
  ACT_W_FRAME,
  ACT_W_LOCK,
  ACT_W_PINS,
  ACTIVE_ENTRY_WORDS,
  GE_DOMID_SHIFT,
  GE_W_COMBO,
  GE_W_FRAME,
  GRANT_ENTRY_WORDS,
} from "../xen/grant-layout.js";
import { GRANT_SPIN_LIMIT, spinLock, spinUnlock } from "../xen/spin-lock.js";

/*
 * Pinning a grant: what Xen does to the granter's tables when a domain maps or copies through a
 * grant (map_grant_ref / acquire_grant_for_copy and their undo). The active entry, private to the
 * hypervisor, counts pins; the shared entry's GTF_reading / GTF_writing tell the granter the grant
 * is in use. Both change under the active entry's lock, so "pins > 0" and "GTF_reading set" are
 * never seen apart by a thread that takes the lock, and the granter, which never takes it, can only
 * clear the flags with a compare-and-swap that fails while they are set.
 *
 * Atomic operations per pin: the lock's compare-and-swap, one compare-and-swap on the shared
 * entry's flags when they change (the first pin, or the first writable one), and the unlock's
 * store. The active entry's own words (pins, domid, frame) are read and written plainly: only
 * lock holders write them, and the lock's sequentially consistent acquire and release order
 * those accesses between holders (reports read them racily, as Xen's debug keys do). Words the
 * granter shares (the grant entry) are always accessed with Atomics: the guest may change them.
 */

/** The `flags` half of the combo word. */
const FLAG_BITS = (1 << GE_DOMID_SHIFT) - 1;
/** Xen gives up on an entry the guest keeps changing after this many compare-and-swap tries. */
export const SET_STATUS_RETRIES = 5;

let failure = "";

/** Why the last pin or unpin in this thread failed (a constant string; empty after success). */
export function lastPinFailure(): string {
  return failure;
}

function fail(status: number, why: string): number {
  failure = why;
  return status;
}

/**
 * Pin `ref` of granter `g` for `mapper`: check the grant, set `GTF_reading` (and `GTF_writing`
 * unless `readonly`), count the pin. `forMap` adds Xen's map-only check that the entry is not a
 * sub-page grant. Returns the frame (latched when the entry was first pinned) or a negative
 * `GNTST_*`. `ref` must already be inside the table.
 */
export function pinGrant(
  g: DomainView,
  ref: number,
  mapper: number,
  readonly: boolean,
  forMap: boolean,
): number {
  const x = g.xen;
  const a = g.layout.active + ref * ACTIVE_ENTRY_WORDS;
  if (!spinLock(x, a + ACT_W_LOCK, GRANT_SPIN_LIMIT))
    return fail(GNTST_eagain, "the active grant entry stayed locked");
  const pins = x[a + ACT_W_PINS]!;
  const readers = pins & 0xffff;
  const writers = pins >>> 16;
  if (readers !== 0) {
    // Xen: "Bad domain (%d != %d), or risk of counter overflow".
    if (x[a + ACT_W_DOMID] !== mapper) {
      spinUnlock(x, a + ACT_W_LOCK);
      return fail(GNTST_general_error, "the grant is pinned by another domain");
    }
    if (readers >= ACT_MAX_PINS || writers >= ACT_MAX_PINS) {
      spinUnlock(x, a + ACT_W_LOCK);
      return fail(GNTST_general_error, "the grant's pin count would overflow");
    }
  }
  if (readers === 0 || (!readonly && writers === 0)) {
    const st = setStatus(g.grantTable, ref, mapper, readonly, forMap, readers === 0);
    if (st !== GNTST_okay) {
      spinUnlock(x, a + ACT_W_LOCK);
      return st;
    }
    if (readers === 0) {
      // The frame is read after the flags are set, as Xen does: a granter that follows the
      // protocol wrote it before publishing GTF_permit_access, and cannot change the entry now.
      const frame = Atomics.load(g.grantTable, ref * GRANT_ENTRY_WORDS + GE_W_FRAME) >>> 0;
      if (frame >= g.frames) {
        // Xen's unlock_out_clear: no pin is left, so GTF_reading goes, and GTF_writing if we set it.
        const clear = readonly ? GTF_reading : GTF_reading | GTF_writing;
        Atomics.and(g.grantTable, ref * GRANT_ENTRY_WORDS + GE_W_COMBO, ~clear);
        spinUnlock(x, a + ACT_W_LOCK);
        return fail(GNTST_bad_page, "the granted frame is outside the granter's memory");
      }
      x[a + ACT_W_DOMID] = mapper;
      x[a + ACT_W_FRAME] = frame;
    }
  }
  x[a + ACT_W_PINS] = pins + 1 + (readonly ? 0 : ACT_PIN_WRITER);
  const frame = x[a + ACT_W_FRAME]!;
  spinUnlock(x, a + ACT_W_LOCK);
  failure = "";
  return frame;
}

/**
 * Undo one {@link pinGrant}: drop the pin and clear `GTF_writing` when no writable pin is left,
 * `GTF_reading` when no pin is left. Returns `GNTST_okay`, `GNTST_eagain` if the lock stayed held,
 * or `GNTST_general_error` if there was no such pin. With `force` (teardown, when no other thread
 * runs) a lock that stays held is taken anyway.
 */
export function unpinGrant(g: DomainView, ref: number, readonly: boolean, force = false): number {
  const x = g.xen;
  const a = g.layout.active + ref * ACTIVE_ENTRY_WORDS;
  if (!spinLock(x, a + ACT_W_LOCK, GRANT_SPIN_LIMIT) && !force)
    return fail(GNTST_eagain, "the active grant entry stayed locked");
  const pins = x[a + ACT_W_PINS]!;
  const readers = (pins & 0xffff) - 1;
  const writers = (pins >>> 16) - (readonly ? 0 : 1);
  if (readers < 0 || writers < 0) {
    spinUnlock(x, a + ACT_W_LOCK);
    return fail(GNTST_general_error, "the grant has no such pin");
  }
  x[a + ACT_W_PINS] = readers | (writers << 16);
  let clear = 0;
  if (!readonly && writers === 0) clear |= GTF_writing;
  if (readers === 0) clear |= GTF_reading;
  if (clear !== 0) Atomics.and(g.grantTable, ref * GRANT_ENTRY_WORDS + GE_W_COMBO, ~clear);
  spinUnlock(x, a + ACT_W_LOCK);
  failure = "";
  return GNTST_okay;
}

/**
 * Xen's `_set_status_v1`: set `GTF_reading` (and `GTF_writing`) with compare-and-swap on the
 * flags and domid together. When the entry is not yet pinned (`check`), the swap only succeeds
 * if the entry permits access to `mapper`. A guest flipping its flags concurrently makes the
 * swap fail; after {@link SET_STATUS_RETRIES} failures the entry is declared unstable, so a
 * malicious guest cannot keep a backend looping.
 */
function setStatus(
  gt: Int32Array,
  ref: number,
  mapper: number,
  readonly: boolean,
  forMap: boolean,
  check: boolean,
): number {
  const i = ref * GRANT_ENTRY_WORDS + GE_W_COMBO;
  const mask = forMap ? GTF_type_mask | GTF_sub_page : GTF_type_mask;
  let combo = Atomics.load(gt, i);
  for (let tries = 1; ; tries++) {
    const flags = combo & FLAG_BITS;
    if (check) {
      if (combo >>> GE_DOMID_SHIFT !== mapper) {
        return fail(GNTST_general_error, "the grant entry names another domain");
      }
      if ((flags & GTF_type_mask) !== GTF_permit_access) {
        return fail(GNTST_general_error, "the grant entry does not permit access");
      }
      if ((flags & mask) !== GTF_permit_access) {
        return fail(GNTST_general_error, "a sub-page grant cannot be mapped");
      }
    }
    let next = flags | GTF_reading;
    if (!readonly) {
      if ((flags & GTF_readonly) !== 0) {
        return fail(GNTST_general_error, "attempt to write-pin a read-only grant");
      }
      next |= GTF_writing;
    }
    const prev = Atomics.compareExchange(gt, i, combo, (combo & ~FLAG_BITS) | next);
    if (prev === combo) return GNTST_okay;
    if (tries === SET_STATUS_RETRIES) return fail(GNTST_general_error, "the shared grant entry is unstable");
    combo = prev;
  }
}
