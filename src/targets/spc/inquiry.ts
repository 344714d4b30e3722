import { put16, putAscii } from "../../scsi/cdb.js";
import type { DeviceInfo } from "../../scsi/device.js";

/** Version descriptors (SPC-4 Table 147) for standard INQUIRY bytes 58+. */
export const VERSION_SAM5 = 0x00a0;
export const VERSION_SPC3 = 0x0300;
export const VERSION_SPC4 = 0x0460;
export const VERSION_SBC3 = 0x04c0;
export const VERSION_SSC3 = 0x0400;
export const VERSION_SMC3 = 0x0480;

/** Length of the standard INQUIRY data pvscsi returns: 36 bytes plus vendor area and 8 version descriptors. */
export const STANDARD_INQUIRY_LENGTH = 74;

/**
 * Standard INQUIRY data (SPC-4 §6.6.2) for a connected logical unit: qualifier 000b, HiSup,
 * response data format 2, CmdQue, and the version descriptors given (at most 8).
 */
export function writeStandardInquiry(b: Uint8Array, info: DeviceInfo, versions: readonly number[]): number {
  b.fill(0, 0, STANDARD_INQUIRY_LENGTH);
  b[0] = info.type & 0x1f;
  b[1] = info.removable ? 0x80 : 0;
  b[2] = info.scsiLevel;
  b[3] = 0x12; // HISUP | RESPONSE DATA FORMAT 2
  b[4] = STANDARD_INQUIRY_LENGTH - 5;
  b[7] = 0x02; // CMDQUE: tasks are queued (SAM-5 §8.6)
  putAscii(b, 8, info.vendor, 8);
  putAscii(b, 16, info.product, 16);
  putAscii(b, 32, info.revision, 4);
  for (let i = 0; i < versions.length && i < 8; i++) put16(b, 58 + 2 * i, versions[i]!);
  return STANDARD_INQUIRY_LENGTH;
}

/**
 * Standard INQUIRY data at a LUN with no logical unit (SPC-4 §6.6.2: PERIPHERAL QUALIFIER 011b,
 * DEVICE TYPE 1Fh), as QEMU's `scsi_target_emulate_inquiry` and tgt return it.
 */
export function writeNoLunInquiry(b: Uint8Array, scsiLevel: number): number {
  b.fill(0, 0, 36);
  b[0] = 0x7f;
  b[2] = scsiLevel;
  b[3] = 0x12;
  b[4] = 36 - 5;
  return 36;
}

/** VPD page 00h, Supported VPD Pages (SPC-4 §7.8.17). */
export function writeVpdSupportedPages(b: Uint8Array, byte0: number, pages: readonly number[]): number {
  b[0] = byte0;
  b[1] = 0x00;
  put16(b, 2, pages.length);
  for (let i = 0; i < pages.length; i++) b[4 + i] = pages[i]!;
  return 4 + pages.length;
}

/** VPD page 80h, Unit Serial Number (SPC-4 §7.8.18). */
export function writeVpdSerial(b: Uint8Array, byte0: number, serial: string): number {
  b[0] = byte0;
  b[1] = 0x80;
  put16(b, 2, serial.length);
  putAscii(b, 4, serial, serial.length);
  return 4 + serial.length;
}

/** What VPD page 83h names. */
export interface DeviceIdentity {
  /** 8-byte NAA designator of the logical unit. */
  readonly wwn: Uint8Array;
  readonly vendor: string;
  readonly serial: string;
  /** 8-byte NAA designator of the target port, when the unit sits behind one. */
  readonly targetPortWwn: Uint8Array | null;
  readonly relativePortId: number;
}

/**
 * VPD page 83h, Device Identification (SPC-4 §7.8.6): the logical unit's NAA designator (the
 * device's WWN), a T10 vendor ID designator (vendor + serial), and — when the unit sits behind
 * a target port — the target port's NAA designator and relative target port identifier.
 * PIV is 0: Xen's PV SCSI transport has no protocol identifier of its own.
 */
export function writeVpdDeviceIdentification(b: Uint8Array, byte0: number, id: DeviceIdentity): number {
  b[0] = byte0;
  b[1] = 0x83;
  let n = 4;
  // NAA, binary, association 00b (logical unit).
  b[n] = 0x01;
  b[n + 1] = 0x03;
  b[n + 2] = 0;
  b[n + 3] = 8;
  b.set(id.wwn, n + 4);
  n += 12;
  // T10 vendor ID, ASCII, association 00b: 8-byte vendor then the serial.
  const t10Len = 8 + id.serial.length;
  b[n] = 0x02;
  b[n + 1] = 0x01;
  b[n + 2] = 0;
  b[n + 3] = t10Len;
  putAscii(b, n + 4, id.vendor, 8);
  putAscii(b, n + 12, id.serial, id.serial.length);
  n += 4 + t10Len;
  if (id.targetPortWwn) {
    // NAA, binary, association 01b (target port).
    b[n] = 0x01;
    b[n + 1] = 0x13;
    b[n + 2] = 0;
    b[n + 3] = 8;
    b.set(id.targetPortWwn, n + 4);
    n += 12;
    // Relative target port identifier (type 4), association 01b.
    b[n] = 0x01;
    b[n + 1] = 0x14;
    b[n + 2] = 0;
    b[n + 3] = 4;
    b[n + 4] = 0;
    b[n + 5] = 0;
    put16(b, n + 6, id.relativePortId);
    n += 8;
  }
  put16(b, 2, n - 4);
  return n;
}

/** Parse 16 hex digits into the 8 bytes of an NAA designator. */
export function wwnBytes(hex: string): Uint8Array {
  const out = new Uint8Array(8);
  for (let i = 0; i < 8; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16) || 0;
  return out;
}
