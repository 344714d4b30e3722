import {
  DID_RESET,
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  type FrontCommand,
  type GuestScsi,
  type GuestScsiDevice,
  type GuestScsiHost,
  isUnitAttention,
  MAX_RETRIES,
  type ScsiResult,
} from "../midlayer.js";
import { READ_16, rw16, WRITE_16 } from "../sd.js";

/** Guest page size: a prepared command's frames are whole pages. */
const PAGE = 4096;
/**
 * Commands of one record kept in flight at once. Linux's block layer splits a large O_DIRECT
 * record into requests of at most `max_sectors` and queues them together (up to the host's
 * `can_queue`); eight of at most 508 KiB bound what a run pins of the guest's memory.
 */
const MAX_IN_FLIGHT = 8;
const EMPTY = new Uint8Array(0);

/** A failed command of a record: the result and where it was. */
export interface RecordFailure {
  readonly result: ScsiResult;
  readonly lba: number;
}

/**
 * A dd run's I/O: one record (a buffer of up to `bs`) moved to or from a disk as READ(16) or
 * WRITE(16) commands of at most `chunkMax` bytes each, several in flight — what `iflag=direct`
 * with a large bs does on Linux, where the block layer splits the record at the queue's maximum
 * transfer. The commands and their guest pages are prepared once for the whole run and reused
 * for every record (`GuestScsiHost.prepareCommand`, as iobench does): no buffer, grant frame,
 * closure or Promise per command, one Promise per record.
 *
 * Unit attentions are retried as the midlayer's `execute` does (up to {@link MAX_RETRIES} on a
 * non-removable device). When the ring refuses a command and none of this run's is in flight
 * to free a slot (other commands hold the ring), that chunk goes through the midlayer's queue
 * instead, which waits for a slot.
 */
export class RecordIo {
  private readonly host: GuestScsiHost;
  private readonly cmds: FrontCommand[] = [];
  /** Each command's page count as prepared (a short chunk uses fewer for a while). */
  private readonly pages: number[] = [];
  private readonly chunkOf: Int32Array;
  private readonly retries: Int32Array;
  private readonly free: number[] = [];
  private readonly blocksPerChunk: number;
  /** Bytes each chunk of the current record received (reads). */
  readonly got: Int32Array;

  private buf: Uint8Array = EMPTY;
  private bytes = 0;
  private lba0 = 0;
  private chunks = 0;
  private next = 0;
  private inFlight = 0;
  private pumping = false;
  private failure: RecordFailure | null = null;
  private thrown: unknown = null;
  private settle: (() => void) | null = null;

  private constructor(
    private readonly scsi: GuestScsi,
    private readonly dev: GuestScsiDevice,
    private readonly reading: boolean,
    private readonly blockSize: number,
    private readonly chunkMax: number,
    recordBytes: number,
  ) {
    this.host = dev.host;
    this.blocksPerChunk = chunkMax / blockSize;
    const chunks = Math.ceil(recordBytes / chunkMax);
    this.got = new Int32Array(chunks);
    const n = Math.min(chunks, MAX_IN_FLIGHT);
    this.chunkOf = new Int32Array(n);
    this.retries = new Int32Array(n);
    const length = Math.min(recordBytes, chunkMax);
    for (let i = 0; i < n; i++) {
      let c: FrontCommand;
      try {
        c = this.host.prepareCommand(
          dev.channel,
          dev.id,
          dev.lun,
          reading ? DMA_FROM_DEVICE : DMA_TO_DEVICE,
          length,
        );
      } catch (e) {
        if (i > 0) break; // fewer in flight, as a guest short of memory would
        throw e;
      }
      c.setCdb([reading ? READ_16 : WRITE_16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
      c.timeoutSeconds = 30;
      const slot = i;
      c.onComplete = () => this.completed(slot);
      this.cmds.push(c);
      this.pages.push(c.frameCount);
      this.free.push(i);
    }
  }

  /**
   * Prepare the commands of a run whose records are at most `recordBytes` (a multiple of
   * `blockSize`), split at `chunkMax` (a multiple of `blockSize`, at most the host's maximum
   * transfer). Throws when the guest has no memory for even one command's pages.
   */
  static open(
    scsi: GuestScsi,
    dev: GuestScsiDevice,
    reading: boolean,
    blockSize: number,
    chunkMax: number,
    recordBytes: number,
  ): RecordIo {
    return new RecordIo(scsi, dev, reading, blockSize, chunkMax, recordBytes);
  }

  /**
   * Move `bytes` (a multiple of the block size, at most the record size) between `buf` and the
   * disk from `lba` on. Resolves to null when every command succeeded (a read's received bytes
   * per chunk are in {@link got}), or to the first failure; either way only once nothing of
   * the record is still in flight.
   */
  run(buf: Uint8Array, bytes: number, lba: number): Promise<RecordFailure | null> {
    this.buf = buf;
    this.bytes = bytes;
    this.lba0 = lba;
    this.chunks = Math.ceil(bytes / this.chunkMax);
    this.next = 0;
    this.failure = null;
    this.thrown = null;
    return new Promise<RecordFailure | null>((resolve, reject) => {
      this.settle = () => {
        this.settle = null;
        if (this.thrown !== null) reject(this.thrown);
        else resolve(this.failure);
      };
      this.pump();
    });
  }

  /** Give the commands' pages back (kept if the host failed: a backend may still map them). */
  close(): void {
    if (this.host.hostError !== null) return;
    for (let i = 0; i < this.cmds.length; i++) {
      const c = this.cmds[i]!;
      c.frameCount = this.pages[i]!;
      this.host.releasePrepared(c);
    }
  }

  private chunkBytes(chunk: number): number {
    return Math.min(this.chunkMax, this.bytes - chunk * this.chunkMax);
  }

  /** Start chunks while commands are free; publish them with one push. */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    while (this.next < this.chunks && this.failure === null && this.thrown === null && this.free.length > 0) {
      const slot = this.free.pop()!;
      const chunk = this.next++;
      this.arm(slot, chunk);
      this.inFlight++;
      if (!this.host.submitPrepared(this.cmds[slot]!)) {
        this.inFlight--;
        this.free.push(slot);
        if (this.inFlight === 0) this.viaMidlayer(chunk);
        else this.next--; // retried when one of ours completes
        break;
      }
    }
    this.host.flushPrepared();
    this.pumping = false;
    if (this.inFlight === 0 && (this.next >= this.chunks || this.failure !== null || this.thrown !== null))
      this.settle?.();
  }

  /** Set a command up for `chunk`: CDB, length, pages, and for a write the data. */
  private arm(slot: number, chunk: number): void {
    const c = this.cmds[slot]!;
    const n = this.chunkBytes(chunk);
    const lba = this.lba0 + chunk * this.blocksPerChunk;
    const blocks = n / this.blockSize;
    const cdb = c.cdb;
    const hi = Math.floor(lba / 2 ** 32);
    const lo = lba >>> 0;
    cdb[2] = hi >>> 24;
    cdb[3] = (hi >>> 16) & 255;
    cdb[4] = (hi >>> 8) & 255;
    cdb[5] = hi & 255;
    cdb[6] = lo >>> 24;
    cdb[7] = (lo >>> 16) & 255;
    cdb[8] = (lo >>> 8) & 255;
    cdb[9] = lo & 255;
    cdb[10] = blocks >>> 24;
    cdb[11] = (blocks >>> 16) & 255;
    cdb[12] = (blocks >>> 8) & 255;
    cdb[13] = blocks & 255;
    c.length = n;
    c.frameCount = Math.ceil(n / PAGE);
    this.chunkOf[slot] = chunk;
    this.retries[slot] = 0;
    if (!this.reading) {
      const mem = this.host.guestMemory.bytes;
      const at = chunk * this.chunkMax;
      for (let p = 0; p < c.frameCount; p++) {
        const from = at + p * PAGE;
        mem.set(this.buf.subarray(from, Math.min(from + PAGE, at + n)), c.frames[p]! * PAGE);
      }
    }
  }

  private completed(slot: number): void {
    const c = this.cmds[slot]!;
    const chunk = this.chunkOf[slot]!;
    if (c.host !== 0 || c.status !== 0) {
      const result: ScsiResult = {
        status: c.status,
        host: c.host,
        sense: c.sense.slice(0, c.senseLength),
        residual: c.residual,
        data: EMPTY,
      };
      if (result.host === DID_RESET && this.retries[slot]! < MAX_RETRIES) {
        // scsifront's resume reset it: the midlayer requeues it (`ACTION_RETRY`); it goes out
        // when the host takes commands again, with its pages and data as they were.
        this.retries[slot]!++;
        this.scsi.resetRetries++;
        this.host.requeue(c);
        return;
      }
      if (!this.dev.removable && isUnitAttention(result) && this.retries[slot]! < MAX_RETRIES) {
        this.retries[slot]!++;
        if (this.host.submitPrepared(c)) {
          if (!this.pumping) this.host.flushPrepared();
          return;
        }
      }
      this.inFlight--;
      this.free.push(slot);
      // Chunks complete out of order: report the failure nearest the record's start.
      const lba = this.lba0 + chunk * this.blocksPerChunk;
      if (this.failure === null || lba < this.failure.lba) this.failure = { result, lba };
    } else {
      if (this.reading) {
        const n = c.length;
        const got = Math.max(0, Math.min(n, n - c.residual));
        const mem = this.host.guestMemory.bytes;
        const at = chunk * this.chunkMax;
        for (let p = 0, done = 0; done < got; p++, done += PAGE)
          this.buf.set(
            mem.subarray(c.frames[p]! * PAGE, c.frames[p]! * PAGE + Math.min(PAGE, got - done)),
            at + done,
          );
        this.got[chunk] = got;
      }
      this.inFlight--;
      this.free.push(slot);
    }
    this.pump();
  }

  /** The ring is held by others: send this chunk through the midlayer's queue (and its retries). */
  private viaMidlayer(chunk: number): void {
    const n = this.chunkBytes(chunk);
    const at = chunk * this.chunkMax;
    const lba = this.lba0 + chunk * this.blocksPerChunk;
    const cdb = rw16(this.reading ? READ_16 : WRITE_16, lba, n / this.blockSize);
    this.inFlight++;
    const req = this.reading ? { cdb, dataInLength: n } : { cdb, dataOut: this.buf.subarray(at, at + n) };
    this.scsi.execute(this.dev, req).then(
      (r) => {
        this.inFlight--;
        if (r.host !== 0 || r.status !== 0) {
          if (this.failure === null || lba < this.failure.lba) this.failure = { result: r, lba };
        } else if (this.reading) {
          this.buf.set(r.data, at);
          this.got[chunk] = r.data.length;
        }
        this.pump();
      },
      (e: unknown) => {
        this.inFlight--;
        if (this.thrown === null) this.thrown = e ?? new Error("dd: command failed");
        this.pump();
      },
    );
  }
}
