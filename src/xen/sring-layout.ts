import { packedLayout, type StructLayout } from "./struct-layout.js";

/**
 * Byte layout of a shared ring page (`DEFINE_RING_TYPES` in Xen's `io/ring.h`). The header is the
 * same for every ring type; only the entry size differs.
 */

/** `offsetof(struct X_sring, req_prod)` and friends; all are `RING_IDX` (u32). */
export const SRING_REQ_PROD = 0;
/** Byte offset or size `SRING_REQ_EVENT` in `struct X_sring` (`io/ring.h`). */
export const SRING_REQ_EVENT = 4;
/** Byte offset or size `SRING_RSP_PROD` in `struct X_sring` (`io/ring.h`). */
export const SRING_RSP_PROD = 8;
/** Byte offset or size `SRING_RSP_EVENT` in `struct X_sring` (`io/ring.h`). */
export const SRING_RSP_EVENT = 12;
/** `union pvt` (4 bytes) then `__pad[44]`: zeroed by `SHARED_RING_INIT`. */
export const SRING_PVT = 16;
/** Byte offset or size `SRING_PVT_SIZE` in `struct X_sring` (`io/ring.h`). */
export const SRING_PVT_SIZE = 4;
/** Byte offset or size `SRING_PAD` in `struct X_sring` (`io/ring.h`). */
export const SRING_PAD = 20;
/** Byte offset or size `SRING_PAD_SIZE` in `struct X_sring` (`io/ring.h`). */
export const SRING_PAD_SIZE = 44;
/** `offsetof(struct X_sring, ring)`: where entry 0 starts. */
export const SRING_RING = 64;

/** Word indexes (u32) of the four shared indices inside the header. */
export const W_REQ_PROD = SRING_REQ_PROD >> 2;
/** Byte offset or size `W_REQ_EVENT` in `struct X_sring` (`io/ring.h`). */
export const W_REQ_EVENT = SRING_REQ_EVENT >> 2;
/** Byte offset or size `W_RSP_PROD` in `struct X_sring` (`io/ring.h`). */
export const W_RSP_PROD = SRING_RSP_PROD >> 2;
/** Byte offset or size `W_RSP_EVENT` in `struct X_sring` (`io/ring.h`). */
export const W_RSP_EVENT = SRING_RSP_EVENT >> 2;

/**
 * The shared-ring header of `DEFINE_RING_TYPES(tag, ...)`, as `struct <tag>_sring`. Its size is
 * the offset of `ring[]` (64), the part every ring type shares.
 */
export function sringLayout(
  tag: string,
  header: string,
): StructLayout<"req_prod" | "req_event" | "rsp_prod" | "rsp_event"> {
  return packedLayout(
    {
      name: `${tag}_sring`,
      cType: `struct ${tag}_sring`,
      header,
      size: SRING_RING,
      cSize: `offsetof(struct ${tag}_sring, ring)`,
    },
    [
      ["req_prod", 4, "RING_IDX"],
      ["req_event", 4, "RING_IDX"],
      ["rsp_prod", 4, "RING_IDX"],
      ["rsp_event", 4, "RING_IDX"],
    ],
  );
}
