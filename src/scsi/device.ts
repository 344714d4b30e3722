import type { DataBuffer } from "./data-buffer.js";

/**
 * The one interface between scsiback (or any other initiator-side code) and a SCSI logical unit
 * of dom0's emulated physical SCSI subsystem. A device is a sans-IO state machine as far as the
 * protocol goes: it receives a task, moves data through the task's {@link DataBuffer}, and calls
 * {@link ScsiTask.done} exactly once — synchronously inside {@link ScsiDevice.submit} (RAM disk,
 * null device, changer) or later (file-backed devices awaiting I/O).
 *
 * Tasks are allocated once per ring slot by their owner and reused; a device must not keep a
 * reference to a task after calling `done`.
 */

/** SAM status codes a device returns. */
export const SAM_STAT_GOOD = 0x00;
/** SAM status CHECK CONDITION (0x02), SAM-5 §5.3. */
export const SAM_STAT_CHECK_CONDITION = 0x02;
/** SAM status CONDITION MET (0x04), SAM-5 §5.3. */
export const SAM_STAT_CONDITION_MET = 0x04;
/** SAM status BUSY (0x08), SAM-5 §5.3. */
export const SAM_STAT_BUSY = 0x08;
/** SAM status RESERVATION CONFLICT (0x18), SAM-5 §5.3. */
export const SAM_STAT_RESERVATION_CONFLICT = 0x18;
/** SAM status TASK SET FULL (0x28), SAM-5 §5.3. */
export const SAM_STAT_TASK_SET_FULL = 0x28;
/** SAM status ACA ACTIVE (0x30), SAM-5 §5.3. */
export const SAM_STAT_ACA_ACTIVE = 0x30;
/** SAM status TASK ABORTED (0x40), SAM-5 §5.3. */
export const SAM_STAT_TASK_ABORTED = 0x40;

/** Largest sense a device may return (SPC: 252 bytes); vscsiif carries the first 96. */
export const SCSI_SENSE_BUFFERSIZE = 252;

/** Peripheral device types (SPC INQUIRY byte 0, bits 4-0) pvscsi emulates. */
export const TYPE_DISK = 0x00;
/** Peripheral device type tape (0x01), SPC-4 §6.4.2. */
export const TYPE_TAPE = 0x01;
/** Peripheral device type rom (0x05), SPC-4 §6.4.2. */
export const TYPE_ROM = 0x05;
/** Peripheral device type medium changer (0x08), SPC-4 §6.4.2. */
export const TYPE_MEDIUM_CHANGER = 0x08;
/** Peripheral device type no lun (0x1f), SPC-4 §6.4.2. */
export const TYPE_NO_LUN = 0x1f;

/** Which way data moves, as `sc_data_direction` (Linux DMA values). */
export type DataDirection = 0 | 1 | 2 | 3;

/**
 * An I_T nexus: one initiator port talking to the device. For scsiback every vhost (a guest's
 * controller) is its own initiator; unit attentions, reservations and PREVENT state are kept per
 * nexus. `id` is unique within the emulator; `name` is the transport ID shown in PR data
 * (e.g. `xen-pvscsi:dom1/vhost0`).
 */
export interface Initiator {
  readonly id: number;
  readonly name: string;
}

/** One SCSI command in flight, owned by its submitter. */
export interface ScsiTask {
  /** The CDB: exactly `cmd_len` bytes. */
  readonly cdb: Uint8Array;
  /** The LUN the command addresses, in the device's own (physical) numbering. */
  readonly lun: number;
  readonly initiator: Initiator;
  /** Task tag, unique among the initiator's tasks in flight (scsiback uses the rqid). */
  readonly tag: number;
  readonly direction: DataDirection;
  /** Data-out (read it) or data-in (write it) buffer; `length` is the expected transfer length. */
  readonly data: DataBuffer;
  /** Scratch for sense data: write it here, then pass its length to `done`. */
  readonly sense: Uint8Array;
  /**
   * Complete the task: SAM `status`, the number of data bytes actually `transferred` (the
   * residual is `data.length - transferred`), and `senseLength` bytes of `sense` (0 for none).
   * With CHECK CONDITION a device transfers no data, except a sequential-access device reporting
   * a FILEMARK, EOM or ILI condition together with the data moved before it (SSC-3 READ(6), WRITE(6), SPACE(6)).
   */
  done(status: number, transferred: number, senseLength: number): void;
}

/** Result of a task management function (SAM-5 §7.11). */
export type TmfResponse = "complete" | "not-found" | "rejected";

/** What a device says about itself: its INQUIRY identity and its dom0 naming. */
export interface DeviceInfo {
  /** Peripheral device type (`TYPE_*`). */
  readonly type: number;
  readonly vendor: string; // 8 chars in INQUIRY
  readonly product: string; // 16 chars
  readonly revision: string; // 4 chars
  /** ANSI version in INQUIRY byte 2 (5 = SPC-3, 6 = SPC-4). */
  readonly scsiLevel: number;
  readonly removable: boolean;
  /** Unit serial number (VPD 0x80). */
  readonly serial: string;
  /** NAA WWN as 16 hex digits (VPD 0x83 designator), e.g. `6001405a1b2c3d4e`. */
  readonly wwn: string;
}

/** A logical unit. */
export interface ScsiDevice {
  readonly info: DeviceInfo;
  /** Start `task`; `task.done` is called exactly once, now or later. Never throws for bad CDBs. */
  submit(task: ScsiTask): void;
  /**
   * ABORT TASK for `tag` of `initiator`. A task still in flight is completed before this returns
   * "complete" (with status TASK ABORTED, or whatever it finished with first); "not-found" when
   * no such task is in flight.
   */
  abortTask(initiator: Initiator, tag: number): TmfResponse | Promise<TmfResponse>;
  /** LOGICAL UNIT RESET: abort every task, clear reservations held through `initiator`'s reset rules, queue 06/29/00. */
  lunReset(initiator: Initiator): TmfResponse | Promise<TmfResponse>;
  /** A new I_T nexus (a vhost attached the device): it gets 06/29/00 POWER ON, RESET OCCURRED first. */
  addNexus(initiator: Initiator): void;
  /** The nexus went away: drop its unit attentions, PREVENT state and RESERVE(6). */
  removeNexus(initiator: Initiator): void;
  /**
   * Drop one pending unit attention (`code`, packed key/ASC/ASCQ) of one I_T nexus. An initiator
   * that answers REPORT LUNS for the target itself (scsiback's emulation) calls it with 06/3F/0E,
   * which SPC-4 §6.33 makes REPORT LUNS clear. Optional: a device without unit attentions has
   * nothing to drop.
   */
  clearUa?(initiatorId: number, code: number): void;
  /** Flush and release resources (files). Further submits complete with NOT READY. */
  close(): Promise<void>;
}
