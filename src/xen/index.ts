/**
 * The floor of the stack: Xen's page size and domain ids, the byte layout of every structure
 * shared with Xen (declared once as a {@link StructLayout} and registered for `pvscsi abi` and the
 * C header probe), the constants of `grant_table.h` and `event_channel.h`, and pvscsi's errors.
 * @module
 */
export { type AbiDocument, abiDocument, ringEntries, sharedStructs } from "./abi-registry.js";
export { DOMID_FIRST_RESERVED, DOMID_INVALID, DOMID_SELF } from "./domid.js";
export {
  configError,
  hypercallFailed,
  invalidArgument,
  invalidState,
  outOfRange,
  PvscsiError,
  type PvscsiErrorCode,
  protocolViolation,
  XenstoreError,
  xenstoreError,
} from "./errors.js";
export {
  EVTCHN_2L_NR_CHANNELS,
  EVTCHNSTAT_closed,
  EVTCHNSTAT_interdomain,
  EVTCHNSTAT_ipi,
  EVTCHNSTAT_pirq,
  EVTCHNSTAT_unbound,
  EVTCHNSTAT_virq,
  evtchnErrorMessage,
  evtchnErrorName,
  XEN_EAGAIN,
  XEN_EINVAL,
  XEN_ENOENT,
  XEN_ENOSPC,
  XEN_EPERM,
  XEN_ESRCH,
} from "./evtchn-constants.js";
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
} from "./grant-constants.js";
export { GRANT_ENTRIES_PER_FRAME, GRANT_ENTRY_V1_SIZE, grantEntryV1Layout } from "./grant-layout.js";
export { XEN_PAGE_SHIFT, XEN_PAGE_SIZE } from "./page.js";
export { ringSize } from "./ring-size.js";
export {
  SRING_PAD,
  SRING_PAD_SIZE,
  SRING_PVT,
  SRING_PVT_SIZE,
  SRING_REQ_EVENT,
  SRING_REQ_PROD,
  SRING_RING,
  SRING_RSP_EVENT,
  SRING_RSP_PROD,
  sringLayout,
} from "./sring-layout.js";
export { type FieldLayout, packedLayout, type StructLayout } from "./struct-layout.js";
export {
  scsiifRequestSegmentLayout,
  VSCSIIF_ENTRY_SIZE,
  VSCSIIF_MAX_REQS,
  vscsiifRequestLayout,
  vscsiifResponseLayout,
  vscsiifRingEntries,
  vscsiifSringLayout,
} from "./vscsiif-layout.js";
export {
  XENSTORE_RING_SIZE,
  XS_RING_CONNECTION,
  XS_RING_ERROR,
  XS_RING_REQ,
  XS_RING_REQ_CONS,
  XS_RING_REQ_PROD,
  XS_RING_RSP,
  XS_RING_RSP_CONS,
  XS_RING_RSP_PROD,
  XS_RING_SERVER_FEATURES,
  XSD_HEADER_SIZE,
  XSD_LEN,
  XSD_REQ_ID,
  XSD_TX_ID,
  XSD_TYPE,
  xenstoreDomainInterfaceLayout,
  xsdSockmsgLayout,
} from "./xenstore-layout.js";
