/**
 * Constants of Xen's `grant_table.h`, with Xen's names. Values are part of the guest ABI.
 */

/** `grant_entry_v1.flags` type field: this entry grants nothing. */
export const GTF_invalid = 0;
/** Type: `domid` may map and access `frame`. */
export const GTF_permit_access = 1;
/** Type: `domid` may transfer a page into `frame` (not emulated; never mappable). */
export const GTF_accept_transfer = 2;
/** Type: transitive grant (v2 only; never mappable through a v1 table). */
export const GTF_transitive = 3;
/** Mask of the type field. */
export const GTF_type_mask = 3;
/** Subflag set by the granter: `domid` may only read. */
export const GTF_readonly = 1 << 2;
/** Subflag set by Xen while the entry is mapped or being copied from. */
export const GTF_reading = 1 << 3;
/** Subflag set by Xen while the entry is mapped writable or being copied to. */
export const GTF_writing = 1 << 4;
/** x86 cache attribute subflag (write-through); accepted and ignored. */
export const GTF_PWT = 1 << 5;
/** x86 cache attribute subflag (cache disable); accepted and ignored. */
export const GTF_PCD = 1 << 6;
/** x86 cache attribute subflag (PAT); accepted and ignored. */
export const GTF_PAT = 1 << 7;
/** Subflag: grant only part of the page (needs v2 entries); a v1 entry with it cannot be mapped. */
export const GTF_sub_page = 1 << 8;

/** Refs that Linux never hands out: the toolstack may pre-populate them (`GNTTAB_NR_RESERVED_ENTRIES`). */
export const GNTTAB_NR_RESERVED_ENTRIES = 8;
/** Reserved ref for the console ring page. */
export const GNTTAB_RESERVED_CONSOLE = 0;
/** Reserved ref for the xenstore ring page. */
export const GNTTAB_RESERVED_XENSTORE = 1;

/** `gnttab_copy.flags`: `source` names a grant ref of `source.domid`, not a frame of one's own. */
export const GNTCOPY_source_gref = 1 << 0;
/** `gnttab_copy.flags`: `dest` names a grant ref of `dest.domid`. */
export const GNTCOPY_dest_gref = 1 << 1;

/** `GNTST_*` (grant operation status; all errors are negative): normal return. */
export const GNTST_okay = 0;
/** General undefined error: the entry does not permit this (wrong domid, type, read-only, unstable). */
export const GNTST_general_error = -1;
/** Unrecognised domain id. */
export const GNTST_bad_domain = -2;
/** Unrecognised or inappropriate grant ref (outside the table). */
export const GNTST_bad_gntref = -3;
/** Unrecognised or inappropriate mapping handle (never mapped, or already unmapped). */
export const GNTST_bad_handle = -4;
/** Inappropriate virtual address to map (not produced by pvscsi). */
export const GNTST_bad_virt_addr = -5;
/** Inappropriate device address to unmap (not produced by pvscsi). */
export const GNTST_bad_dev_addr = -6;
/** Out of space in the I/O MMU; Xen (and pvscsi) also return it when the maptrack is full. */
export const GNTST_no_device_space = -7;
/** Not enough privilege: a copy names another domain's frame without a grant. */
export const GNTST_permission_denied = -8;
/** Specified page was invalid for the operation: a frame outside the domain's memory. */
export const GNTST_bad_page = -9;
/** Copy arguments cross a page boundary. */
export const GNTST_bad_copy_arg = -10;
/** Transfer page address too large (transfers are not emulated). */
export const GNTST_address_too_big = -11;
/** Operation not done; try again (pvscsi: an entry's lock stayed held). */
export const GNTST_eagain = -12;
/** Out of space (handles etc.); pvscsi: no free grant ref. */
export const GNTST_no_space = -13;

/** A `GNTST_*` value. */
export type GrantStatus = number;

const GNTST_NAMES: readonly string[] = [
  "GNTST_okay",
  "GNTST_general_error",
  "GNTST_bad_domain",
  "GNTST_bad_gntref",
  "GNTST_bad_handle",
  "GNTST_bad_virt_addr",
  "GNTST_bad_dev_addr",
  "GNTST_no_device_space",
  "GNTST_permission_denied",
  "GNTST_bad_page",
  "GNTST_bad_copy_arg",
  "GNTST_address_too_big",
  "GNTST_eagain",
  "GNTST_no_space",
];

/** `GNTTABOP_error_msgs`, indexed by `-status`, exactly as grant_table.h spells them. */
export const GNTTABOP_error_msgs: readonly string[] = [
  "okay",
  "undefined error",
  "unrecognised domain id",
  "invalid grant reference",
  "invalid mapping handle",
  "invalid virtual address",
  "invalid device address",
  "no spare translation slot in the I/O MMU",
  "permission denied",
  "bad page",
  "copy arguments cross page boundary",
  "page address size too large",
  "operation not done; try again",
  "out of space",
];

/** `GNTST_bad_handle` → `"GNTST_bad_handle"`; an unknown value → `"GNTST_(n)"`. */
export function grantStatusName(status: GrantStatus): string {
  return GNTST_NAMES[-status] ?? `GNTST_(${status})`;
}

/** Xen's meaning of a status (`GNTTABOP_error_msgs`); an unknown value → `"unknown status n"`. */
export function grantStatusMessage(status: GrantStatus): string {
  return GNTTABOP_error_msgs[-status] ?? `unknown status ${status}`;
}
