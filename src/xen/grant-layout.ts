import { XEN_PAGE_SIZE } from "./page.js";
import { packedLayout } from "./struct-layout.js";
import "./host-endian.js";

/**
 * `struct grant_entry_v1` (8 bytes): one entry of a domain's grant table, shared between the
 * granting guest (which writes `domid`, `frame`, then `flags`) and Xen (which sets and clears
 * `GTF_reading` / `GTF_writing`).
 */
export const grantEntryV1Layout = packedLayout(
  { name: "grant_entry_v1", cType: "struct grant_entry_v1", header: "xen/grant_table.h", size: 8 },
  [
    ["flags", 2, "uint16_t"],
    ["domid", 2, "domid_t"],
    ["frame", 4, "uint32_t"],
  ],
);

/** `sizeof(grant_entry_v1_t)`. */
export const GRANT_ENTRY_V1_SIZE = grantEntryV1Layout.size;
/** v1 entries in one 4096-byte grant-table frame (Xen's `ENTRIES_PER_FRAME_V1`'s value: 512). */
export const GRANT_ENTRIES_PER_FRAME = XEN_PAGE_SIZE / GRANT_ENTRY_V1_SIZE;

/** Int32 words per entry, for an `Int32Array` over the table. */
export const GRANT_ENTRY_WORDS = GRANT_ENTRY_V1_SIZE >> 2;
/**
 * Word index, inside an entry, of `flags` and `domid` read as one 32-bit word. Xen updates the
 * two as a pair ("union grant_combo") so that checking `domid` and setting `GTF_reading` is one
 * compare-and-swap; on a little-endian host `flags` is the low half.
 */
export const GE_W_COMBO = grantEntryV1Layout.fields.flags.offset >> 2;
/** Word index, inside an entry, of `frame`. */
export const GE_W_FRAME = grantEntryV1Layout.fields.frame.offset >> 2;
/** Shift of `domid` inside the combo word. */
export const GE_DOMID_SHIFT =
  (grantEntryV1Layout.fields.domid.offset - grantEntryV1Layout.fields.flags.offset) * 8;

/*
 * Hypervisor-private grant state, in each domain's `xen` buffer. These are pvscsi's own
 * structures (Xen's `struct active_grant_entry` and `struct grant_mapping`), not shared with any
 * guest, so their layout is not Xen's.
 */

/** Words per active entry: one per grant ref of the granting domain. */
export const ACTIVE_ENTRY_WORDS = 4;
/** Spin lock guarding the entry (Xen's per-active-entry lock): 0 free, 1 held. */
export const ACT_W_LOCK = 0;
/** Pin counts: all mappings in the low 16 bits, writable ones in the high 16 bits (Xen's `act->pin`). */
export const ACT_W_PINS = 1;
/** The domain that pinned the entry first; others may not pin it while it is pinned (`act->domid`). */
export const ACT_W_DOMID = 2;
/** The frame latched when the entry was first pinned (`act->frame`); later maps see this one. */
export const ACT_W_FRAME = 3;
/** Pin counts stop here; one more pin fails with `GNTST_general_error`, as Xen's overflow check does. */
export const ACT_MAX_PINS = 0x7fff;
/** One writable pin, in {@link ACT_W_PINS}. */
export const ACT_PIN_WRITER = 1 << 16;

/** Words per maptrack entry: one per mapping handle of the mapping domain. */
export const MAPTRACK_ENTRY_WORDS = 4;
/** State of the handle: one of the `MT_*` values. */
export const MT_W_STATE = 0;
/** Granting domain's id in the low 16 bits, its generation (mod 2^16) in the high 16 bits. */
export const MT_W_DOMID = 1;
/** The grant ref mapped. */
export const MT_W_REF = 2;
/** The granter's frame the handle maps. */
export const MT_W_FRAME = 3;
/** Handle state: free. */
export const MT_FREE = 0;
/** Handle state: being set up or torn down by one thread. */
export const MT_BUSY = 1;
/** Handle state: maps a grant read-only. */
export const MT_READONLY = 2;
/** Handle state: maps a grant writable. */
export const MT_WRITABLE = 3;
