/**
 * Constants of Xen's `io/vscsiif.h`, with its names. Values are part of the guest ABI; those that
 * are sizes of structures are derived from the registered layouts.
 */

import { scsiifRequestSegmentLayout, vscsiifRequestLayout } from "../xen/vscsiif-layout.js";

/** `act`: run the CDB in `cmnd`. */
export const VSCSIIF_ACT_SCSI_CDB = 1;
/** `act`: abort the request whose rqid is `ref_rqid` on (channel, id, lun). */
export const VSCSIIF_ACT_SCSI_ABORT = 2;
/** `act`: reset the device (Linux scsiback: a LUN reset). */
export const VSCSIIF_ACT_SCSI_RESET = 3;
/** `act`: deprecated scatter/gather preset; the value stays reserved and is refused. */
export const VSCSIIF_ACT_SCSI_SG_PRESET = 4;

/** Segments that fit directly in a request (`seg[]` of `struct vscsiif_request`). */
export const VSCSIIF_SG_TABLESIZE = vscsiifRequestLayout.fields.seg.size / scsiifRequestSegmentLayout.size;
/** Largest CDB. */
export const VSCSIIF_MAX_COMMAND_SIZE = 16;
/** Bytes of sense a response can carry. */
export const VSCSIIF_SENSE_BUFFERSIZE = 96;
/** `VSCSIIF_PAGE_SIZE`: the page size the protocol's segments and indirect pages assume. */
export const VSCSIIF_PAGE_SIZE = 4096;
/** Flag in `nr_segments`: `seg[]` names pages of segment descriptors; low 7 bits count them. */
export const VSCSIIF_SG_GRANT = 0x80;
/** Segment descriptors per indirect page (`4096 / sizeof(struct scsiif_request_segment)`). */
export const VSCSIIF_SG_PER_PAGE = VSCSIIF_PAGE_SIZE / scsiifRequestSegmentLayout.size;
/** Segments in the deprecated `vscsiif_sg_list` (`(sizeof(struct vscsiif_request) - 4) / 8`). */
export const VSCSIIF_SG_LIST_SIZE = Math.floor(
  (vscsiifRequestLayout.size - 4) / scsiifRequestSegmentLayout.size,
);

/** `sc_data_direction`: Linux's `enum dma_data_direction`. */
export const DMA_BIDIRECTIONAL = 0;
/** `sc_data_direction` DMA_TO_DEVICE (1), Linux's `enum dma_data_direction`. */
export const DMA_TO_DEVICE = 1;
/** `sc_data_direction` DMA_FROM_DEVICE (2), Linux's `enum dma_data_direction`. */
export const DMA_FROM_DEVICE = 2;
/** `sc_data_direction` DMA_NONE (3), Linux's `enum dma_data_direction`. */
export const DMA_NONE = 3;

/** Host byte of `rslt` (`XEN_VSCSIIF_RSLT_HOST_*`). */
export const XEN_VSCSIIF_RSLT_HOST_OK = 0;
/** vscsiif.h's host byte `XEN_VSCSIIF_RSLT_HOST_NO_CONNECT` (1), Linux's `DID_NO_CONNECT` where it has one. */
export const XEN_VSCSIIF_RSLT_HOST_NO_CONNECT = 1;
/** vscsiif.h's host byte `XEN_VSCSIIF_RSLT_HOST_BUS_BUSY` (2), Linux's `DID_BUS_BUSY` where it has one. */
export const XEN_VSCSIIF_RSLT_HOST_BUS_BUSY = 2;
/** vscsiif.h's host byte `XEN_VSCSIIF_RSLT_HOST_TIME_OUT` (3), Linux's `DID_TIME_OUT` where it has one. */
export const XEN_VSCSIIF_RSLT_HOST_TIME_OUT = 3;
/** vscsiif.h's host byte `XEN_VSCSIIF_RSLT_HOST_BAD_TARGET` (4), Linux's `DID_BAD_TARGET` where it has one. */
export const XEN_VSCSIIF_RSLT_HOST_BAD_TARGET = 4;
/** vscsiif.h's host byte `XEN_VSCSIIF_RSLT_HOST_ABORT` (5), Linux's `DID_ABORT` where it has one. */
export const XEN_VSCSIIF_RSLT_HOST_ABORT = 5;
/** vscsiif.h's host byte `XEN_VSCSIIF_RSLT_HOST_PARITY` (6), Linux's `DID_PARITY` where it has one. */
export const XEN_VSCSIIF_RSLT_HOST_PARITY = 6;
/** vscsiif.h's host byte `XEN_VSCSIIF_RSLT_HOST_ERROR` (7), Linux's `DID_ERROR` where it has one. */
export const XEN_VSCSIIF_RSLT_HOST_ERROR = 7;
/** vscsiif.h's host byte `XEN_VSCSIIF_RSLT_HOST_RESET` (8), Linux's `DID_RESET` where it has one. */
export const XEN_VSCSIIF_RSLT_HOST_RESET = 8;
/** vscsiif.h's host byte `XEN_VSCSIIF_RSLT_HOST_BAD_INTR` (9), Linux's `DID_BAD_INTR` where it has one. */
export const XEN_VSCSIIF_RSLT_HOST_BAD_INTR = 9;
/** vscsiif.h's host byte `XEN_VSCSIIF_RSLT_HOST_PASSTHROUGH` (10), Linux's `DID_PASSTHROUGH` where it has one. */
export const XEN_VSCSIIF_RSLT_HOST_PASSTHROUGH = 10;
/** vscsiif.h's host byte `XEN_VSCSIIF_RSLT_HOST_SOFT_ERROR` (11), Linux's `DID_SOFT_ERROR` where it has one. */
export const XEN_VSCSIIF_RSLT_HOST_SOFT_ERROR = 11;
/** vscsiif.h's host byte `XEN_VSCSIIF_RSLT_HOST_IMM_RETRY` (12), Linux's `DID_IMM_RETRY` where it has one. */
export const XEN_VSCSIIF_RSLT_HOST_IMM_RETRY = 12;
/** vscsiif.h's host byte `XEN_VSCSIIF_RSLT_HOST_REQUEUE` (13), Linux's `DID_REQUEUE` where it has one. */
export const XEN_VSCSIIF_RSLT_HOST_REQUEUE = 13;
/** vscsiif.h's host byte `XEN_VSCSIIF_RSLT_HOST_TRANSPORT_DISRUPTED` (14), Linux's `DID_TRANSPORT_DISRUPTED` where it has one. */
export const XEN_VSCSIIF_RSLT_HOST_TRANSPORT_DISRUPTED = 14;
/** vscsiif.h's host byte `XEN_VSCSIIF_RSLT_HOST_TRANSPORT_FAILFAST` (15), Linux's `DID_TRANSPORT_FAILFAST` where it has one. */
export const XEN_VSCSIIF_RSLT_HOST_TRANSPORT_FAILFAST = 15;
/** vscsiif.h's host byte `XEN_VSCSIIF_RSLT_HOST_TARGET_FAILURE` (16), Linux's `DID_TARGET_FAILURE` where it has one. */
export const XEN_VSCSIIF_RSLT_HOST_TARGET_FAILURE = 16;
/** vscsiif.h's host byte `XEN_VSCSIIF_RSLT_HOST_NEXUS_FAILURE` (17), Linux's `DID_NEXUS_FAILURE` where it has one. */
export const XEN_VSCSIIF_RSLT_HOST_NEXUS_FAILURE = 17;
/** vscsiif.h's host byte `XEN_VSCSIIF_RSLT_HOST_ALLOC_FAILURE` (18), Linux's `DID_ALLOC_FAILURE` where it has one. */
export const XEN_VSCSIIF_RSLT_HOST_ALLOC_FAILURE = 18;
/** vscsiif.h's host byte `XEN_VSCSIIF_RSLT_HOST_MEDIUM_ERROR` (19), Linux's `DID_MEDIUM_ERROR` where it has one. */
export const XEN_VSCSIIF_RSLT_HOST_MEDIUM_ERROR = 19;
/** vscsiif.h's host byte `XEN_VSCSIIF_RSLT_HOST_TRANSPORT_MARGINAL` (20), Linux's `DID_TRANSPORT_MARGINAL` where it has one. */
export const XEN_VSCSIIF_RSLT_HOST_TRANSPORT_MARGINAL = 20;

/** Names of the host codes, indexed by value (for logs and `pvscsi abi`). */
export const XEN_VSCSIIF_RSLT_HOST_NAMES: readonly string[] = [
  "OK",
  "NO_CONNECT",
  "BUS_BUSY",
  "TIME_OUT",
  "BAD_TARGET",
  "ABORT",
  "PARITY",
  "ERROR",
  "RESET",
  "BAD_INTR",
  "PASSTHROUGH",
  "SOFT_ERROR",
  "IMM_RETRY",
  "REQUEUE",
  "TRANSPORT_DISRUPTED",
  "TRANSPORT_FAILFAST",
  "TARGET_FAILURE",
  "NEXUS_FAILURE",
  "ALLOC_FAILURE",
  "MEDIUM_ERROR",
  "TRANSPORT_MARGINAL",
];

/** `rslt` of an ABORT or RESET that succeeded (Linux's SUCCESS). */
export const XEN_VSCSIIF_RSLT_RESET_SUCCESS = 0x2002;
/** `rslt` of an ABORT or RESET that failed (Linux's FAILED). */
export const XEN_VSCSIIF_RSLT_RESET_FAILED = 0x2003;

/** `XEN_VSCSIIF_RSLT_STATUS`: the SAM status byte. */
export function rsltStatus(rslt: number): number {
  return rslt & 0xff;
}

/** `XEN_VSCSIIF_RSLT_HOST`: the host byte. */
export function rsltHost(rslt: number): number {
  return (rslt & 0x00ff0000) >>> 16;
}

/** Pack a host byte and a SAM status into `rslt` (bits 8-15 and 24-31 zero, as current backends do). */
export function makeRslt(host: number, status: number): number {
  return ((host & 0xff) << 16) | (status & 0xff);
}
