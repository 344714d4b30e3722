import type { ScsiTask } from "../../scsi/device.js";
import { MISCOMPARE_DURING_VERIFY, WRITE_ERROR } from "../../scsi/sense.js";
import type { BlockStore, StoreCallback } from "./block-store.js";

/**
 * A read-only block store over caller-owned bytes (a CD image built in memory, test media).
 * Reads complete inside the call; every write path fails with 03/0C/00 (devices using it are
 * read-only and never get that far).
 */
export class BufferStore implements BlockStore {
  readonly sync = true;
  readonly path = null;
  readonly tracksMapping = false;
  readonly size: number;
  readonly fault: string | null;

  /** `fault` marks the medium unusable (e.g. not a whole number of blocks). */
  constructor(
    private readonly bytes: Uint8Array,
    fault: string | null = null,
  ) {
    this.size = bytes.length;
    this.fault = fault;
  }

  read(task: ScsiTask, pos: number, n: number, cb: StoreCallback): void {
    task.data.write(0, this.bytes, pos, n);
    cb(task, 0, n);
  }

  write(task: ScsiTask, _p: number, _n: number, _o: number, _d: boolean, cb: StoreCallback): void {
    cb(task, WRITE_ERROR, 0);
  }

  compare(task: ScsiTask, pos: number, n: number, cb: StoreCallback): void {
    const tmp = new Uint8Array(n);
    task.data.read(0, tmp, 0, n);
    for (let i = 0; i < n; i++) {
      if (tmp[i] !== this.bytes[pos + i]) {
        cb(task, MISCOMPARE_DURING_VERIFY, i);
        return;
      }
    }
    cb(task, 0, n);
  }

  compareAndWrite(task: ScsiTask, _p: number, _n: number, _d: boolean, cb: StoreCallback): void {
    cb(task, WRITE_ERROR, 0);
  }

  orWrite(task: ScsiTask, _p: number, _n: number, _d: boolean, cb: StoreCallback): void {
    cb(task, WRITE_ERROR, 0);
  }

  writeSame(task: ScsiTask, _p: number, _b: number, _c: number, _d: boolean, cb: StoreCallback): void {
    cb(task, WRITE_ERROR, 0);
  }

  unmap(task: ScsiTask, _r: Float64Array, _c: number, _d: boolean, cb: StoreCallback): void {
    cb(task, WRITE_ERROR, 0);
  }

  mappingRun(pos: number, limit: number): number {
    return Math.min(limit, this.size - pos);
  }

  flush(task: ScsiTask, cb: StoreCallback): void {
    cb(task, 0, 0);
  }

  cancel(): ScsiTask[] {
    return [];
  }

  settled(): Promise<void> {
    return Promise.resolve();
  }

  async close(): Promise<void> {}
}
