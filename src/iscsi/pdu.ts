/**
 * The iSCSI PDU codec (RFC 7143 §11): the 48-byte Basic Header Segment, Additional Header
 * Segments (the extended CDB of §11.3.5), the data segment padded to 4 bytes, and the optional
 * CRC32C header and data digests. Pure functions and a stream reassembler over typed arrays: no
 * sockets, no timers.
 * @module
 */
import { crc32c } from "./crc32c.js";

/** Initiator opcodes (RFC 7143 §11.2.1.2). */
export const OP_NOP_OUT = 0x00;
/** SCSI Command. */
export const OP_SCSI_CMD = 0x01;
/** SCSI Task Management Function Request. */
export const OP_TMF_REQ = 0x02;
/** Login Request. */
export const OP_LOGIN_REQ = 0x03;
/** Text Request. */
export const OP_TEXT_REQ = 0x04;
/** SCSI Data-Out. */
export const OP_DATA_OUT = 0x05;
/** Logout Request. */
export const OP_LOGOUT_REQ = 0x06;
/** SNACK Request. */
export const OP_SNACK = 0x10;
/** Target opcodes: NOP-In. */
export const OP_NOP_IN = 0x20;
/** SCSI Response. */
export const OP_SCSI_RSP = 0x21;
/** SCSI Task Management Function Response. */
export const OP_TMF_RSP = 0x22;
/** Login Response. */
export const OP_LOGIN_RSP = 0x23;
/** Text Response. */
export const OP_TEXT_RSP = 0x24;
/** SCSI Data-In. */
export const OP_DATA_IN = 0x25;
/** Logout Response. */
export const OP_LOGOUT_RSP = 0x26;
/** Ready To Transfer. */
export const OP_R2T = 0x31;
/** Asynchronous Message. */
export const OP_ASYNC = 0x32;
/** Reject. */
export const OP_REJECT = 0x3f;

/** The reserved tag "no task" (RFC 7143 §11.18.4, §11.19.3). */
export const RESERVED_TAG = 0xffffffff;
/** Length of the Basic Header Segment. */
export const BHS_LENGTH = 48;
/** AHS type of an extended CDB (§11.3.5). */
export const AHS_EXTENDED_CDB = 1;
/** AHS type of the expected bidirectional read data length (§11.3.6). */
export const AHS_BIDI_READ_LENGTH = 2;

/** Reject reasons (§11.17.1). */
export const REJECT_DATA_DIGEST = 0x02;
/** SNACK Reject. */
export const REJECT_SNACK = 0x03;
/** Protocol Error. */
export const REJECT_PROTOCOL_ERROR = 0x04;
/** Command not supported. */
export const REJECT_NOT_SUPPORTED = 0x05;
/** Invalid PDU field. */
export const REJECT_INVALID_FIELD = 0x09;

/** A PDU: its BHS, its AHS bytes (whole 4-byte words, possibly empty) and its data segment (unpadded). */
export interface Pdu {
  readonly bhs: Uint8Array;
  readonly ahs: Uint8Array;
  readonly data: Uint8Array;
}

/** Whether header and data digests (CRC32C) are in force on a connection. */
export interface Digests {
  readonly header: boolean;
  readonly data: boolean;
}

/** No digests: the login phase, and any session that negotiated `None`. */
export const NO_DIGESTS: Digests = { header: false, data: false };

/** A peer broke the framing rules; the connection cannot continue (ERL 0 drops it). */
export class IscsiProtocolError extends Error {
  override readonly name = "IscsiProtocolError";
}

/** A zeroed BHS with `opcode` (and the immediate bit when `immediate`). */
export function newBhs(opcode: number, immediate = false): Uint8Array {
  const b = new Uint8Array(BHS_LENGTH);
  b[0] = (opcode & 0x3f) | (immediate ? 0x40 : 0);
  return b;
}

/** Opcode of a BHS (byte 0, low 6 bits). */
export const opcodeOf = (bhs: Uint8Array): number => bhs[0]! & 0x3f;
/** The immediate-delivery bit of an initiator PDU. */
export const isImmediate = (bhs: Uint8Array): boolean => (bhs[0]! & 0x40) !== 0;

/** Big-endian 32-bit field at `at`. */
export function u32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

/** Store a big-endian 32-bit field at `at`. */
export function setU32(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 24) & 0xff;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

/** The LUN field (bytes 8-15) as a flat LUN number (SAM single-level peripheral or flat addressing). */
export function lunOf(bhs: Uint8Array): number {
  return ((bhs[8]! & 0x3f) << 8) | bhs[9]!;
}

/** Store `lun` in bytes 8-15: peripheral addressing below 256, flat addressing (01b) above. */
export function setLun(bhs: Uint8Array, lun: number): void {
  bhs.fill(0, 8, 16);
  if (lun < 256) bhs[9] = lun;
  else {
    bhs[8] = 0x40 | ((lun >> 8) & 0x3f);
    bhs[9] = lun & 0xff;
  }
}

/** Initiator Task Tag (bytes 16-19). */
export const ittOf = (bhs: Uint8Array): number => u32(bhs, 16);

/** DataSegmentLength of a BHS (bytes 5-7). */
export function dataSegmentLength(bhs: Uint8Array): number {
  return (bhs[5]! << 16) | (bhs[6]! << 8) | bhs[7]!;
}

const padded = (n: number): number => (n + 3) & ~3;

function putDigest(out: Uint8Array, at: number, crc: number): void {
  // Digests travel least-significant byte first (as libiscsi and Linux write them).
  out[at] = crc & 0xff;
  out[at + 1] = (crc >>> 8) & 0xff;
  out[at + 2] = (crc >>> 16) & 0xff;
  out[at + 3] = (crc >>> 24) & 0xff;
}

function getDigest(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

/**
 * Frame `pdu` for the wire: BHS (with TotalAHSLength and DataSegmentLength filled in), AHS,
 * header digest, data, pad bytes, data digest.
 */
export function encodePdu(pdu: Pdu, digests: Digests = NO_DIGESTS): Uint8Array {
  if (pdu.ahs.length % 4 !== 0) throw new RangeError("AHS length must be a multiple of 4");
  if (pdu.data.length > 0xffffff) throw new RangeError("data segment longer than 2^24-1");
  const headLen = BHS_LENGTH + pdu.ahs.length;
  const hd = digests.header ? 4 : 0;
  const dataLen = pdu.data.length;
  const dd = digests.data && dataLen > 0 ? 4 : 0;
  const out = new Uint8Array(headLen + hd + padded(dataLen) + dd);
  out.set(pdu.bhs, 0);
  out[4] = pdu.ahs.length / 4;
  out[5] = (dataLen >>> 16) & 0xff;
  out[6] = (dataLen >>> 8) & 0xff;
  out[7] = dataLen & 0xff;
  out.set(pdu.ahs, BHS_LENGTH);
  if (hd) putDigest(out, headLen, crc32c(out, 0, headLen));
  const dataAt = headLen + hd;
  out.set(pdu.data, dataAt);
  if (dd) putDigest(out, dataAt + padded(dataLen), crc32c(out, dataAt, dataAt + padded(dataLen)));
  return out;
}

/**
 * Reassembles PDUs from a byte stream. `push` appends what the socket delivered; `next` returns
 * one whole PDU or null when more bytes are needed. A framing fault (digest mismatch, a data
 * segment over `maxDataSegment`) throws {@link IscsiProtocolError}; the caller drops the
 * connection, as ERL 0 prescribes.
 */
export class PduReader {
  private buf = new Uint8Array(0);
  private start = 0;
  private end = 0;
  /** Digests to expect on the PDUs that follow (switched on after login). */
  digests: Digests = NO_DIGESTS;
  /** Largest data segment accepted (our MaxRecvDataSegmentLength, or a login-phase limit). */
  maxDataSegment: number;

  constructor(maxDataSegment = 65536) {
    this.maxDataSegment = maxDataSegment;
  }

  /** Bytes buffered but not yet returned as a PDU. */
  get buffered(): number {
    return this.end - this.start;
  }

  /** Append received bytes. */
  push(bytes: Uint8Array): void {
    const have = this.end - this.start;
    if (this.end + bytes.length > this.buf.length) {
      const grown = new Uint8Array(Math.max(this.buf.length * 2, have + bytes.length, 4096));
      grown.set(this.buf.subarray(this.start, this.end), 0);
      this.buf = grown;
      this.start = 0;
      this.end = have;
    }
    this.buf.set(bytes, this.end);
    this.end += bytes.length;
  }

  /** The next whole PDU, or null. Its arrays are copies the caller may keep. */
  next(): Pdu | null {
    const have = this.end - this.start;
    if (have < BHS_LENGTH) return null;
    const b = this.buf;
    const s = this.start;
    const ahsLen = b[s + 4]! * 4;
    const dataLen = (b[s + 5]! << 16) | (b[s + 6]! << 8) | b[s + 7]!;
    if (dataLen > this.maxDataSegment)
      throw new IscsiProtocolError(
        `data segment of ${dataLen} bytes exceeds MaxRecvDataSegmentLength ${this.maxDataSegment}`,
      );
    const headLen = BHS_LENGTH + ahsLen;
    const hd = this.digests.header ? 4 : 0;
    const dd = this.digests.data && dataLen > 0 ? 4 : 0;
    const total = headLen + hd + padded(dataLen) + dd;
    if (have < total) return null;
    if (hd && getDigest(b, s + headLen) !== crc32c(b, s, s + headLen))
      throw new IscsiProtocolError("header digest mismatch");
    const dataAt = s + headLen + hd;
    if (dd && getDigest(b, dataAt + padded(dataLen)) !== crc32c(b, dataAt, dataAt + padded(dataLen)))
      throw new IscsiProtocolError("data digest mismatch");
    const pdu: Pdu = {
      bhs: b.slice(s, s + BHS_LENGTH),
      ahs: b.slice(s + BHS_LENGTH, s + headLen),
      data: b.slice(dataAt, dataAt + dataLen),
    };
    this.start += total;
    if (this.start === this.end) this.start = this.end = 0;
    return pdu;
  }
}

/** The CDB of a SCSI Command PDU: the 16 BHS bytes, extended by an AHS of type 1 when present. */
export function cdbOf(pdu: Pdu): Uint8Array {
  const base = pdu.bhs.subarray(32, 48);
  let at = 0;
  while (at + 4 <= pdu.ahs.length) {
    const len = (pdu.ahs[at]! << 8) | pdu.ahs[at + 1]!;
    const type = pdu.ahs[at + 2]!;
    if (type === AHS_EXTENDED_CDB && len >= 1) {
      const ext = pdu.ahs.subarray(at + 4, at + 3 + len);
      const cdb = new Uint8Array(16 + ext.length);
      cdb.set(base, 0);
      cdb.set(ext, 16);
      return cdb;
    }
    at += padded(len + 3);
  }
  return base.slice();
}

/** The AHS carrying the bytes of `cdb` beyond the first 16 (empty for CDBs of 16 bytes or less). */
export function extendedCdbAhs(cdb: ArrayLike<number>): Uint8Array {
  if (cdb.length <= 16) return new Uint8Array(0);
  const extra = cdb.length - 16;
  const ahs = new Uint8Array(padded(extra + 4));
  ahs[0] = ((extra + 1) >> 8) & 0xff; // AHSLength counts the reserved byte plus the CDB bytes
  ahs[1] = (extra + 1) & 0xff;
  ahs[2] = AHS_EXTENDED_CDB;
  for (let i = 0; i < extra; i++) ahs[4 + i] = cdb[16 + i]!;
  return ahs;
}

/** "Reject" (§11.17): `reason`, with the offending header as its data segment. */
export function rejectPdu(
  reason: number,
  offending: Uint8Array,
  statSn: number,
  expCmdSn: number,
  maxCmdSn: number,
): Pdu {
  const bhs = newBhs(OP_REJECT);
  bhs[1] = 0x80;
  bhs[2] = reason;
  setU32(bhs, 16, RESERVED_TAG);
  setU32(bhs, 24, statSn);
  setU32(bhs, 28, expCmdSn);
  setU32(bhs, 32, maxCmdSn);
  return { bhs, ahs: new Uint8Array(0), data: offending.slice(0, BHS_LENGTH) };
}

/** Serial number arithmetic on 32-bit sequence numbers (RFC 1982, as RFC 7143 §4.2.2.1 uses it): a < b. */
export function snLt(a: number, b: number): boolean {
  return a !== b && (b - a) >>> 0 < 0x80000000;
}

/** a <= b in serial number arithmetic. */
export function snLe(a: number, b: number): boolean {
  return a === b || snLt(a, b);
}
