import type { DataBuffer } from "../scsi/data-buffer.js";
import type { ScsiDevice } from "../scsi/device.js";

/**
 * What a logical unit sees of the SCSI target port it sits behind: the port's identity for VPD
 * page 83h and the LUN inventory for REPORT LUNS (SPC-4 §6.33), which is a property of the
 * target, not of one unit.
 */
export interface TargetPort {
  /** Target port WWN, 16 hex digits (NAA), or null when the port has none. */
  readonly wwn: string | null;
  /** The same WWN as the 8 bytes of an NAA designator. */
  readonly wwnBytes: Uint8Array | null;
  /** RELATIVE TARGET PORT IDENTIFIER (SPC-4 §7.8.6.5); pvscsi targets have one port, 1. */
  readonly relativePortId: number;
  /** REPORT LUNS clears 06/3F/0E for the I_T nexus on every unit of the target (SPC-4 §6.33). */
  clearReportedLunsChanged(initiatorId: number): void;
  /**
   * Write REPORT LUNS parameter data for SELECT REPORT `select` (0..2) into `data`, at most
   * `allocation` bytes; returns the bytes written.
   */
  writeLunList(data: DataBuffer, select: number, allocation: number): number;
}

/**
 * A logical unit that can sit behind a {@link TargetPort}: the target sets `port` and `lun`, and
 * raises unit attentions on it when the LUN inventory changes.
 */
export interface TargetMember extends ScsiDevice {
  port: TargetPort | null;
  lun: number;
  /** Queue a unit attention on every I_T nexus of the unit. */
  queueUaAll(code: number, exceptId?: number): void;
  /** Drop one pending unit attention of one I_T nexus. */
  clearUa(initiatorId: number, code: number): void;
}
