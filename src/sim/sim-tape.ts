/**
 * The simulator's tape: pvscsi's own SSC drive ({@link TapeDrive}) with an in-memory cartridge,
 * behind a gate that holds every command until the scheduler completes it, so tape commands
 * interleave with everything else like the disk's. The cartridge's store completes inside each
 * call, so once released a command runs to completion at once. The gate can hang a command
 * (until ABORT TASK or LUN RESET) or fail it with MEDIUM ERROR; a LUN reset may also make the
 * drive lose its position (it rewinds), as some drives do. Every answer given to the initiator is
 * recorded, so the simulator can check that the guest receives exactly what the drive said.
 * @module
 */
import { DataBuffer } from "../scsi/data-buffer.js";
import {
  type DeviceInfo,
  type Initiator,
  SAM_STAT_CHECK_CONDITION,
  SAM_STAT_GOOD,
  SAM_STAT_TASK_ABORTED,
  type ScsiDevice,
  type ScsiTask,
  type TmfResponse,
  TYPE_TAPE,
} from "../scsi/device.js";
import { MemoryImage } from "../targets/ssc/memory-cartridge.js";
import { TapeDrive } from "../targets/ssc/tape-drive.js";
import type { SimTask } from "./sim-disk.js";

/** What the tape answered one command: status and, with CHECK CONDITION, its sense. */
export interface TapeAnswer {
  readonly status: number;
  readonly transferred: number;
  /** Fixed-format sense bytes 0–17 (zeros without sense). */
  readonly sense: Uint8Array;
  /** The drive (not the gate) ran it. */
  readonly ran: boolean;
}

/** The simulator's own initiator, used only to rewind the drive on a reset. */
const SIM_INITIATOR: Initiator = { id: 0x7ffffff0, name: "sim:tape-operator" };

/** A simulated tape: a real {@link TapeDrive} with an in-memory cartridge behind a gate. */
export class SimTape implements ScsiDevice {
  readonly info: DeviceInfo;
  readonly drive: TapeDrive;
  readonly image: MemoryImage;
  /** Commands received and not released to the drive, in arrival order. */
  readonly queue: SimTask[] = [];
  /** Never set: a released command completes inside the drive at once (kept for the disk's checks). */
  readonly completedTwice = 0;
  /** Answers given, by task tag (the rqid); the simulator takes each at the guest's completion. */
  readonly answers = new Map<number, TapeAnswer>();
  /** Initiators owed a unit attention: after a LUN reset or a new nexus, until the drive reports one. */
  readonly uaOwed = new Set<number>();
  /** Commands the drive ran for an initiator owed a unit attention without reporting one. */
  readonly uaMissed: string[] = [];
  /** The drive's position lost on a LUN reset (it rewinds). */
  readonly rewindOnReset: boolean;
  private operatorTag = 0;
  private readonly seen = new Set<number>();

  constructor(
    readonly name: string,
    options: { readonly rewindOnReset: boolean },
  ) {
    this.rewindOnReset = options.rewindOnReset;
    this.info = {
      type: TYPE_TAPE,
      vendor: "PVSCSI",
      product: "SIMTAPE",
      revision: "0001",
      scsiLevel: 6,
      removable: true,
      serial: name,
      wwn: "6001405000000001",
    };
    this.drive = new TapeDrive({ info: this.info });
    // 64 MiB nominal, early warning far away: the workload never reaches the end of the medium.
    this.image = new MemoryImage(name.toUpperCase().slice(0, 6).padEnd(6, "X"), 1 << 26, 1 << 25);
    this.drive.insert(this.image.open());
    this.drive.addNexus(SIM_INITIATOR);
  }

  submit(task: ScsiTask): void {
    this.queue.push({ task, hung: false, fail: false });
  }

  /** Release the queued command at `index` (the scheduler's choice) to the drive, or fail it. */
  completeAt(index: number): void {
    const [t] = this.queue.splice(index, 1);
    if (t === undefined) return;
    const task = t.task;
    if (t.fail) {
      // MEDIUM ERROR: WRITE ERROR for a write, UNRECOVERED READ ERROR otherwise (SSC-3 annex).
      const write = task.cdb[0] === 0x0a || task.cdb[0] === 0x10;
      this.checkCondition(task, 0x3, write ? 0x0c : 0x11, 0x00);
      return;
    }
    let answered = false;
    // A nexus the drive has not seen yet is created with 06/29/00 pending (SPC-4 implicit login).
    if (!this.seen.has(task.initiator.id)) {
      this.seen.add(task.initiator.id);
      this.uaOwed.add(task.initiator.id);
    }
    const owed = this.uaOwed.has(task.initiator.id);
    const wrapped: ScsiTask = {
      cdb: task.cdb,
      lun: task.lun,
      initiator: task.initiator,
      tag: task.tag,
      direction: task.direction,
      data: task.data,
      sense: task.sense,
      done: (status, transferred, senseLength) => {
        answered = true;
        const sense = new Uint8Array(18);
        if (status === SAM_STAT_CHECK_CONDITION) sense.set(task.sense.subarray(0, Math.min(18, senseLength)));
        const ua = status === SAM_STAT_CHECK_CONDITION && (sense[2]! & 0x0f) === 0x6;
        if (ua) this.uaOwed.delete(task.initiator.id);
        else if (owed)
          this.uaMissed.push(`tag ${task.tag} (cdb ${task.cdb[0]!.toString(16)}) answered status ${status}`);
        this.answers.set(task.tag, { status, transferred, sense, ran: true });
        task.done(status, transferred, senseLength);
      },
    };
    this.drive.submit(wrapped);
    if (!answered) throw new Error(`${this.name}: the tape drive did not complete a command at once`);
  }

  /** A tape drive writes through to the medium here: nothing volatile to lose. */
  powerLoss(): number {
    return 0;
  }

  abortTask(initiator: Initiator, tag: number): TmfResponse {
    const i = this.queue.findIndex((t) => t.task.initiator.id === initiator.id && t.task.tag === tag);
    if (i < 0) return "not-found"; // a released command has completed already
    const [t] = this.queue.splice(i, 1);
    this.aborted(t!.task);
    return "complete";
  }

  lunReset(initiator: Initiator): TmfResponse {
    for (const t of this.queue.splice(0, this.queue.length)) this.aborted(t.task);
    const r = this.drive.lunReset(initiator);
    if (r !== "complete")
      throw new Error(`${this.name}: the tape drive's LUN reset did not complete at once`);
    // SAM-5 §6.6: every I_T nexus gets 06/29/00; the drive's own UA queue holds it, this records it.
    this.uaOwed.add(initiator.id);
    if (this.rewindOnReset) this.operatorRewind();
    return "complete";
  }

  addNexus(initiator: Initiator): void {
    this.drive.addNexus(initiator);
    this.seen.add(initiator.id);
    this.uaOwed.add(initiator.id);
  }

  /** I_T nexus loss: the nexus's queued tasks are aborted (SAM-5 §6.3.4), then the drive forgets it. */
  removeNexus(initiator: Initiator): void {
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const t = this.queue[i]!;
      if (t.task.initiator.id !== initiator.id) continue;
      this.queue.splice(i, 1);
      this.aborted(t.task);
    }
    this.drive.removeNexus(initiator);
    this.uaOwed.delete(initiator.id);
  }

  async close(): Promise<void> {
    for (const t of this.queue.splice(0, this.queue.length)) this.aborted(t.task);
  }

  /** The drive loses its position: REWIND from the simulator's own nexus (its UAs consumed first). */
  private operatorRewind(): void {
    for (let i = 0; i < 4; i++) {
      let status = -1;
      const sense = new Uint8Array(96);
      this.drive.submit({
        cdb: Uint8Array.of(0x01, 0, 0, 0, 0, 0),
        lun: 0,
        initiator: SIM_INITIATOR,
        tag: this.operatorTag++,
        direction: 3, // DMA_NONE
        data: EMPTY_BUFFER,
        sense,
        done: (s) => {
          status = s;
        },
      });
      if (status === SAM_STAT_GOOD) return;
      if (status < 0) throw new Error(`${this.name}: the tape drive did not rewind at once`);
    }
    throw new Error(`${this.name}: the tape drive refused to rewind`);
  }

  private aborted(task: ScsiTask): void {
    this.answers.set(task.tag, {
      status: SAM_STAT_TASK_ABORTED,
      transferred: 0,
      sense: new Uint8Array(18),
      ran: false,
    });
    task.done(SAM_STAT_TASK_ABORTED, 0, 0);
  }

  private checkCondition(task: ScsiTask, key: number, asc: number, ascq: number): void {
    const s = task.sense;
    s.fill(0, 0, 18);
    s[0] = 0x70;
    s[2] = key;
    s[7] = 10;
    s[12] = asc;
    s[13] = ascq;
    this.answers.set(task.tag, {
      status: SAM_STAT_CHECK_CONDITION,
      transferred: 0,
      sense: s.slice(0, 18),
      ran: false,
    });
    task.done(SAM_STAT_CHECK_CONDITION, 0, 18);
  }
}

/** A zero-length data buffer (the operator's REWIND moves no data). */
const EMPTY_BUFFER = DataBuffer.of(new Uint8Array(0), false);
