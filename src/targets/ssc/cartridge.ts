import type { ScsiTask } from "../../scsi/device.js";
import type { CartridgeHeader } from "./cartridge-format.js";
import { TapeIndex } from "./tape-index.js";

/**
 * Completion of a {@link CartridgeIo} operation: `error` is 0 or a packed sense code (03/11/00
 * for reads, 03/0C/00 for writes); `value` is the bytes moved. The drive passes one bound
 * method, made once, so nothing is allocated per command; `task` is the command the operation
 * belongs to (null for background work such as an IMMED flush).
 */
export type IoCallback = (task: ScsiTask | null, error: number, value: number) => void;

/**
 * The bytes behind a loaded cartridge, in the cartridge file format (`cartridge-format.ts`),
 * addressed by file offset. Operations run one at a time in call order. A synchronous store
 * (RAM) calls back before returning; a file store later.
 *
 * The drive owns the record framing and the {@link TapeIndex}; the store moves bytes and keeps
 * the header's durability bookkeeping (marking the file dirty before its first change, lowering
 * the durable end before overwriting, cutting stale records, writing the index trailer on close).
 */
export interface CartridgeIo {
  readonly sync: boolean;
  /** Copy `length` bytes at file offset `offset` into `into[0, length)`. */
  read(task: ScsiTask | null, offset: number, length: number, into: Uint8Array, cb: IoCallback): void;
  /**
   * End the file at `offset` (dropping whatever followed) and write `bytes[0, length)` there.
   * `durable`: on stable storage, header included, before the callback (a sync point).
   */
  append(
    task: ScsiTask | null,
    offset: number,
    bytes: Uint8Array,
    length: number,
    durable: boolean,
    cb: IoCallback,
  ): void;
  /** End the file at `offset` (ERASE, FORMAT MEDIUM). */
  truncate(task: ScsiTask | null, offset: number, durable: boolean, cb: IoCallback): void;
  /** Make every record written so far durable (REWIND, WRITE FILEMARKS IMMED=0, UNLOAD). */
  flush(task: ScsiTask | null, cb: IoCallback): void;
  /**
   * Write the index trailer and a clean header (if anything changed) and release the file;
   * `cb` runs when done (inside the call for a synchronous store).
   */
  close(index: TapeIndex, cb: (error: Error | null) => void): void;
}

/**
 * A cartridge as a drive holds it: identity and geometry from its header, the index of its
 * logical objects, and the store. A cartridge whose file could not be used carries a `fault`
 * (naming the file and the reason) and no store; a drive holding it reports NOT READY.
 */
export class Cartridge {
  /** Why the cartridge cannot be used (corrupt, truncated, unreadable), or null. */
  fault: string | null;

  constructor(
    readonly barcode: string,
    /** The file, or null for a cartridge in memory. */
    readonly path: string | null,
    /** Header values (mutable fields are kept current by the store). */
    readonly header: CartridgeHeader | null,
    readonly index: TapeIndex,
    readonly io: CartridgeIo | null,
    fault: string | null,
    /** Write protection from outside the header (the host config's write-protect list). */
    private readonly forcedWriteProtect = false,
  ) {
    this.fault = fault;
  }

  /** A cartridge that cannot be used, for `reason`. */
  static faulty(barcode: string, path: string | null, reason: string): Cartridge {
    return new Cartridge(barcode, path, null, new TapeIndex(), null, reason);
  }

  /** Record-area bytes before the physical end of partition. */
  get capacity(): number {
    return this.header?.capacity ?? 0;
  }

  /** Record-area bytes after which writes report early warning. */
  get earlyWarning(): number {
    return this.header?.earlyWarning ?? 0;
  }

  /** The write-protect tab. */
  get writeProtected(): boolean {
    return this.forcedWriteProtect || (this.header?.writeProtected ?? true);
  }

  /** The lock on the cartridge's file, held while the cartridge is open (see `image-lock.ts`). */
  private lock: { release(): void } | null = null;

  /** Hold `lock` until the cartridge is closed (ejected, unloaded, or its host stopped). */
  holdLock(lock: { release(): void }): void {
    this.lock = lock;
  }

  /** Close the store (a faulty cartridge has none); `cb` runs inside the call for RAM. */
  closeThen(cb: (error: Error | null) => void): void {
    const lock = this.lock;
    this.lock = null;
    if (this.io)
      this.io.close(this.index, (e) => {
        lock?.release();
        cb(e);
      });
    else {
      lock?.release();
      cb(null);
    }
  }

  /** {@link closeThen} as a promise. */
  close(): Promise<void> {
    return new Promise((resolve, reject) => this.closeThen((e) => (e ? reject(e) : resolve())));
  }
}
