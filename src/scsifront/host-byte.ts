/**
 * Linux's host byte (`DID_*`) values, which the guest's SCSI layer sees. The numbering matches
 * `XEN_VSCSIIF_RSLT_HOST_*` one to one for 0..15 and 20.
 */
export const DID_OK = 0x00;
/** Linux host byte `DID_NO_CONNECT` (0x01), `include/scsi/scsi_status.h`. */
export const DID_NO_CONNECT = 0x01;
/** Linux host byte `DID_BUS_BUSY` (0x02), `include/scsi/scsi_status.h`. */
export const DID_BUS_BUSY = 0x02;
/** Linux host byte `DID_TIME_OUT` (0x03), `include/scsi/scsi_status.h`. */
export const DID_TIME_OUT = 0x03;
/** Linux host byte `DID_BAD_TARGET` (0x04), `include/scsi/scsi_status.h`. */
export const DID_BAD_TARGET = 0x04;
/** Linux host byte `DID_ABORT` (0x05), `include/scsi/scsi_status.h`. */
export const DID_ABORT = 0x05;
/** Linux host byte `DID_PARITY` (0x06), `include/scsi/scsi_status.h`. */
export const DID_PARITY = 0x06;
/** Linux host byte `DID_ERROR` (0x07), `include/scsi/scsi_status.h`. */
export const DID_ERROR = 0x07;
/** Linux host byte `DID_RESET` (0x08), `include/scsi/scsi_status.h`. */
export const DID_RESET = 0x08;
/** Linux host byte `DID_BAD_INTR` (0x09), `include/scsi/scsi_status.h`. */
export const DID_BAD_INTR = 0x09;
/** Linux host byte `DID_PASSTHROUGH` (0x0a), `include/scsi/scsi_status.h`. */
export const DID_PASSTHROUGH = 0x0a;
/** Linux host byte `DID_SOFT_ERROR` (0x0b), `include/scsi/scsi_status.h`. */
export const DID_SOFT_ERROR = 0x0b;
/** Linux host byte `DID_IMM_RETRY` (0x0c), `include/scsi/scsi_status.h`. */
export const DID_IMM_RETRY = 0x0c;
/** Linux host byte `DID_REQUEUE` (0x0d), `include/scsi/scsi_status.h`. */
export const DID_REQUEUE = 0x0d;
/** Linux host byte `DID_TRANSPORT_DISRUPTED` (0x0e), `include/scsi/scsi_status.h`. */
export const DID_TRANSPORT_DISRUPTED = 0x0e;
/** Linux host byte `DID_TRANSPORT_FAILFAST` (0x0f), `include/scsi/scsi_status.h`. */
export const DID_TRANSPORT_FAILFAST = 0x0f;
/** Linux host byte `DID_TRANSPORT_MARGINAL` (0x14), `include/scsi/scsi_status.h`. */
export const DID_TRANSPORT_MARGINAL = 0x14;

/**
 * `scsifront_host_byte`: the response's `XEN_VSCSIIF_RSLT_HOST_*` as the guest's `DID_*`. Codes
 * 0-15 and 20 map one to one; 16-19 (target, nexus, allocation and medium failures, which have no
 * host byte in Linux) and anything unknown become DID_ERROR.
 */
export function scsifrontHostByte(xenHost: number): number {
  if (xenHost <= DID_TRANSPORT_FAILFAST || xenHost === DID_TRANSPORT_MARGINAL) return xenHost;
  return DID_ERROR;
}
