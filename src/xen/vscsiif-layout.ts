import { ringSize } from "./ring-size.js";
import { sringLayout } from "./sring-layout.js";
import { packedLayout } from "./struct-layout.js";

const HEADER = "xen/io/vscsiif.h";

/** `struct scsiif_request_segment` (8 bytes). */
export const scsiifRequestSegmentLayout = packedLayout(
  { name: "scsiif_request_segment", cType: "struct scsiif_request_segment", header: HEADER, size: 8 },
  [
    ["gref", 4, "grant_ref_t"],
    ["offset", 2, "uint16_t"],
    ["length", 2, "uint16_t"],
  ],
);

/** `struct vscsiif_request` (252 bytes). */
export const vscsiifRequestLayout = packedLayout(
  { name: "vscsiif_request", cType: "struct vscsiif_request", header: HEADER, size: 252 },
  [
    ["rqid", 2, "uint16_t"],
    ["act", 1, "uint8_t"],
    ["cmd_len", 1, "uint8_t"],
    ["cmnd", 16, "uint8_t[16]"],
    ["timeout_per_command", 2, "uint16_t"],
    ["channel", 2, "uint16_t"],
    ["id", 2, "uint16_t"],
    ["lun", 2, "uint16_t"],
    ["ref_rqid", 2, "uint16_t"],
    ["sc_data_direction", 1, "uint8_t"],
    ["nr_segments", 1, "uint8_t"],
    ["seg", 26 * 8, "vscsiif_segment_t[26]"],
    ["reserved", 3 * 4, "uint32_t[3]"],
  ],
);

/** `struct vscsiif_response` (252 bytes). */
export const vscsiifResponseLayout = packedLayout(
  { name: "vscsiif_response", cType: "struct vscsiif_response", header: HEADER, size: 252 },
  [
    ["rqid", 2, "uint16_t"],
    ["act", 1, "uint8_t"],
    ["sense_len", 1, "uint8_t"],
    ["sense_buffer", 96, "uint8_t[96]"],
    ["rslt", 4, "int32_t"],
    ["residual_len", 4, "uint32_t"],
    ["reserved", 36 * 4, "uint32_t[36]"],
  ],
);

/** `struct vscsiif_sring` up to `ring[]`. */
export const vscsiifSringLayout = sringLayout("vscsiif", HEADER);

/** `sizeof(union vscsiif_sring_entry)`: the request and the response are both 252 bytes. */
export const VSCSIIF_ENTRY_SIZE = 252;

/** Entries of a vscsiif ring of 1, 2, 4 and 8 pages (`__CONST_RING_SIZE(vscsiif, n * 4096)`). */
export const vscsiifRingEntries: Readonly<Record<"1" | "2" | "4" | "8", number>> = Object.freeze({
  "1": ringSize(1 * 4096, VSCSIIF_ENTRY_SIZE),
  "2": ringSize(2 * 4096, VSCSIIF_ENTRY_SIZE),
  "4": ringSize(4 * 4096, VSCSIIF_ENTRY_SIZE),
  "8": ringSize(8 * 4096, VSCSIIF_ENTRY_SIZE),
});

/** `VSCSIIF_MAX_REQS`: a vscsiif ring is always one page, so 16 requests can be outstanding. */
export const VSCSIIF_MAX_REQS = vscsiifRingEntries["1"];
