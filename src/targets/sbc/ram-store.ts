import type { ScsiTask } from "../../scsi/device.js";
import { MISCOMPARE_DURING_VERIFY } from "../../scsi/sense.js";
import { invalidArgument } from "../../xen/errors.js";
import type { BlockStore, StoreCallback } from "./block-store.js";

/** Allocation unit of a RAM store: chunks are allocated on first write and freed by UNMAP. */
export const RAM_CHUNK_SIZE = 1 << 20;

/**
 * A RAM-backed block store: an array of 1 MiB chunks allocated on first write, so a large thin
 * RAM disk costs only what is written, and UNMAP of whole chunks gives memory back. Every
 * operation completes inside the call and allocates nothing (beyond a chunk on first write).
 */
export class RamStore implements BlockStore {
  readonly sync = true;
  readonly path = null;
  readonly fault = null;
  readonly tracksMapping = true;
  private readonly chunks: Array<Uint8Array | undefined>;
  /** Data-out staging for compares and WRITE SAME patterns. */
  private readonly stage = new Uint8Array(64 * 1024);

  constructor(readonly size: number) {
    if (!Number.isSafeInteger(size) || size <= 0)
      throw invalidArgument("RAM store size", "a positive integer", size);
    this.chunks = new Array(Math.ceil(size / RAM_CHUNK_SIZE)).fill(undefined);
  }

  /** Bytes of RAM in use (allocated chunks). */
  get allocatedBytes(): number {
    let n = 0;
    for (const c of this.chunks) if (c) n += c.length;
    return n;
  }

  private chunk(i: number): Uint8Array {
    let c = this.chunks[i];
    if (!c) {
      c = new Uint8Array(Math.min(RAM_CHUNK_SIZE, this.size - i * RAM_CHUNK_SIZE));
      this.chunks[i] = c;
    }
    return c;
  }

  read(task: ScsiTask, pos: number, n: number, cb: StoreCallback): void {
    const data = task.data;
    let done = 0;
    while (done < n) {
      const p = pos + done;
      const i = Math.floor(p / RAM_CHUNK_SIZE);
      const off = p - i * RAM_CHUNK_SIZE;
      const len = Math.min(RAM_CHUNK_SIZE - off, n - done);
      const c = this.chunks[i];
      if (c) data.write(done, c, off, len);
      else data.fill(0, done, len);
      done += len;
    }
    cb(task, 0, n);
  }

  write(
    task: ScsiTask,
    pos: number,
    n: number,
    dataOffset: number,
    _durable: boolean,
    cb: StoreCallback,
  ): void {
    this.copyIn(task, pos, n, dataOffset);
    cb(task, 0, n);
  }

  private copyIn(task: ScsiTask, pos: number, n: number, dataOffset: number): void {
    let done = 0;
    while (done < n) {
      const p = pos + done;
      const i = Math.floor(p / RAM_CHUNK_SIZE);
      const off = p - i * RAM_CHUNK_SIZE;
      const len = Math.min(RAM_CHUNK_SIZE - off, n - done);
      task.data.read(dataOffset + done, this.chunk(i), off, len);
      done += len;
    }
  }

  compare(task: ScsiTask, pos: number, n: number, cb: StoreCallback): void {
    const at = this.firstDifference(task, pos, n);
    if (at >= 0) cb(task, MISCOMPARE_DURING_VERIFY, at);
    else cb(task, 0, n);
  }

  private firstDifference(task: ScsiTask, pos: number, n: number): number {
    const s = this.stage;
    let done = 0;
    while (done < n) {
      const len = Math.min(s.length, n - done);
      task.data.read(done, s, 0, len);
      for (let k = 0; k < len; ) {
        const p = pos + done + k;
        const i = Math.floor(p / RAM_CHUNK_SIZE);
        const off = p - i * RAM_CHUNK_SIZE;
        const run = Math.min(RAM_CHUNK_SIZE - off, len - k);
        const c = this.chunks[i];
        for (let j = 0; j < run; j++) {
          if (s[k + j] !== (c ? c[off + j] : 0)) return done + k + j;
        }
        k += run;
      }
      done += len;
    }
    return -1;
  }

  compareAndWrite(task: ScsiTask, pos: number, n: number, _durable: boolean, cb: StoreCallback): void {
    const at = this.firstDifference(task, pos, n);
    if (at >= 0) {
      cb(task, MISCOMPARE_DURING_VERIFY, at);
      return;
    }
    this.copyIn(task, pos, n, n);
    cb(task, 0, 2 * n);
  }

  orWrite(task: ScsiTask, pos: number, n: number, _durable: boolean, cb: StoreCallback): void {
    const s = this.stage;
    for (let done = 0; done < n; ) {
      const len = Math.min(s.length, n - done);
      task.data.read(done, s, 0, len);
      for (let k = 0; k < len; ) {
        const p = pos + done + k;
        const i = Math.floor(p / RAM_CHUNK_SIZE);
        const off = p - i * RAM_CHUNK_SIZE;
        const run = Math.min(RAM_CHUNK_SIZE - off, len - k);
        const c = this.chunk(i);
        for (let j = 0; j < run; j++) c[off + j]! |= s[k + j]!;
        k += run;
      }
      done += len;
    }
    cb(task, 0, n);
  }

  writeSame(
    task: ScsiTask,
    pos: number,
    blockSize: number,
    count: number,
    _durable: boolean,
    cb: StoreCallback,
  ): void {
    const s = this.stage;
    task.data.read(0, s, 0, blockSize);
    let zero = true;
    for (let i = 0; i < blockSize; i++) {
      if (s[i] !== 0) {
        zero = false;
        break;
      }
    }
    if (zero) {
      this.deallocate(pos, blockSize * count);
    } else {
      const pattern = s.subarray(0, blockSize);
      for (let b = 0; b < count; b++) {
        const p = pos + b * blockSize;
        const i = Math.floor(p / RAM_CHUNK_SIZE);
        const off = p - i * RAM_CHUNK_SIZE;
        // Block sizes divide the chunk size, so a block never straddles two chunks.
        this.chunk(i).set(pattern, off);
      }
    }
    cb(task, 0, blockSize);
  }

  unmap(task: ScsiTask, ranges: Float64Array, count: number, _durable: boolean, cb: StoreCallback): void {
    for (let r = 0; r < count; r++) this.deallocate(ranges[2 * r]!, ranges[2 * r + 1]!);
    cb(task, 0, 0);
  }

  /** Zero `[pos, pos + n)`: whole chunks are freed, partial ones cleared. */
  private deallocate(pos: number, n: number): void {
    let done = 0;
    while (done < n) {
      const p = pos + done;
      const i = Math.floor(p / RAM_CHUNK_SIZE);
      const off = p - i * RAM_CHUNK_SIZE;
      const c = this.chunks[i];
      const len = Math.min((c ? c.length : RAM_CHUNK_SIZE) - off, n - done);
      if (c) {
        if (off === 0 && len === c.length) this.chunks[i] = undefined;
        else c.fill(0, off, off + len);
      }
      done += len;
    }
  }

  mappingRun(pos: number, limit: number): number {
    const first = Math.floor(pos / RAM_CHUNK_SIZE);
    const mapped = this.chunks[first] !== undefined;
    let end = Math.min((first + 1) * RAM_CHUNK_SIZE, this.size);
    for (let i = first + 1; i < this.chunks.length && end - pos < limit; i++) {
      if ((this.chunks[i] !== undefined) !== mapped) break;
      end = Math.min((i + 1) * RAM_CHUNK_SIZE, this.size);
    }
    const n = Math.min(end - pos, limit);
    return mapped ? n : -n;
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

  /** Copy the whole store out (tests, snapshots). */
  snapshot(): Uint8Array {
    const out = new Uint8Array(this.size);
    this.chunks.forEach((c, i) => {
      if (c) out.set(c, i * RAM_CHUNK_SIZE);
    });
    return out;
  }
}
