import { crc32 } from "node:zlib";
import { be32, be64, put32, put64, putAscii } from "../../scsi/cdb.js";

/**
 * The cartridge file format ("pvtape", version 1): one file per cartridge, named
 * `<barcode>.pvtape`. All integers are big-endian. The file is a log of the tape's logical
 * objects in the order they sit on the medium; end-of-data is where the record chain ends.
 *
 * ```text
 * offset 0     header (4096 bytes)
 *   0   8  magic "PVTAPE\x00\x01"
 *   8   2  format version (1)
 *   10  2  header length (4096)
 *   12  4  flags: bit 0 write-protected, bit 1 clean (closed cleanly: the index trailer is valid)
 *   16  8  capacity: bytes of record area (records start at 4096) before the physical end
 *   24  8  early warning: bytes of record area after which writes report early warning
 *   32  8  durable end: file offset up to which the records are known to be on stable storage
 *          (after a clean close: end-of-data)
 *   40  8  index offset: file offset of the index trailer when clean (= durable end), else 0
 *   48  8  record count when clean, else 0
 *   56  1  density code the medium was written with (0: blank)
 *   57  1  medium type (0: data)
 *   58  6  reserved
 *   64  36 barcode, ASCII, space padded
 *   100 8  creation time (ms since 1970)
 *   ...    reserved (zero)
 *   4092 4 CRC-32 of bytes 0..4091
 * offset 4096  records, back to back:
 *   0   4  magic "PVRC"
 *   4   1  kind: 1 data block, 2 filemark
 *   5   3  reserved
 *   8   4  payload length (data: 1..16 MiB - 1; filemark: 0)
 *   12  4  CRC-32 of the payload
 *   16  8  logical object identifier (the record's number counted from BOP, 0-based)
 *   24  4  reserved
 *   28  4  CRC-32 of bytes 0..27
 *   32  …  payload
 * after the last record, only in a clean file: the index trailer
 *   0   8  magic "PVTINDEX"
 *   8   8  record count n
 *   16  4  CRC-32 of the entries
 *   20  4  CRC-32 of bytes 0..19
 *   24  4n entries: kind << 30 | payload length
 * ```
 *
 * Durability follows a tape drive's buffered mode (SSC-3 buffered mode): a WRITE is acknowledged once
 * its record is in the file (written, not yet synced: it survives a crash of the emulator but
 * not of the host); WRITE FILEMARKS with IMMED=0, REWIND, UNLOAD and closing are sync points
 * that make every earlier record durable and advance the header's durable end.
 *
 * Opening a cartridge (see `file-cartridge.ts`): a clean file's index comes from the trailer.
 * Otherwise the records are scanned: a record before the durable end that fails its checks, or
 * a file shorter than the durable end, means the cartridge is corrupt or truncated and the drive
 * reports it NOT READY, naming the file; past the durable end (the tail a crash left), the scan
 * keeps every whole, checksummed record and cuts the file after the last one. A crash therefore
 * loses at most the records that had not been acknowledged.
 */

/** Header magic, 8 bytes. */
export const CARTRIDGE_MAGIC = Uint8Array.from([0x50, 0x56, 0x54, 0x41, 0x50, 0x45, 0x00, 0x01]);
/** Format version this code writes and reads. */
export const CARTRIDGE_VERSION = 1;
/** Header length; records start here. */
export const CARTRIDGE_HEADER_SIZE = 4096;

/** Header field offsets. */
export const HDR_VERSION = 8;
export const HDR_LENGTH = 10;
export const HDR_FLAGS = 12;
export const HDR_CAPACITY = 16;
export const HDR_EARLY_WARNING = 24;
export const HDR_DURABLE_END = 32;
export const HDR_INDEX_OFFSET = 40;
export const HDR_RECORD_COUNT = 48;
export const HDR_DENSITY = 56;
export const HDR_MEDIUM_TYPE = 57;
export const HDR_BARCODE = 64;
export const HDR_CREATED = 100;
export const HDR_CRC = CARTRIDGE_HEADER_SIZE - 4;

/** Header flag bits. */
export const FLAG_WRITE_PROTECTED = 0x1;
export const FLAG_CLEAN = 0x2;

/** Record header length. */
export const RECORD_HEADER_SIZE = 32;
/** Record magic "PVRC". */
export const RECORD_MAGIC = 0x50565243;
/** Record kinds. */
export const RECORD_DATA = 1;
export const RECORD_FILEMARK = 2;
/** Largest payload a record can hold (the 3-byte length fields of READ/WRITE(6)). */
export const MAX_RECORD_PAYLOAD = 0xffffff;

/** Index trailer magic "PVTINDEX" and header length. */
export const INDEX_MAGIC = Uint8Array.from([0x50, 0x56, 0x54, 0x49, 0x4e, 0x44, 0x45, 0x58]);
export const INDEX_HEADER_SIZE = 24;

/** Longest barcode (the SMC-3 volume identifier). */
export const MAX_BARCODE_LENGTH = 32;

/** What a cartridge header says. */
export interface CartridgeHeader {
  readonly version: number;
  writeProtected: boolean;
  clean: boolean;
  readonly capacity: number;
  readonly earlyWarning: number;
  durableEnd: number;
  indexOffset: number;
  recordCount: number;
  density: number;
  readonly mediumType: number;
  readonly barcode: string;
  readonly created: number;
}

/** The header of a new, empty, clean cartridge: no records, nothing but the header durable yet. */
export function blankHeader(
  barcode: string,
  capacity: number,
  earlyWarning: number,
  writeProtected: boolean,
): CartridgeHeader {
  return {
    version: CARTRIDGE_VERSION,
    writeProtected,
    clean: true,
    capacity,
    earlyWarning,
    durableEnd: CARTRIDGE_HEADER_SIZE,
    indexOffset: CARTRIDGE_HEADER_SIZE,
    recordCount: 0,
    density: 0,
    mediumType: 0,
    barcode,
    created: Date.now(),
  };
}

/** CRC-32 (IEEE, zlib) of `b[from, to)`. */
export function crcOf(b: Uint8Array, from: number, to: number): number {
  return crc32(from === 0 && to === b.length ? b : b.subarray(from, to)) >>> 0;
}

/** Encode `h` into the 4096-byte `b` (CRC included). */
export function encodeHeader(b: Uint8Array, h: CartridgeHeader): void {
  b.fill(0, 0, CARTRIDGE_HEADER_SIZE);
  b.set(CARTRIDGE_MAGIC, 0);
  b[HDR_VERSION] = (h.version >>> 8) & 0xff;
  b[HDR_VERSION + 1] = h.version & 0xff;
  b[HDR_LENGTH] = CARTRIDGE_HEADER_SIZE >>> 8;
  b[HDR_LENGTH + 1] = CARTRIDGE_HEADER_SIZE & 0xff;
  put32(b, HDR_FLAGS, (h.writeProtected ? FLAG_WRITE_PROTECTED : 0) | (h.clean ? FLAG_CLEAN : 0));
  put64(b, HDR_CAPACITY, h.capacity);
  put64(b, HDR_EARLY_WARNING, h.earlyWarning);
  put64(b, HDR_DURABLE_END, h.durableEnd);
  put64(b, HDR_INDEX_OFFSET, h.indexOffset);
  put64(b, HDR_RECORD_COUNT, h.recordCount);
  b[HDR_DENSITY] = h.density & 0xff;
  b[HDR_MEDIUM_TYPE] = h.mediumType & 0xff;
  putAscii(b, HDR_BARCODE, h.barcode, 36);
  put64(b, HDR_CREATED, h.created);
  put32(b, HDR_CRC, crcOf(b, 0, HDR_CRC));
}

/** Decode a header, or return why it is not one. */
export function decodeHeader(b: Uint8Array): CartridgeHeader | string {
  if (b.length < CARTRIDGE_HEADER_SIZE)
    return `header is ${b.length} bytes, expected ${CARTRIDGE_HEADER_SIZE}`;
  for (let i = 0; i < CARTRIDGE_MAGIC.length; i++) {
    if (b[i] !== CARTRIDGE_MAGIC[i]) return "not a pvscsi cartridge (bad magic)";
  }
  if (be32(b, HDR_CRC) !== crcOf(b, 0, HDR_CRC)) return "header checksum mismatch";
  const version = (b[HDR_VERSION]! << 8) | b[HDR_VERSION + 1]!;
  if (version !== CARTRIDGE_VERSION) return `format version ${version} is not supported (expected 1)`;
  const length = (b[HDR_LENGTH]! << 8) | b[HDR_LENGTH + 1]!;
  if (length !== CARTRIDGE_HEADER_SIZE) return `header length ${length}, expected ${CARTRIDGE_HEADER_SIZE}`;
  const flags = be32(b, HDR_FLAGS);
  const capacity = be64(b, HDR_CAPACITY);
  const earlyWarning = be64(b, HDR_EARLY_WARNING);
  const durableEnd = be64(b, HDR_DURABLE_END);
  if (capacity < RECORD_HEADER_SIZE || !Number.isSafeInteger(capacity)) return `bad capacity ${capacity}`;
  if (earlyWarning > capacity) return `early warning ${earlyWarning} beyond capacity ${capacity}`;
  if (durableEnd < CARTRIDGE_HEADER_SIZE || durableEnd > CARTRIDGE_HEADER_SIZE + capacity)
    return `bad durable end ${durableEnd}`;
  let barcode = "";
  for (let i = 0; i < 36; i++) barcode += String.fromCharCode(b[HDR_BARCODE + i]!);
  return {
    version,
    writeProtected: (flags & FLAG_WRITE_PROTECTED) !== 0,
    clean: (flags & FLAG_CLEAN) !== 0,
    capacity,
    earlyWarning,
    durableEnd,
    indexOffset: be64(b, HDR_INDEX_OFFSET),
    recordCount: be64(b, HDR_RECORD_COUNT),
    density: b[HDR_DENSITY]!,
    mediumType: b[HDR_MEDIUM_TYPE]!,
    barcode: barcode.trimEnd(),
    created: be64(b, HDR_CREATED),
  };
}

/**
 * Write a record header at `b[at]` for a record of `kind` with a `length`-byte payload whose
 * CRC-32 is `payloadCrc`, the `object`-th logical object of the tape.
 */
export function encodeRecordHeader(
  b: Uint8Array,
  at: number,
  kind: number,
  length: number,
  payloadCrc: number,
  object: number,
): void {
  put32(b, at, RECORD_MAGIC);
  b[at + 4] = kind;
  b[at + 5] = 0;
  b[at + 6] = 0;
  b[at + 7] = 0;
  put32(b, at + 8, length);
  put32(b, at + 12, payloadCrc);
  put64(b, at + 16, object);
  put32(b, at + 24, 0);
  put32(b, at + 28, crcOf(b, at, at + 28));
}

/** CRC of an empty payload (a filemark's). */
export const EMPTY_CRC = 0;

/**
 * Check the record header at `b[at]`: 0 when it is a sound header of object `object`,
 * else a short reason. On success {@link recordKind}/{@link recordLength} read its fields.
 */
export function checkRecordHeader(b: Uint8Array, at: number, object: number): string | null {
  if (be32(b, at) !== RECORD_MAGIC) return "no record magic";
  if (be32(b, at + 28) !== crcOf(b, at, at + 28)) return "record header checksum mismatch";
  const kind = b[at + 4]!;
  const length = be32(b, at + 8);
  if (kind === RECORD_FILEMARK) {
    if (length !== 0) return "filemark with a payload";
  } else if (kind === RECORD_DATA) {
    if (length === 0 || length > MAX_RECORD_PAYLOAD) return `bad block length ${length}`;
  } else {
    return `unknown record kind ${kind}`;
  }
  if (be64(b, at + 16) !== object) return `record of object ${be64(b, at + 16)} where ${object} belongs`;
  return null;
}

/** Kind of the (checked) record header at `b[at]`. */
export const recordKind = (b: Uint8Array, at: number): number => b[at + 4]!;
/** Payload length of the (checked) record header at `b[at]`. */
export const recordLength = (b: Uint8Array, at: number): number => be32(b, at + 8);
/** Payload CRC of the (checked) record header at `b[at]`. */
export const recordCrc = (b: Uint8Array, at: number): number => be32(b, at + 12);

/** Encode an index entry. */
export const indexEntry = (kind: number, length: number): number => ((kind << 30) | length) >>> 0;
