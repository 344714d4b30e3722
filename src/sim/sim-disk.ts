/**
 * The simulator's disk: a small SBC-like logical unit whose every command completes only when
 * the scheduler says so, in any order, so device completions interleave with everything else.
 * It keeps a volatile write cache (lost on power loss) beside stable storage, and can be told to
 * hang a command (it then ends only by ABORT TASK or LOGICAL UNIT RESET) or fail one with MEDIUM
 * ERROR. Deterministic: it has no timers and no I/O.
 * @module
 */
import type { DataBuffer } from "../scsi/data-buffer.js";
import {
  type DeviceInfo,
  type Initiator,
  SAM_STAT_CHECK_CONDITION,
  SAM_STAT_GOOD,
  SAM_STAT_TASK_ABORTED,
  type ScsiDevice,
  type ScsiTask,
  type TmfResponse,
  TYPE_DISK,
} from "../scsi/device.js";

/** The block size of a {@link SimDisk}. */
export const SIM_BLOCK = 512;

/** One command the disk holds until the scheduler completes it. */
export interface SimTask {
  readonly task: ScsiTask;
  /** Hung: only ABORT TASK or a LUN reset ends it. */
  hung: boolean;
  /** Completes with MEDIUM ERROR instead of running. */
  fail: boolean;
}

/** What the scheduler needs of a simulated device (a {@link SimDisk} or a `SimTape`). */
export interface SimDevice extends ScsiDevice {
  readonly name: string;
  /** Commands received and not completed, in arrival order. */
  readonly queue: SimTask[];
  /** Completions of tasks after the device was told they were aborted: must stay 0. */
  readonly completedTwice: number;
  /** Complete (or release) the queued command at `index`. */
  completeAt(index: number): void;
  /** Power fails and returns; the number of cached blocks lost. */
  powerLoss(): number;
}

/** Queued commands `device` may complete now (not hung). */
export function completable(device: SimDevice): number {
  let n = 0;
  for (const t of device.queue) if (!t.hung) n++;
  return n;
}

/** The index in `device.queue` of its `k`-th completable command, or -1. */
export function completableIndex(device: SimDevice, k: number): number {
  const q = device.queue;
  for (let i = 0; i < q.length; i++) {
    if (q[i]!.hung) continue;
    if (k-- === 0) return i;
  }
  return -1;
}

/** A simulated disk of `blocks` blocks of {@link SIM_BLOCK} bytes. */
export class SimDisk implements SimDevice {
  readonly info: DeviceInfo;
  /** Current contents (what reads see): stable storage overlaid by the write cache. */
  readonly data: Uint8Array;
  /** Stable storage: what survives {@link powerLoss}. */
  readonly stable: Uint8Array;
  /** Blocks written to the cache and not yet to stable storage. */
  readonly dirty = new Set<number>();
  /** Commands received and not completed, in arrival order. */
  readonly queue: SimTask[] = [];
  /** Completions of tasks after the disk was told they were aborted: must stay 0. */
  completedTwice = 0;

  constructor(
    readonly name: string,
    readonly blocks: number,
    /** WCE=1: writes land in a volatile cache until SYNCHRONIZE CACHE. */
    readonly writeCache: boolean,
  ) {
    this.data = new Uint8Array(blocks * SIM_BLOCK);
    this.stable = new Uint8Array(blocks * SIM_BLOCK);
    this.info = {
      type: TYPE_DISK,
      vendor: "PVSCSI",
      product: "SIMDISK",
      revision: "0001",
      scsiLevel: 6,
      removable: false,
      serial: name,
      wwn: "6001405000000000",
    };
  }

  submit(task: ScsiTask): void {
    this.queue.push({ task, hung: false, fail: false });
  }

  /** Complete the queued command at `index` (the scheduler's choice): run it now. */
  completeAt(index: number): void {
    const [t] = this.queue.splice(index, 1);
    if (t === undefined) return;
    if (t.fail) {
      this.checkCondition(t.task, 0x3, 0x11, 0x00); // MEDIUM ERROR, UNRECOVERED READ ERROR
      return;
    }
    this.run(t.task);
  }

  /** Power fails and returns: unsynced cached writes are lost. Commands in flight carry on. */
  powerLoss(): number {
    const lost = this.dirty.size;
    for (const b of this.dirty) {
      this.data.set(this.stable.subarray(b * SIM_BLOCK, (b + 1) * SIM_BLOCK), b * SIM_BLOCK);
    }
    this.dirty.clear();
    return lost;
  }

  abortTask(initiator: Initiator, tag: number): TmfResponse {
    const i = this.queue.findIndex((t) => t.task.initiator.id === initiator.id && t.task.tag === tag);
    if (i < 0) return "not-found";
    const [t] = this.queue.splice(i, 1);
    t!.task.done(SAM_STAT_TASK_ABORTED, 0, 0);
    return "complete";
  }

  lunReset(_initiator: Initiator): TmfResponse {
    // SAM-5 §7.11: a LOGICAL UNIT RESET aborts every task in the task set, whoever sent it.
    const all = this.queue.splice(0, this.queue.length);
    for (const t of all) t.task.done(SAM_STAT_TASK_ABORTED, 0, 0);
    return "complete";
  }

  addNexus(_initiator: Initiator): void {}

  /**
   * I_T nexus loss (the vhost's last LUN on this disk was detached): SAM-5 §6.3.4 aborts every
   * task of that nexus. Without it, a command that hangs on a LUN detached meanwhile could never
   * end: the guest's ABORT and RESET no longer reach a detached LUN (the simulator found this).
   */
  removeNexus(initiator: Initiator): void {
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const t = this.queue[i]!;
      if (t.task.initiator.id !== initiator.id) continue;
      this.queue.splice(i, 1);
      t.task.done(SAM_STAT_TASK_ABORTED, 0, 0);
    }
  }

  async close(): Promise<void> {
    const all = this.queue.splice(0, this.queue.length);
    for (const t of all) t.task.done(SAM_STAT_TASK_ABORTED, 0, 0);
  }

  private run(task: ScsiTask): void {
    const c = task.cdb;
    const op = c[0] ?? 0;
    switch (op) {
      case 0x00: // TEST UNIT READY
        task.done(SAM_STAT_GOOD, 0, 0);
        return;
      case 0x35: // SYNCHRONIZE CACHE(10)
        for (const b of this.dirty)
          this.stable.set(this.data.subarray(b * SIM_BLOCK, (b + 1) * SIM_BLOCK), b * SIM_BLOCK);
        this.dirty.clear();
        task.done(SAM_STAT_GOOD, 0, 0);
        return;
      case 0x28: // READ(10)
      case 0x2a: {
        // WRITE(10)
        const lba = ((c[2]! << 24) | (c[3]! << 16) | (c[4]! << 8) | c[5]!) >>> 0;
        const n = (c[7]! << 8) | c[8]!;
        if (c.length < 10 || lba + n > this.blocks) {
          this.checkCondition(task, 0x5, 0x21, 0x00); // LBA OUT OF RANGE
          return;
        }
        const bytes = Math.min(n * SIM_BLOCK, task.data.length);
        if (op === 0x28) {
          task.done(SAM_STAT_GOOD, copyOut(this.data, lba * SIM_BLOCK, task.data, bytes), 0);
          return;
        }
        const moved = copyIn(task.data, this.data, lba * SIM_BLOCK, bytes);
        const whole = Math.floor(moved / SIM_BLOCK);
        for (let b = lba; b < lba + whole; b++) {
          if (this.writeCache) this.dirty.add(b);
          else this.stable.set(this.data.subarray(b * SIM_BLOCK, (b + 1) * SIM_BLOCK), b * SIM_BLOCK);
        }
        task.done(SAM_STAT_GOOD, moved, 0);
        return;
      }
      default:
        this.checkCondition(task, 0x5, 0x20, 0x00); // INVALID COMMAND OPERATION CODE
    }
  }

  private checkCondition(task: ScsiTask, key: number, asc: number, ascq: number): void {
    const s = task.sense;
    s.fill(0, 0, 18);
    s[0] = 0x70;
    s[2] = key;
    s[7] = 10;
    s[12] = asc;
    s[13] = ascq;
    task.done(SAM_STAT_CHECK_CONDITION, 0, 18);
  }
}

function copyOut(src: Uint8Array, at: number, dst: DataBuffer, n: number): number {
  if (n <= 0 || !dst.writable) return 0;
  return dst.write(0, src, at, n);
}

function copyIn(src: DataBuffer, dst: Uint8Array, at: number, n: number): number {
  if (n <= 0) return 0;
  return src.read(0, dst, at, n);
}
