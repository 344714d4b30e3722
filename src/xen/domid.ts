/** Domain ids (`domid_t`, 16 bits) as Xen's public `xen.h` defines them. */

/** `domid_t` values at or above this are not ordinary domains (`DOMID_FIRST_RESERVED`). */
export const DOMID_FIRST_RESERVED = 0x7ff0;
/** "The calling domain", accepted by `GNTTABOP_copy` for a frame of one's own (`DOMID_SELF`). */
export const DOMID_SELF = 0x7ff0;
/** Pages with no known owner (`DOMID_INVALID`). */
export const DOMID_INVALID = 0x7ff4;
