/**
 * Sense data (SPC-4 §4.5): fixed format (response code 0x70) and descriptor format (0x72), for
 * every device type. A sense code is one number, `key << 16 | asc << 8 | ascq`, so a device can
 * keep and compare them without allocating; {@link writeSense} lays one out in a task's scratch.
 */

/** Pack a sense key, ASC and ASCQ into one sense code. */
export function senseCode(key: number, asc: number, ascq: number): number {
  return ((key & 0x0f) << 16) | ((asc & 0xff) << 8) | (ascq & 0xff);
}

/** The sense key of a packed sense code. */
export const senseKeyOf = (code: number): number => (code >>> 16) & 0x0f;
/** The ASC of a packed sense code. */
export const ascOf = (code: number): number => (code >>> 8) & 0xff;
/** The ASCQ of a packed sense code. */
export const ascqOf = (code: number): number => code & 0xff;

/** Sense keys (SPC-4 Table 48). */
export const SENSE_KEY_NO_SENSE = 0x0;
/** Sense key NOT READY (0x2), SPC-4 Table 48. */
export const SENSE_KEY_NOT_READY = 0x2;
/** Sense key MEDIUM ERROR (0x3), SPC-4 Table 48. */
export const SENSE_KEY_MEDIUM_ERROR = 0x3;
/** Sense key HARDWARE ERROR (0x4), SPC-4 Table 48. */
export const SENSE_KEY_HARDWARE_ERROR = 0x4;
/** Sense key ILLEGAL REQUEST (0x5), SPC-4 Table 48. */
export const SENSE_KEY_ILLEGAL_REQUEST = 0x5;
/** Sense key UNIT ATTENTION (0x6), SPC-4 Table 48. */
export const SENSE_KEY_UNIT_ATTENTION = 0x6;
/** Sense key DATA PROTECT (0x7), SPC-4 Table 48. */
export const SENSE_KEY_DATA_PROTECT = 0x7;
/** Sense key BLANK CHECK (0x8), SPC-4 Table 48. */
export const SENSE_KEY_BLANK_CHECK = 0x8;
/** Sense key ABORTED COMMAND (0xb), SPC-4 Table 48. */
export const SENSE_KEY_ABORTED_COMMAND = 0xb;
/** Sense key VOLUME OVERFLOW (0xd), SPC-4 Table 48. */
export const SENSE_KEY_VOLUME_OVERFLOW = 0xd;
/** Sense key MISCOMPARE (0xe), SPC-4 Table 48. */
export const SENSE_KEY_MISCOMPARE = 0xe;

// The sense codes pvscsi reports (SPC-4 Annex D). Names follow the T10 ASC/ASCQ list.
/** Sense key 0h, ASC/ASCQ 00h/00h: NO ADDITIONAL SENSE (SPC-4 Annex D). */
export const NO_ADDITIONAL_SENSE = 0x000000;
/** Sense key 0h, ASC/ASCQ 00h/01h: FILEMARK DETECTED (SPC-4 Annex D). */
export const FILEMARK_DETECTED = 0x000001;
/** Sense key 0h, ASC/ASCQ 00h/02h: END OF PARTITION MEDIUM DETECTED (SPC-4 Annex D). */
export const END_OF_PARTITION_MEDIUM_DETECTED = 0x000002;
/** Sense key 0h, ASC/ASCQ 00h/04h: BEGINNING OF PARTITION MEDIUM DETECTED (SPC-4 Annex D). */
export const BEGINNING_OF_PARTITION_MEDIUM_DETECTED = 0x000004;
/** Sense key 8h, ASC/ASCQ 00h/05h: END OF DATA DETECTED (SPC-4 Annex D). */
export const END_OF_DATA_DETECTED = 0x080005;
/** Sense key 2h, ASC/ASCQ 04h/00h: LUN NOT READY CAUSE NOT REPORTABLE (SPC-4 Annex D). */
export const LUN_NOT_READY_CAUSE_NOT_REPORTABLE = 0x020400;
/** Sense key 2h, ASC/ASCQ 04h/01h: LUN NOT READY BECOMING READY (SPC-4 Annex D). */
export const LUN_NOT_READY_BECOMING_READY = 0x020401;
/** Sense key 2h, ASC/ASCQ 04h/02h: LUN NOT READY INITIALIZING COMMAND REQUIRED (SPC-4 Annex D). */
export const LUN_NOT_READY_INITIALIZING_COMMAND_REQUIRED = 0x020402;
/** Sense key 2h, ASC/ASCQ 04h/03h: LUN NOT READY MANUAL INTERVENTION REQUIRED (SPC-4 Annex D). */
export const LUN_NOT_READY_MANUAL_INTERVENTION_REQUIRED = 0x020403;
/** Sense key 2h, ASC/ASCQ 3Ah/00h: MEDIUM NOT PRESENT (SPC-4 Annex D). */
export const MEDIUM_NOT_PRESENT = 0x023a00;
/** Sense key 2h, ASC/ASCQ 3Ah/01h: MEDIUM NOT PRESENT TRAY CLOSED (SPC-4 Annex D). */
export const MEDIUM_NOT_PRESENT_TRAY_CLOSED = 0x023a01;
/** Sense key 2h, ASC/ASCQ 3Ah/02h: MEDIUM NOT PRESENT TRAY OPEN (SPC-4 Annex D). */
export const MEDIUM_NOT_PRESENT_TRAY_OPEN = 0x023a02;
/** Sense key 2h, ASC/ASCQ 53h/02h: NOT READY MEDIUM REMOVAL PREVENTED (SPC-4 Annex D). */
export const NOT_READY_MEDIUM_REMOVAL_PREVENTED = 0x025302;
/** Sense key 3h, ASC/ASCQ 0Ch/00h: WRITE ERROR (SPC-4 Annex D). */
export const WRITE_ERROR = 0x030c00;
/** Sense key 3h, ASC/ASCQ 11h/00h: UNRECOVERED READ ERROR (SPC-4 Annex D). */
export const UNRECOVERED_READ_ERROR = 0x031100;
/** Sense key 4h, ASC/ASCQ 44h/00h: INTERNAL TARGET FAILURE (SPC-4 Annex D). */
export const INTERNAL_TARGET_FAILURE = 0x044400;
/** Sense key 5h, ASC/ASCQ 1Ah/00h: PARAMETER LIST LENGTH ERROR (SPC-4 Annex D). */
export const PARAMETER_LIST_LENGTH_ERROR = 0x051a00;
/** Sense key 5h, ASC/ASCQ 20h/00h: INVALID COMMAND OPERATION CODE (SPC-4 Annex D). */
export const INVALID_COMMAND_OPERATION_CODE = 0x052000;
/** Sense key 5h, ASC/ASCQ 21h/00h: LBA OUT OF RANGE (SPC-4 Annex D). */
export const LBA_OUT_OF_RANGE = 0x052100;
/** Sense key 5h, ASC/ASCQ 24h/00h: INVALID FIELD IN CDB (SPC-4 Annex D). */
export const INVALID_FIELD_IN_CDB = 0x052400;
/** Sense key 5h, ASC/ASCQ 25h/00h: LOGICAL UNIT NOT SUPPORTED (SPC-4 Annex D). */
export const LOGICAL_UNIT_NOT_SUPPORTED = 0x052500;
/** Sense key 5h, ASC/ASCQ 26h/00h: INVALID FIELD IN PARAMETER LIST (SPC-4 Annex D). */
export const INVALID_FIELD_IN_PARAMETER_LIST = 0x052600;
/** Sense key 5h, ASC/ASCQ 26h/04h: INVALID RELEASE OF PERSISTENT RESERVATION (SPC-4 Annex D). */
export const INVALID_RELEASE_OF_PERSISTENT_RESERVATION = 0x052604;
/** Sense key 5h, ASC/ASCQ 0Eh/03h: INVALID FIELD IN COMMAND IU (SPC-4 Annex D). */
export const INVALID_FIELD_IN_COMMAND_IU = 0x050e03;
/** Sense key 5h, ASC/ASCQ 39h/00h: SAVING PARAMETERS NOT SUPPORTED (SPC-4 Annex D). */
export const SAVING_PARAMETERS_NOT_SUPPORTED = 0x053900;
/** Sense key 5h, ASC/ASCQ 53h/02h: MEDIUM REMOVAL PREVENTED (SPC-4 Annex D). */
export const MEDIUM_REMOVAL_PREVENTED = 0x055302;
/** Sense key 5h, ASC/ASCQ 55h/04h: INSUFFICIENT REGISTRATION RESOURCES (SPC-4 Annex D). */
export const INSUFFICIENT_REGISTRATION_RESOURCES = 0x055504;
/** Sense key 6h, ASC/ASCQ 29h/00h: POWER ON RESET OCCURRED (SPC-4 Annex D). */
export const POWER_ON_RESET_OCCURRED = 0x062900;
/** Sense key 6h, ASC/ASCQ 28h/00h: NOT READY TO READY CHANGE (SPC-4 Annex D). */
export const NOT_READY_TO_READY_CHANGE = 0x062800;
/** Sense key 6h, ASC/ASCQ 2Ah/01h: MODE PARAMETERS CHANGED (SPC-4 Annex D). */
export const MODE_PARAMETERS_CHANGED = 0x062a01;
/** Sense key 6h, ASC/ASCQ 2Ah/03h: RESERVATIONS PREEMPTED (SPC-4 Annex D). */
export const RESERVATIONS_PREEMPTED = 0x062a03;
/** Sense key 6h, ASC/ASCQ 2Ah/04h: RESERVATIONS RELEASED (SPC-4 Annex D). */
export const RESERVATIONS_RELEASED = 0x062a04;
/** Sense key 6h, ASC/ASCQ 2Ah/05h: REGISTRATIONS PREEMPTED (SPC-4 Annex D). */
export const REGISTRATIONS_PREEMPTED = 0x062a05;
/** Sense key 6h, ASC/ASCQ 2Ah/09h: CAPACITY DATA HAS CHANGED (SPC-4 Annex D). */
export const CAPACITY_DATA_HAS_CHANGED = 0x062a09;
/** Sense key 6h, ASC/ASCQ 3Fh/0Eh: REPORTED LUNS DATA HAS CHANGED (SPC-4 Annex D). */
export const REPORTED_LUNS_DATA_HAS_CHANGED = 0x063f0e;
/** Sense key 7h, ASC/ASCQ 27h/00h: WRITE PROTECTED (SPC-4 Annex D). */
export const WRITE_PROTECTED = 0x072700;
/** Sense key Eh, ASC/ASCQ 1Dh/00h: MISCOMPARE DURING VERIFY (SPC-4 Annex D). */
export const MISCOMPARE_DURING_VERIFY = 0x0e1d00;
// Stream and medium changer codes (SSC-3 §4.2, SMC-3 §6).
/** Sense key 2h, ASC/ASCQ 31h/00h: NOT READY MEDIUM FORMAT CORRUPTED (SPC-4 Annex D). */
export const NOT_READY_MEDIUM_FORMAT_CORRUPTED = 0x023100;
/** Sense key 5h, ASC/ASCQ 3Bh/0Ch: POSITION PAST BEGINNING OF MEDIUM (SPC-4 Annex D). */
export const POSITION_PAST_BEGINNING_OF_MEDIUM = 0x053b0c;
/** Sense key 5h, ASC/ASCQ 3Bh/0Dh: MEDIUM DESTINATION ELEMENT FULL (SPC-4 Annex D). */
export const MEDIUM_DESTINATION_ELEMENT_FULL = 0x053b0d;
/** Sense key 5h, ASC/ASCQ 3Bh/0Eh: MEDIUM SOURCE ELEMENT EMPTY (SPC-4 Annex D). */
export const MEDIUM_SOURCE_ELEMENT_EMPTY = 0x053b0e;
/** Sense key 5h, ASC/ASCQ 21h/01h: INVALID ELEMENT ADDRESS (SPC-4 Annex D). */
export const INVALID_ELEMENT_ADDRESS = 0x052101;
/** Sense key 6h, ASC/ASCQ 28h/01h: IMPORT OR EXPORT ELEMENT ACCESSED (SPC-4 Annex D). */
export const IMPORT_OR_EXPORT_ELEMENT_ACCESSED = 0x062801;
/** Sense key Dh, ASC/ASCQ 00h/02h: VOLUME OVERFLOW END OF PARTITION (SPC-4 Annex D). */
export const VOLUME_OVERFLOW_END_OF_PARTITION = 0x0d0002;

/** Bits of byte 2 of fixed-format sense (SPC-4 §4.5.3) and of the stream-commands descriptor. */
export const SENSE_FILEMARK = 0x80;
/** Fixed-format sense byte 2 flag EOM (0x40), SPC-4 §4.5.3. */
export const SENSE_EOM = 0x40;
/** Fixed-format sense byte 2 flag ILI (0x20), SPC-4 §4.5.3. */
export const SENSE_ILI = 0x20;

/** `information` value meaning "no INFORMATION field" (VALID = 0). */
export const NO_INFORMATION = Number.MIN_SAFE_INTEGER;

/** Fixed-format sense is 18 bytes: 8-byte header plus ADDITIONAL SENSE LENGTH 10. */
export const FIXED_SENSE_LENGTH = 18;

/**
 * A sense-key-specific field pointer (SPC-4 §4.5.2.4.2) for ILLEGAL REQUEST: SKSV, C/D (1 = the
 * error is in the CDB, 0 = in the parameter list), and, when `bit` is given, BPV and the bit
 * pointer (the most significant bit of the field). Pass the result as `sks` to {@link writeSense}.
 */
export function fieldPointer(inCdb: boolean, byte: number, bit = -1): number {
  let v = 0x800000 | (inCdb ? 0x400000 : 0) | (byte & 0xffff);
  if (bit >= 0 && bit <= 7) v |= 0x080000 | (bit << 16);
  return v;
}

/**
 * Write sense data for `code` into `buf` (at least 252 bytes, or 18 / 32 as needed) and return
 * its length.
 *
 * - `descriptor`: descriptor format (0x72) instead of fixed (0x70); a device chooses it when the
 *   Control mode page's D_SENSE bit is set (SPC-4 §7.5.8) or REQUEST SENSE asks with DESC=1.
 * - `flags`: {@link SENSE_FILEMARK} | {@link SENSE_EOM} | {@link SENSE_ILI}. In descriptor format
 *   they go into a stream-commands descriptor (SSC-4 §4.2.18; ILI for block devices in a block
 *   commands descriptor, SBC-3 §4.18.2: pass `blockDevice`).
 * - `information`: the INFORMATION field (signed for tape residues, two's complement in 4 bytes),
 *   or {@link NO_INFORMATION}. Fixed format sets VALID only when it fits in 4 bytes (SPC-4
 *   §4.5.3: otherwise VALID is 0); descriptor format carries 8 bytes.
 * - `sks`: a 24-bit sense-key-specific value with SKSV set (e.g. from {@link fieldPointer}), or 0.
 */
export function writeSense(
  buf: Uint8Array,
  descriptor: boolean,
  code: number,
  flags = 0,
  information = NO_INFORMATION,
  sks = 0,
  blockDevice = false,
): number {
  const key = (code >>> 16) & 0x0f;
  const asc = (code >>> 8) & 0xff;
  const ascq = code & 0xff;
  flags &= SENSE_FILEMARK | SENSE_EOM | SENSE_ILI;
  if (!descriptor) {
    buf.fill(0, 0, FIXED_SENSE_LENGTH);
    buf[0] = 0x70;
    buf[2] = key | flags;
    if (information !== NO_INFORMATION && information >= -0x80000000 && information <= 0xffffffff) {
      buf[0] = 0xf0; // VALID
      const v = information >>> 0;
      buf[3] = v >>> 24;
      buf[4] = (v >>> 16) & 0xff;
      buf[5] = (v >>> 8) & 0xff;
      buf[6] = v & 0xff;
    }
    buf[7] = FIXED_SENSE_LENGTH - 8;
    buf[12] = asc;
    buf[13] = ascq;
    if (sks & 0x800000) {
      buf[15] = (sks >>> 16) & 0xff;
      buf[16] = (sks >>> 8) & 0xff;
      buf[17] = sks & 0xff;
    }
    return FIXED_SENSE_LENGTH;
  }
  buf.fill(0, 0, 8);
  buf[0] = 0x72;
  buf[1] = key;
  buf[2] = asc;
  buf[3] = ascq;
  let n = 8;
  if (information !== NO_INFORMATION) {
    // Information descriptor (SPC-4 §4.5.2.2): type 0, length 0x0A, VALID, 8-byte field.
    buf.fill(0, n, n + 12);
    buf[n] = 0x00;
    buf[n + 1] = 0x0a;
    buf[n + 2] = 0x80;
    writeInt64(buf, n + 4, information);
    n += 12;
  }
  if (sks & 0x800000) {
    // Sense key specific descriptor (SPC-4 §4.5.2.4): type 2, length 6.
    buf.fill(0, n, n + 8);
    buf[n] = 0x02;
    buf[n + 1] = 0x06;
    buf[n + 4] = (sks >>> 16) & 0xff;
    buf[n + 5] = (sks >>> 8) & 0xff;
    buf[n + 6] = sks & 0xff;
    n += 8;
  }
  if (flags !== 0) {
    if (blockDevice) {
      // Block commands descriptor (SBC-3 §4.18.2): type 5, length 2, ILI in byte 3 bit 5.
      buf[n] = 0x05;
      buf[n + 1] = 0x02;
      buf[n + 2] = 0;
      buf[n + 3] = flags & SENSE_ILI;
    } else {
      // Stream commands descriptor (SSC-4 §4.2.18): type 4, length 2, FILEMARK/EOM/ILI in byte 3.
      buf[n] = 0x04;
      buf[n + 1] = 0x02;
      buf[n + 2] = 0;
      buf[n + 3] = flags;
    }
    n += 4;
  }
  buf[7] = n - 8;
  return n;
}

/** Big-endian two's-complement 64-bit store of a safe integer (no BigInt: zero allocation). */
function writeInt64(buf: Uint8Array, at: number, v: number): void {
  // floor() makes `hi` the two's-complement high word for negatives too; `lo` is in [0, 2^32).
  const hi = Math.floor(v / 0x1_0000_0000) >>> 0;
  const lo = (v - Math.floor(v / 0x1_0000_0000) * 0x1_0000_0000) >>> 0;
  buf[at] = hi >>> 24;
  buf[at + 1] = (hi >>> 16) & 0xff;
  buf[at + 2] = (hi >>> 8) & 0xff;
  buf[at + 3] = hi & 0xff;
  buf[at + 4] = lo >>> 24;
  buf[at + 5] = (lo >>> 16) & 0xff;
  buf[at + 6] = (lo >>> 8) & 0xff;
  buf[at + 7] = lo & 0xff;
}

/** Decoded sense data (tests, tools, logging): key, ASC, ASCQ and the fields a device sets. */
export interface DecodedSense {
  readonly format: "fixed" | "descriptor";
  readonly current: boolean;
  readonly key: number;
  readonly asc: number;
  readonly ascq: number;
  readonly filemark: boolean;
  readonly eom: boolean;
  readonly ili: boolean;
  /** INFORMATION when VALID, else null. */
  readonly information: number | null;
  /** The 24-bit sense-key-specific value when SKSV is set, else null. */
  readonly sks: number | null;
}

/** Decode fixed or descriptor sense (not for the hot path). Throws on an unknown response code. */
export function decodeSense(buf: Uint8Array, length = buf.length): DecodedSense {
  const rc = (buf[0] ?? 0) & 0x7f;
  if ((rc === 0x70 || rc === 0x71) && length >= 14) {
    const valid = ((buf[0] ?? 0) & 0x80) !== 0;
    const info = (((buf[3]! << 24) | (buf[4]! << 16) | (buf[5]! << 8) | buf[6]!) >>> 0) as number;
    const sksv = length >= 18 && (buf[15]! & 0x80) !== 0;
    return {
      format: "fixed",
      current: rc === 0x70,
      key: buf[2]! & 0x0f,
      asc: buf[12]!,
      ascq: buf[13]!,
      filemark: (buf[2]! & SENSE_FILEMARK) !== 0,
      eom: (buf[2]! & SENSE_EOM) !== 0,
      ili: (buf[2]! & SENSE_ILI) !== 0,
      information: valid ? info : null,
      sks: sksv ? (buf[15]! << 16) | (buf[16]! << 8) | buf[17]! : null,
    };
  }
  if ((rc === 0x72 || rc === 0x73) && length >= 8) {
    let information: number | null = null;
    let sks: number | null = null;
    let flags = 0;
    const end = Math.min(length, 8 + buf[7]!);
    for (let p = 8; p + 2 <= end; p += 2 + buf[p + 1]!) {
      const type = buf[p]!;
      if (type === 0x00 && p + 12 <= end) {
        const hi = (buf[p + 4]! << 24) | (buf[p + 5]! << 16) | (buf[p + 6]! << 8) | buf[p + 7]!;
        const lo = ((buf[p + 8]! << 24) | (buf[p + 9]! << 16) | (buf[p + 10]! << 8) | buf[p + 11]!) >>> 0;
        information = hi * 0x1_0000_0000 + lo;
      } else if (type === 0x02 && p + 8 <= end && (buf[p + 4]! & 0x80) !== 0) {
        sks = (buf[p + 4]! << 16) | (buf[p + 5]! << 8) | buf[p + 6]!;
      } else if ((type === 0x04 || type === 0x05) && p + 4 <= end) {
        flags |= buf[p + 3]!;
      }
    }
    return {
      format: "descriptor",
      current: rc === 0x72,
      key: buf[1]! & 0x0f,
      asc: buf[2]!,
      ascq: buf[3]!,
      filemark: (flags & SENSE_FILEMARK) !== 0,
      eom: (flags & SENSE_EOM) !== 0,
      ili: (flags & SENSE_ILI) !== 0,
      information,
      sks,
    };
  }
  throw new Error(`not sense data: response code 0x${rc.toString(16)}, ${length} bytes`);
}

/** SPC's sense key names (Table 27 of SPC-4), by key. */
export const SENSE_KEY_NAMES: readonly string[] = [
  "No Sense",
  "Recovered Error",
  "Not Ready",
  "Medium Error",
  "Hardware Error",
  "Illegal Request",
  "Unit Attention",
  "Data Protect",
  "Blank Check",
  "Vendor Specific",
  "Copy Aborted",
  "Aborted Command",
  "Equal",
  "Volume Overflow",
  "Miscompare",
  "Completed",
];
