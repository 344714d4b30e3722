/**
 * A small RAM disk test double implementing the device interface: INQUIRY, TEST UNIT READY,
 * READ(10)/WRITE(10), and an optional "hold" mode where commands complete only when the test
 * releases them (for abort and hot-unplug tests). The real devices live in src/targets.
 */
import {
  type Initiator,
  SAM_STAT_CHECK_CONDITION,
  SAM_STAT_GOOD,
  SAM_STAT_TASK_ABORTED,
  type ScsiDevice,
  type ScsiTask,
  type TmfResponse,
} from "../../src/scsi/device.js";

export class TestDisk implements ScsiDevice {
  readonly info = {
    type: 0,
    vendor: "PVSCSI",
    product: "TESTDISK",
    revision: "0001",
    scsiLevel: 5,
    removable: false,
    serial: "T0",
    wwn: "6001405000000001",
  };
  readonly store: Uint8Array;
  hold = false;
  readonly held: ScsiTask[] = [];
  readonly seen: number[] = [];
  resets = 0;

  constructor(readonly blocks = 2048) {
    this.store = new Uint8Array(blocks * 512);
  }

  submit(task: ScsiTask): void {
    this.seen.push(task.cdb[0] ?? -1);
    if (this.hold) {
      this.held.push(task);
      return;
    }
    this.run(task);
  }

  release(): void {
    for (const t of this.held.splice(0)) this.run(t);
  }

  run(task: ScsiTask): void {
    const cdb = task.cdb;
    switch (cdb[0]) {
      case 0x00:
        return task.done(SAM_STAT_GOOD, 0, 0);
      case 0x12: {
        const inq = new Uint8Array(36);
        inq[2] = 5;
        inq[3] = 2;
        inq[4] = 31;
        inq.set(new TextEncoder().encode("PVSCSI  TESTDISK        0001"), 8);
        const n = Math.min((cdb[3]! << 8) | cdb[4]!, 36);
        return task.done(SAM_STAT_GOOD, task.data.write(0, inq, 0, n), 0);
      }
      case 0x28:
      case 0x2a: {
        const lba = ((cdb[2]! << 24) | (cdb[3]! << 16) | (cdb[4]! << 8) | cdb[5]!) >>> 0;
        const n = (cdb[7]! << 8) | cdb[8]!;
        if (lba + n > this.blocks) return this.check(task, 0x05, 0x21, 0x00);
        const off = lba * 512;
        const len = Math.min(n * 512, task.data.length);
        const moved =
          cdb[0] === 0x28
            ? task.data.write(0, this.store, off, len)
            : task.data.read(0, this.store, off, len);
        return task.done(SAM_STAT_GOOD, moved, 0);
      }
      default:
        return this.check(task, 0x05, 0x20, 0x00);
    }
  }

  check(task: ScsiTask, key: number, asc: number, ascq: number): void {
    task.sense.fill(0, 0, 18);
    task.sense[0] = 0x70;
    task.sense[2] = key;
    task.sense[7] = 10;
    task.sense[12] = asc;
    task.sense[13] = ascq;
    task.done(SAM_STAT_CHECK_CONDITION, 0, 18);
  }

  abortTask(initiator: Initiator, tag: number): TmfResponse {
    const i = this.held.findIndex((t) => t.initiator.id === initiator.id && t.tag === tag);
    if (i < 0) return "not-found";
    const [t] = this.held.splice(i, 1);
    t!.done(SAM_STAT_TASK_ABORTED, 0, 0);
    return "complete";
  }

  lunReset(_initiator: Initiator): TmfResponse {
    this.resets++;
    for (const t of this.held.splice(0)) t.done(SAM_STAT_TASK_ABORTED, 0, 0);
    return "complete";
  }

  addNexus(): void {}
  removeNexus(): void {}
  async close(): Promise<void> {}
}
