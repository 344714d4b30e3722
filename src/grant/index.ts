/**
 * Grant tables, version 1 (Xen's `grant_table.h`): the granting side (`GrantTable`), the mapping
 * side (`GrantMapper`: map, unmap, `GNTTABOP_copy`), and Xen's constants and status codes.
 * @module
 */

export { DOMID_FIRST_RESERVED, DOMID_INVALID, DOMID_SELF } from "../xen/domid.js";
export {
  GNTCOPY_dest_gref,
  GNTCOPY_source_gref,
  GNTST_address_too_big,
  GNTST_bad_copy_arg,
  GNTST_bad_dev_addr,
  GNTST_bad_domain,
  GNTST_bad_gntref,
  GNTST_bad_handle,
  GNTST_bad_page,
  GNTST_bad_virt_addr,
  GNTST_eagain,
  GNTST_general_error,
  GNTST_no_device_space,
  GNTST_no_space,
  GNTST_okay,
  GNTST_permission_denied,
  GNTTAB_NR_RESERVED_ENTRIES,
  GNTTAB_RESERVED_CONSOLE,
  GNTTAB_RESERVED_XENSTORE,
  GNTTABOP_error_msgs,
  type GrantStatus,
  GTF_accept_transfer,
  GTF_invalid,
  GTF_PAT,
  GTF_PCD,
  GTF_PWT,
  GTF_permit_access,
  GTF_reading,
  GTF_readonly,
  GTF_sub_page,
  GTF_transitive,
  GTF_type_mask,
  GTF_writing,
  grantStatusMessage,
  grantStatusName,
} from "../xen/grant-constants.js";
export { GRANT_ENTRIES_PER_FRAME, GRANT_ENTRY_V1_SIZE, grantEntryV1Layout } from "../xen/grant-layout.js";
export { GrantCopyBatch } from "./copy-batch.js";
export { GrantMapper, type GrantMapping } from "./grant-mapper.js";
export { GrantTable } from "./grant-table.js";
