/**
 * Xen's block protocol (`io/blkif.h`): constants, both ABIs' layouts and the request/response
 * codecs that blkback and blkfront share.
 * @module
 */

export {
  BLKIF_ENTRY_SIZE_X86_32,
  BLKIF_ENTRY_SIZE_X86_64,
  blkifRequestDiscardLayout,
  blkifRequestIndirectLayout,
  blkifRequestLayout,
  blkifRequestSegmentLayout,
  blkifResponseLayout,
  blkifRingEntries,
  blkifSringLayout,
  blkifX86_32Layouts,
} from "../xen/blkif-layout.js";
export {
  BLKIF_DISCARD_SECURE,
  BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST,
  BLKIF_MAX_SEGMENTS_PER_REQUEST,
  BLKIF_OP_DISCARD,
  BLKIF_OP_FLUSH_DISKCACHE,
  BLKIF_OP_INDIRECT,
  BLKIF_OP_READ,
  BLKIF_OP_RESERVED_1,
  BLKIF_OP_WRITE,
  BLKIF_OP_WRITE_BARRIER,
  BLKIF_RSP_EOPNOTSUPP,
  BLKIF_RSP_ERROR,
  BLKIF_RSP_OKAY,
  BLKIF_SECTOR_SIZE,
  BLKIF_SECTORS_PER_PAGE,
  BLKIF_SEGS_PER_INDIRECT_FRAME,
  type BlkifAbi,
  blkifOpName,
  VDISK_CDROM,
  VDISK_READONLY,
  VDISK_REMOVABLE,
  XEN_IO_PROTO_ABI_X86_32,
  XEN_IO_PROTO_ABI_X86_64,
} from "./constants.js";
export {
  BLKIF_SEGMENT_SIZE,
  BlkifRequest,
  blkifEntrySize,
  indirectSegment,
  writeIndirectSegment,
} from "./request.js";
export { BlkifResponse } from "./response.js";
