import type { ScsiTask } from "../../scsi/device.js";

/**
 * Completion of a {@link BlockStore} operation: `error` is 0 or a packed sense code (MEDIUM
 * ERROR; MISCOMPARE DURING VERIFY for compares that differ); `value` is the bytes moved, or with
 * MISCOMPARE the offset of the first differing byte in the data-out buffer (the sense
 * INFORMATION). Devices pass one bound method, created once, so no closure is made per command.
 */
export type StoreCallback = (task: ScsiTask, error: number, value: number) => void;

/**
 * The bytes behind a disk: RAM ({@link RamStore}, completes inside each call) or a file
 * ({@link FileStore}, completes later). Positions and lengths are in bytes and already
 * range-checked by the device; data moves between the store and `task.data` directly.
 */
export interface BlockStore {
  /** Capacity in bytes. */
  readonly size: number;
  /** True when every operation calls back before returning (no I/O). */
  readonly sync: boolean;
  /** Backing file, if any (for messages). */
  readonly path: string | null;
  /** Why the store cannot serve data (corrupt or short image, open failure), or null. */
  readonly fault: string | null;
  /** Whether the store tracks deallocated blocks (GET LBA STATUS can say "deallocated"). */
  readonly tracksMapping: boolean;

  /** Copy `[pos, pos + n)` into `task.data` at 0. */
  read(task: ScsiTask, pos: number, n: number, cb: StoreCallback): void;
  /** Copy `task.data[dataOffset, dataOffset + n)` to `pos`; `durable`: on stable storage before the callback. */
  write(
    task: ScsiTask,
    pos: number,
    n: number,
    dataOffset: number,
    durable: boolean,
    cb: StoreCallback,
  ): void;
  /** Compare `[pos, pos + n)` with `task.data[0, n)` (value n, or MISCOMPARE with the offset). */
  compare(task: ScsiTask, pos: number, n: number, cb: StoreCallback): void;
  /**
   * COMPARE AND WRITE, atomically with respect to other operations: compare `[pos, pos + n)` with
   * `task.data[0, n)`; if equal, write `task.data[n, 2n)` there (value 2n, or MISCOMPARE with the
   * offset and nothing written).
   */
  compareAndWrite(task: ScsiTask, pos: number, n: number, durable: boolean, cb: StoreCallback): void;
  /**
   * ORWRITE (SBC-4 §5.9), atomically with respect to other operations: the bitwise OR of
   * `task.data[0, n)` and `[pos, pos + n)` is written to `[pos, pos + n)` (value n).
   */
  orWrite(task: ScsiTask, pos: number, n: number, durable: boolean, cb: StoreCallback): void;
  /** Write the first `blockSize` bytes of `task.data` to `count` consecutive blocks from `pos`. */
  writeSame(
    task: ScsiTask,
    pos: number,
    blockSize: number,
    count: number,
    durable: boolean,
    cb: StoreCallback,
  ): void;
  /**
   * Deallocate `count` byte ranges `ranges[2i] .. + ranges[2i + 1]`; they read back as zeros
   * (LBPRZ). The array is the device's and may be reused after the call returns.
   */
  unmap(task: ScsiTask, ranges: Float64Array, count: number, durable: boolean, cb: StoreCallback): void;
  /**
   * Provisioning status at `pos` for GET LBA STATUS: the number of bytes from `pos` (at most
   * `limit`) sharing one status, negative when they are deallocated.
   */
  mappingRun(pos: number, limit: number): number;
  /** Make every completed write durable (SYNCHRONIZE CACHE). */
  flush(task: ScsiTask, cb: StoreCallback): void;
  /**
   * Remove queued, not yet started operations whose task matches; returns those tasks (they have
   * not been called back). Synchronous stores have none.
   */
  cancel(match: (task: ScsiTask) => boolean): ScsiTask[];
  /** Resolves when the operation of `task` (queued or running) has called back; at once if none. */
  settled(match: (task: ScsiTask) => boolean): Promise<void>;
  /** Flush and release the store. */
  close(): Promise<void>;
}
