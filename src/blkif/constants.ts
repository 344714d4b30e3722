/**
 * The constants of Xen's block protocol (`io/blkif.h`, `io/protocols.h`), under Xen's names so
 * the constants probe (`test/blkif/constants-probe.test.ts`) can check each against the header.
 */

/** Read `nr_segments` segments into the guest's pages. */
export const BLKIF_OP_READ = 0;
/** Write the guest's pages at `sector_number`. */
export const BLKIF_OP_WRITE = 1;
/** A write that drains every earlier request and reaches stable storage first (`feature-barrier`). */
export const BLKIF_OP_WRITE_BARRIER = 2;
/** Flush the disk's write cache (`feature-flush-cache`); may carry no segments. */
export const BLKIF_OP_FLUSH_DISKCACHE = 3;
/** Reserved (was a Xen-specific operation); a backend answers it EOPNOTSUPP. */
export const BLKIF_OP_RESERVED_1 = 4;
/** Discard `nr_sectors` sectors (`feature-discard`), in `struct blkif_request_discard`. */
export const BLKIF_OP_DISCARD = 5;
/** A READ or WRITE whose segments are in granted pages (`feature-max-indirect-segments`). */
export const BLKIF_OP_INDIRECT = 6;

/** Segments in a request's own `seg[]`. */
export const BLKIF_MAX_SEGMENTS_PER_REQUEST = 11;
/** Indirect pages one `BLKIF_OP_INDIRECT` request may name (`indirect_grefs[8]`). */
export const BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST = 8;
/** `BLKIF_DISCARD_SECURE`: the discard must be a secure erase (honoured only with `discard-secure`). */
export const BLKIF_DISCARD_SECURE = 1 << 0;

/** Status: the operation is not supported. */
export const BLKIF_RSP_EOPNOTSUPP = -2;
/** Status: the operation failed (-EIO). */
export const BLKIF_RSP_ERROR = -1;
/** Status: done. */
export const BLKIF_RSP_OKAY = 0;

/** `info` bit: the device is a CD-ROM. */
export const VDISK_CDROM = 0x1;
/** `info` bit: the medium is removable. */
export const VDISK_REMOVABLE = 0x2;
/** `info` bit: the device is read-only. */
export const VDISK_READONLY = 0x4;

/** `sector_number`, `first_sect` and `last_sect` count 512-byte sectors whatever the disk's sector size. */
export const BLKIF_SECTOR_SIZE = 512;
/** Sectors in one 4 KiB page: `last_sect` must be below this. */
export const BLKIF_SECTORS_PER_PAGE = 4096 / BLKIF_SECTOR_SIZE;
/** Segments one indirect page holds (`4096 / sizeof(struct blkif_request_segment)`). */
export const BLKIF_SEGS_PER_INDIRECT_FRAME = 4096 / 8;

/** `XEN_IO_PROTO_ABI_X86_64` of `io/protocols.h`. */
export const XEN_IO_PROTO_ABI_X86_64 = "x86_64-abi";
/** `XEN_IO_PROTO_ABI_X86_32` of `io/protocols.h`. */
export const XEN_IO_PROTO_ABI_X86_32 = "x86_32-abi";

/** The request layout a ring uses, chosen by the frontend's `protocol` node. */
export type BlkifAbi = "x86_64" | "x86_32";

/** Human name of an operation, for logs and `xl block-list`-like reports. */
export function blkifOpName(op: number): string {
  switch (op) {
    case BLKIF_OP_READ:
      return "READ";
    case BLKIF_OP_WRITE:
      return "WRITE";
    case BLKIF_OP_WRITE_BARRIER:
      return "WRITE_BARRIER";
    case BLKIF_OP_FLUSH_DISKCACHE:
      return "FLUSH_DISKCACHE";
    case BLKIF_OP_DISCARD:
      return "DISCARD";
    case BLKIF_OP_INDIRECT:
      return "INDIRECT";
    default:
      return `op ${op}`;
  }
}
