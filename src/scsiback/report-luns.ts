import { directionContradicts } from "../scsi/data-direction.js";
import { SAM_STAT_CHECK_CONDITION, SAM_STAT_GOOD, type ScsiTask } from "../scsi/device.js";
import { INVALID_FIELD_IN_COMMAND_IU, writeSense } from "../scsi/sense.js";

/** REPORT LUNS operation code. */
export const REPORT_LUNS = 0xa0;

/** Result of an emulated command: SAM status, data bytes moved, sense bytes written. */
export interface EmulatedResult {
  status: number;
  transferred: number;
  senseLength: number;
}

/** Bytes of REPORT LUNS parameter data for `count` LUNs: an 8-byte header and 8 bytes each. */
export function reportLunsLength(count: number): number {
  return 8 + 8 * count;
}

/**
 * The classic backend's REPORT LUNS emulation, which pvscsi's scsiback uses when `feature-host`
 * is off: list only the LUNs attached to this vhost at the addressed (channel, target), in the
 * guest's numbering, so the guest never learns of dom0 LUNs it was not given.
 *
 * Checks follow SPC-3 §6.21 (the level pvscsi's INQUIRY reports): SELECT REPORT 0 and 2 list the
 * LUNs, 1 (well-known LUNs only) an empty list, anything else is INVALID FIELD IN CDB; an
 * allocation length below 16 is INVALID FIELD IN CDB (SPC-3; tgt and QEMU do the same). The
 * classic backend rejected SELECT REPORT != 0 and allocation lengths below 4; SPC is the better
 * guide for a guest that follows the standard. NACA or LINK in the CONTROL byte is refused as by
 * every pvscsi device. LUN entries use SAM-4 single-level addressing: peripheral device addressing
 * below 256, flat space addressing up to 16383.
 *
 * REPORT LUNS is data-in: sent with a data-out direction (memory granted read-only) it is 05/0E/03
 * INVALID FIELD IN COMMAND IU, the rule every pvscsi device applies ({@link directionContradicts}),
 * and nothing is written. The whole list is built in `scratch` (at least
 * {@link reportLunsLength}(`luns.length`) bytes) and its prefix copied: truncation by the
 * allocation length or the buffer cuts the list, never an entry's bytes out of order (SPC-4 §4.2.5.6).
 */
export function emulateReportLuns(
  task: ScsiTask,
  luns: readonly number[],
  scratch: Uint8Array,
  out: EmulatedResult,
): EmulatedResult {
  const { cdb, data, sense } = task;
  if (directionContradicts(true, false, task)) {
    out.status = SAM_STAT_CHECK_CONDITION;
    out.transferred = 0;
    out.senseLength = writeSense(sense, false, INVALID_FIELD_IN_COMMAND_IU);
    return out;
  }
  if (cdb.length < 12) return invalidField(sense, out, 0, 7);
  const control = cdb[11]!;
  if ((control & 0x05) !== 0) return invalidField(sense, out, 11, control & 0x04 ? 2 : 0);
  const select = cdb[2]!;
  if (select > 2) return invalidField(sense, out, 2, 7);
  const alloc = ((cdb[6]! << 24) | (cdb[7]! << 16) | (cdb[8]! << 8) | cdb[9]!) >>> 0;
  if (alloc < 16) return invalidField(sense, out, 6, 7);

  const listed = select === 1 ? 0 : luns.length;
  const total = reportLunsLength(listed);
  scratch.fill(0, 0, total);
  const listBytes = 8 * listed;
  scratch[0] = (listBytes >>> 24) & 0xff;
  scratch[1] = (listBytes >>> 16) & 0xff;
  scratch[2] = (listBytes >>> 8) & 0xff;
  scratch[3] = listBytes & 0xff;
  for (let i = 0; i < listed; i++) {
    const at = 8 + 8 * i;
    const lun = luns[i]!;
    scratch[at] = lun < 256 ? 0 : 0x40 | ((lun >>> 8) & 0x3f);
    scratch[at + 1] = lun & 0xff;
  }
  const n = Math.min(total, alloc, data.length);
  out.status = SAM_STAT_GOOD;
  out.transferred = data.write(0, scratch, 0, n);
  out.senseLength = 0;
  return out;
}

/** Fixed-format sense: ILLEGAL REQUEST, INVALID FIELD IN CDB, with a sense-key-specific field pointer. */
function invalidField(sense: Uint8Array, out: EmulatedResult, byte: number, bit: number): EmulatedResult {
  sense.fill(0, 0, 18);
  sense[0] = 0x70;
  sense[2] = 0x05; // ILLEGAL REQUEST
  sense[7] = 10;
  sense[12] = 0x24; // INVALID FIELD IN CDB
  sense[15] = 0x80 | 0x40 | 0x08 | (bit & 7); // SKSV, C/D = CDB, BPV
  sense[16] = (byte >>> 8) & 0xff;
  sense[17] = byte & 0xff;
  out.status = SAM_STAT_CHECK_CONDITION;
  out.transferred = 0;
  out.senseLength = 18;
  return out;
}
