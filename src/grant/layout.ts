import { packedLayout } from "../abi/layout.js";
import { XEN_PAGE_SIZE } from "../ring/layout.js";
import "../vscsiif/host-endian.js";

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
export const GE_DOMID_SHIFT = (grantEntryV1Layout.fields.domid.offset - grantEntryV1Layout.fields.flags.offset) * 8;
