/**
 * Xen's page: the unit of rings, grants and guest frames, whatever the OS page size
 * (`XEN_PAGE_SHIFT` in Linux's `include/xen/page.h`; Xen's `PAGE_SHIFT` on x86 and Arm).
 */

/** Bytes in a Xen page (`XEN_PAGE_SIZE`). */
export const XEN_PAGE_SIZE = 4096;
/** log2 of {@link XEN_PAGE_SIZE} (`XEN_PAGE_SHIFT`). */
export const XEN_PAGE_SHIFT = 12;
