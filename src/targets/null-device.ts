import type { DeviceInfo, ScsiTask } from "../scsi/device.js";
import { TYPE_DISK } from "../scsi/device.js";
import { MISCOMPARE_DURING_VERIFY } from "../scsi/sense.js";
import type { BlockStore, StoreCallback } from "./sbc/block-store.js";
import { Disk } from "./sbc/disk.js";

/** Default identity of a {@link NullDevice}. */
export const NULL_DEVICE_INFO: DeviceInfo = {
  type: TYPE_DISK,
  vendor: "PVSCSI",
  product: "NULL",
  revision: "0001",
  scsiLevel: 5,
  removable: false,
  serial: "NULL",
  wwn: "3000000000000000",
};

/** Capacity of a {@link NullDevice}: 1 TiB of 512-byte blocks (as Linux null_blk, a size, not a store). */
export const NULL_DEVICE_BYTES = 2 ** 40;
const NULL_BLOCK_SIZE = 512;

/**
 * A block store that keeps nothing: reads return zeros, writes are discarded, compares are
 * against zeros. Every operation completes inside the call and allocates nothing.
 */
export class NullStore implements BlockStore {
  readonly sync = true;
  readonly path = null;
  readonly fault = null;
  readonly tracksMapping = false;
  private readonly stage = new Uint8Array(4096);

  constructor(readonly size: number) {}

  read(task: ScsiTask, _pos: number, n: number, cb: StoreCallback): void {
    // The data-in the command reports must be written: zeros, never the guest's stale memory.
    task.data.fill(0, 0, n);
    cb(task, 0, n);
  }

  write(task: ScsiTask, _pos: number, n: number, _off: number, _durable: boolean, cb: StoreCallback): void {
    cb(task, 0, n);
  }

  compare(task: ScsiTask, _pos: number, n: number, cb: StoreCallback): void {
    const at = this.firstNonZero(task, 0, n);
    if (at >= 0) cb(task, MISCOMPARE_DURING_VERIFY, at);
    else cb(task, 0, n);
  }

  compareAndWrite(task: ScsiTask, _pos: number, n: number, _durable: boolean, cb: StoreCallback): void {
    const at = this.firstNonZero(task, 0, n);
    if (at >= 0) cb(task, MISCOMPARE_DURING_VERIFY, at);
    else cb(task, 0, 2 * n);
  }

  orWrite(task: ScsiTask, _pos: number, n: number, _durable: boolean, cb: StoreCallback): void {
    cb(task, 0, n);
  }

  writeSame(
    task: ScsiTask,
    _pos: number,
    blockSize: number,
    _count: number,
    _durable: boolean,
    cb: StoreCallback,
  ): void {
    cb(task, 0, blockSize);
  }

  unmap(task: ScsiTask, _ranges: Float64Array, _count: number, _durable: boolean, cb: StoreCallback): void {
    cb(task, 0, 0);
  }

  mappingRun(_pos: number, limit: number): number {
    return limit;
  }

  flush(task: ScsiTask, cb: StoreCallback): void {
    cb(task, 0, 0);
  }

  cancel(_match: (task: ScsiTask) => boolean): ScsiTask[] {
    return [];
  }

  async settled(_match: (task: ScsiTask) => boolean): Promise<void> {}

  async close(): Promise<void> {}

  /** Offset of the first non-zero byte of `task.data[from, from + n)`, or -1. */
  private firstNonZero(task: ScsiTask, from: number, n: number): number {
    const s = this.stage;
    for (let done = 0; done < n; ) {
      const k = task.data.read(from + done, s, 0, Math.min(s.length, n - done));
      if (k === 0) break;
      for (let i = 0; i < k; i++) if (s[i] !== 0) return done + i;
      done += k;
    }
    return -1;
  }
}

/**
 * A real SBC-3 direct-access device whose medium keeps nothing (Linux null_blk, or scsi_debug
 * with a discarding store): INQUIRY, VPD, READ CAPACITY, MODE SENSE, REPORT LUNS, TEST UNIT
 * READY, REQUEST SENSE and every other command are the {@link Disk}'s, so a guest can scan and
 * use it; reads return zeros and writes are discarded. Being a disk, every data-in command it
 * completes GOOD has written the bytes it reports (SAM-5: the residual is what was not
 * transferred) — a guest never sees its own stale memory as an answer.
 *
 * It is the benchmark sink: a READ/WRITE costs the SPC checks and no copy beyond the zero fill.
 */
export class NullDevice extends Disk {
  /** Commands submitted, for benchmarks. */
  submitted = 0;

  constructor(info: DeviceInfo = NULL_DEVICE_INFO) {
    super({ info, blockSize: NULL_BLOCK_SIZE, store: new NullStore(NULL_DEVICE_BYTES), writeCache: false });
  }

  override submit(task: ScsiTask): void {
    this.submitted++;
    super.submit(task);
  }
}
