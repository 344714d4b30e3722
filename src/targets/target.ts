import { be16, be32 } from "../scsi/cdb.js";
import type { DataBuffer } from "../scsi/data-buffer.js";
import { directionContradicts } from "../scsi/data-direction.js";
import {
  type Initiator,
  SAM_STAT_CHECK_CONDITION,
  SAM_STAT_GOOD,
  type ScsiTask,
  type TmfResponse,
} from "../scsi/device.js";
import {
  fieldPointer,
  INVALID_FIELD_IN_CDB,
  INVALID_FIELD_IN_COMMAND_IU,
  LOGICAL_UNIT_NOT_SUPPORTED,
  REPORTED_LUNS_DATA_HAS_CHANGED,
  writeSense,
} from "../scsi/sense.js";
import { invalidArgument, invalidState } from "../xen/errors.js";
import { HANDLED, type Handled } from "./spc/command.js";
import { writeNoLunInquiry, writeVpdSupportedPages, wwnBytes } from "./spc/inquiry.js";
import type { TargetMember, TargetPort } from "./target-port.js";

/** Largest LUN pvscsi addresses: single-level flat space addressing (SAM-5 §4.7.7). */
export const MAX_LUN = 16383;

/** Options of a {@link ScsiTarget}. */
export interface ScsiTargetOptions {
  /** Target port WWN: 16 hex digits, NAA 2, 3 or 5. */
  readonly wwn?: string;
  /** INQUIRY VERSION reported at LUNs with no unit (default 5, SPC-3). */
  readonly scsiLevel?: number;
}

/**
 * One SCSI target (the `t` of h:c:t:l) with one target port: routes a task to the logical unit
 * at `task.lun` and answers for LUNs where there is none, as SPC-4 and QEMU's
 * `scsi_target_send_command` do: standard INQUIRY with PERIPHERAL QUALIFIER 011b / type 1Fh
 * (byte 0 = 0x7F), VPD page 00h, REPORT LUNS (so an initiator can discover the target through
 * LUN 0 even when LUN 0 is empty), REQUEST SENSE returning 05/25/00 as parameter data with GOOD
 * (SPC-4 §6.39), and 05/25/00 LOGICAL UNIT NOT SUPPORTED as CHECK CONDITION for everything else.
 *
 * Attaching or detaching a unit raises 06/3F/0E REPORTED LUNS DATA HAS CHANGED on the other
 * units' I_T nexuses (SPC-4 §6.33, tgt `target.c`).
 */
export class ScsiTarget implements TargetPort {
  readonly wwn: string | null;
  readonly wwnBytes: Uint8Array | null;
  readonly relativePortId = 1;
  private readonly units = new Map<number, TargetMember>();
  private sorted: number[] = [];
  private readonly scsiLevel: number;
  private readonly scratch = new Uint8Array(64);
  private readonly entry = new Uint8Array(8);

  constructor(options: ScsiTargetOptions = {}) {
    this.wwn = options.wwn ?? null;
    this.wwnBytes = this.wwn === null ? null : wwnBytes(this.wwn);
    this.scsiLevel = options.scsiLevel ?? 5;
  }

  /** Put `unit` at `lun`. */
  attach(lun: number, unit: TargetMember): void {
    if (!Number.isInteger(lun) || lun < 0 || lun > MAX_LUN)
      throw invalidArgument("lun", `0..${MAX_LUN}`, lun);
    if (this.units.has(lun)) throw invalidState(`LUN ${lun}`, "already has a logical unit");
    for (const u of this.units.values()) u.queueUaAll(REPORTED_LUNS_DATA_HAS_CHANGED);
    unit.port = this;
    unit.lun = lun;
    this.units.set(lun, unit);
    this.sorted = [...this.units.keys()].sort((a, b) => a - b);
  }

  /** Remove the unit at `lun` (it is not closed). */
  detach(lun: number): TargetMember | undefined {
    const unit = this.units.get(lun);
    if (!unit) return undefined;
    this.units.delete(lun);
    unit.port = null;
    this.sorted = [...this.units.keys()].sort((a, b) => a - b);
    for (const u of this.units.values()) u.queueUaAll(REPORTED_LUNS_DATA_HAS_CHANGED);
    return unit;
  }

  /** The unit at `lun`. */
  unit(lun: number): TargetMember | undefined {
    return this.units.get(lun);
  }

  /** LUNs with a unit, ascending. */
  luns(): readonly number[] {
    return this.sorted;
  }

  /** Route `task` to its unit, or answer for an empty LUN. */
  submit(task: ScsiTask): void {
    const unit = this.units.get(task.lun);
    if (unit) unit.submit(task);
    else this.noUnit(task);
  }

  /** ABORT TASK at `lun`. */
  abortTask(lun: number, initiator: Initiator, tag: number): TmfResponse | Promise<TmfResponse> {
    return this.units.get(lun)?.abortTask(initiator, tag) ?? "not-found";
  }

  /** LOGICAL UNIT RESET at `lun`. */
  lunReset(lun: number, initiator: Initiator): TmfResponse | Promise<TmfResponse> {
    return this.units.get(lun)?.lunReset(initiator) ?? "rejected";
  }

  /** A new I_T nexus to every unit. */
  addNexus(initiator: Initiator): void {
    for (const u of this.units.values()) u.addNexus(initiator);
  }

  /** The I_T nexus is gone from every unit. */
  removeNexus(initiator: Initiator): void {
    for (const u of this.units.values()) u.removeNexus(initiator);
  }

  clearReportedLunsChanged(initiatorId: number): void {
    for (const u of this.units.values()) u.clearUa(initiatorId, REPORTED_LUNS_DATA_HAS_CHANGED);
  }

  writeLunList(data: DataBuffer, select: number, allocation: number): number {
    // SELECT REPORT 1 asks for well-known LUs only; pvscsi has none.
    const count = select === 1 ? 0 : this.sorted.length;
    const limit = Math.min(allocation, data.length);
    const e = this.entry;
    e.fill(0);
    e[0] = ((count * 8) >>> 24) & 0xff;
    e[1] = ((count * 8) >>> 16) & 0xff;
    e[2] = ((count * 8) >>> 8) & 0xff;
    e[3] = (count * 8) & 0xff;
    let n = data.write(0, e, 0, Math.min(8, limit));
    for (let i = 0; i < count && n < limit; i++) {
      const lun = this.sorted[i]!;
      e.fill(0);
      // Peripheral device addressing below 256, flat space addressing above (SAM-5 §4.7).
      if (lun < 256) e[1] = lun;
      else {
        e[0] = 0x40 | (lun >>> 8);
        e[1] = lun & 0xff;
      }
      n += data.write(n, e, 0, Math.min(8, limit - n));
    }
    return n;
  }

  private noUnit(task: ScsiTask): Handled {
    const cdb = task.cdb;
    const op = cdb[0] ?? -1;
    const b = this.scratch;
    const dataIn = op === 0x12 || op === 0xa0 || op === 0x03;
    if (directionContradicts(dataIn, false, task)) return this.check(task, INVALID_FIELD_IN_COMMAND_IU);
    if (op === 0x12 && cdb.length >= 6) {
      const alloc = be16(cdb, 3);
      if ((cdb[1]! & 0x01) === 0) {
        if (cdb[2] !== 0) return this.check(task, INVALID_FIELD_IN_CDB, fieldPointer(true, 2, 7));
        return this.send(task, writeNoLunInquiry(b, this.scsiLevel), alloc);
      }
      if (cdb[2] !== 0) return this.check(task, INVALID_FIELD_IN_CDB, fieldPointer(true, 2, 7));
      return this.send(task, writeVpdSupportedPages(b, 0x7f, [0x00]), alloc);
    }
    if (op === 0xa0 && cdb.length >= 12) {
      const alloc = be32(cdb, 6);
      if (cdb[2]! > 2) return this.check(task, INVALID_FIELD_IN_CDB, fieldPointer(true, 2, 7));
      if (alloc < 16) return this.check(task, INVALID_FIELD_IN_CDB, fieldPointer(true, 6, 7));
      this.clearReportedLunsChanged(task.initiator.id);
      task.done(SAM_STAT_GOOD, this.writeLunList(task.data, cdb[2]!, alloc), 0);
      return HANDLED;
    }
    if (op === 0x03 && cdb.length >= 6) {
      const n = writeSense(b, (cdb[1]! & 0x01) !== 0, LOGICAL_UNIT_NOT_SUPPORTED);
      return this.send(task, n, cdb[4]!);
    }
    return this.check(task, LOGICAL_UNIT_NOT_SUPPORTED);
  }

  private send(task: ScsiTask, length: number, allocation: number): Handled {
    const n = Math.max(0, Math.min(length, allocation, task.data.length));
    if (n > 0) task.data.write(0, this.scratch, 0, n);
    task.done(SAM_STAT_GOOD, n, 0);
    return HANDLED;
  }

  private check(task: ScsiTask, code: number, sks = 0): Handled {
    task.done(SAM_STAT_CHECK_CONDITION, 0, writeSense(task.sense, false, code, 0, undefined, sks));
    return HANDLED;
  }
}
