import { constants } from "node:fs";
import { type FileHandle, link, mkdir, open, stat, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import createDebug from "debug";
import type { ScsiTask } from "../../scsi/device.js";
import { MISCOMPARE_DURING_VERIFY, UNRECOVERED_READ_ERROR, WRITE_ERROR } from "../../scsi/sense.js";
import type { BlockStore, StoreCallback } from "./block-store.js";

const log = createDebug("pvscsi:targets");

/** How a {@link FileStore} opens its image. */
export interface FileStoreOptions {
  /** Capacity in bytes. Required with `create`; otherwise the file's size (which must be at least this). */
  readonly size?: number;
  /** Create a sparse file of `size` bytes when the image does not exist. */
  readonly create?: boolean;
  readonly readOnly?: boolean;
  /** The image must hold a whole number of blocks of this size. */
  readonly blockSize: number;
}

type Op =
  | { kind: "read"; task: ScsiTask; pos: number; n: number; cb: StoreCallback }
  | {
      kind: "write";
      task: ScsiTask;
      pos: number;
      n: number;
      off: number;
      durable: boolean;
      cb: StoreCallback;
    }
  | { kind: "compare"; task: ScsiTask; pos: number; n: number; cb: StoreCallback }
  | { kind: "caw"; task: ScsiTask; pos: number; n: number; durable: boolean; cb: StoreCallback }
  | { kind: "or"; task: ScsiTask; pos: number; n: number; durable: boolean; cb: StoreCallback }
  | {
      kind: "same";
      task: ScsiTask;
      pos: number;
      bs: number;
      count: number;
      pattern: Uint8Array;
      durable: boolean;
      cb: StoreCallback;
    }
  | { kind: "unmap"; task: ScsiTask; ranges: number[]; durable: boolean; cb: StoreCallback }
  | { kind: "flush"; task: ScsiTask; cb: StoreCallback };

/** Largest single buffer a pattern or zero fill uses. */
const FILL_CHUNK = 1 << 20;

/**
 * A block store over a raw image file (sparse files welcome), with asynchronous I/O through
 * `fs/promises`. Operations run one at a time in arrival order, which makes COMPARE AND WRITE
 * atomic and SYNCHRONIZE CACHE cover every write acknowledged before it, at the cost of
 * parallelism a RAM disk does not need either.
 *
 * Durability: a `durable` write (FUA, or the write cache disabled) is `fdatasync`ed before its
 * callback; {@link flush} `fsync`s. Deallocation (UNMAP, WRITE SAME with UNMAP) writes zeros:
 * Node has no `fallocate(PUNCH_HOLE)`, so the file does not shrink, and GET LBA STATUS reports
 * every block "mapped or unknown" (SBC-3 §5.6).
 *
 * An image that cannot be used — missing, not a regular file, shorter than the declared size,
 * not a whole number of blocks — gives a store with {@link fault} set, naming the path; the disk
 * then reports NOT READY rather than serving garbage.
 */
export class FileStore implements BlockStore {
  readonly sync = false;
  readonly tracksMapping = false;
  private readonly queue: Op[] = [];
  private running: Op | null = null;
  private readonly waiters: Array<{ match: (t: ScsiTask) => boolean; resolve: () => void }> = [];

  private constructor(
    readonly path: string,
    readonly size: number,
    readonly fault: string | null,
    private readonly fh: FileHandle | null,
  ) {}

  /** A store that cannot be used, for `why` (e.g. its image is locked by another host). */
  static faulty(path: string, why: string): FileStore {
    return new FileStore(path, 0, why, null);
  }

  /** Open (or create) the image. Never rejects for a bad image: the store carries the fault. */
  static async open(path: string, options: FileStoreOptions): Promise<FileStore> {
    const bs = options.blockSize;
    const faulty = (why: string): FileStore => {
      log("image %s: %s", path, why);
      return new FileStore(path, 0, `image ${path}: ${why}`, null);
    };
    let st: Awaited<ReturnType<typeof stat>> | null = null;
    try {
      st = await stat(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT")
        return faulty(`cannot stat: ${(e as Error).message}`);
    }
    if (st === null) {
      if (!options.create || options.size === undefined) return faulty("does not exist");
      // The image appears whole or not at all: it is made at a private name, sized, then linked
      // into place. Two hosts starting at once on one shareable image both succeed: the one whose
      // link fails with EEXIST uses the other's (already full-size) file.
      const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.new`;
      try {
        // `create = yes` makes the image's folder too: the user asked for the image to exist.
        await mkdir(dirname(path), { recursive: true });
        const fh = await open(tmp, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o600);
        try {
          await fh.truncate(options.size); // sparse: no blocks written
          await fh.sync();
        } finally {
          await fh.close();
        }
        await link(tmp, path).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== "EEXIST") throw e;
        });
      } catch (e) {
        return faulty(`cannot create: ${(e as Error).message}`);
      } finally {
        await unlink(tmp).catch(() => undefined);
      }
      try {
        st = await stat(path);
      } catch (e) {
        return faulty(`cannot stat: ${(e as Error).message}`);
      }
    }
    if (!st.isFile()) return faulty("is not a regular file");
    const fileSize = st.size;
    if (fileSize === 0) return faulty("is empty");
    if (options.size !== undefined && fileSize < options.size) {
      return faulty(`is ${fileSize} bytes, shorter than the declared size of ${options.size} bytes`);
    }
    const size = options.size ?? fileSize;
    if (size % bs !== 0) return faulty(`size ${size} is not a whole number of ${bs}-byte blocks`);
    let fh: FileHandle;
    try {
      fh = await open(path, options.readOnly ? constants.O_RDONLY : constants.O_RDWR);
    } catch (e) {
      return faulty(`cannot open: ${(e as Error).message}`);
    }
    return new FileStore(path, size, null, fh);
  }

  read(task: ScsiTask, pos: number, n: number, cb: StoreCallback): void {
    this.enqueue({ kind: "read", task, pos, n, cb });
  }

  write(task: ScsiTask, pos: number, n: number, off: number, durable: boolean, cb: StoreCallback): void {
    this.enqueue({ kind: "write", task, pos, n, off, durable, cb });
  }

  compare(task: ScsiTask, pos: number, n: number, cb: StoreCallback): void {
    this.enqueue({ kind: "compare", task, pos, n, cb });
  }

  compareAndWrite(task: ScsiTask, pos: number, n: number, durable: boolean, cb: StoreCallback): void {
    this.enqueue({ kind: "caw", task, pos, n, durable, cb });
  }

  orWrite(task: ScsiTask, pos: number, n: number, durable: boolean, cb: StoreCallback): void {
    this.enqueue({ kind: "or", task, pos, n, durable, cb });
  }

  writeSame(
    task: ScsiTask,
    pos: number,
    bs: number,
    count: number,
    durable: boolean,
    cb: StoreCallback,
  ): void {
    // The pattern is taken now: the data buffer belongs to the task, which stays alive, but a
    // copy keeps the op self-contained.
    const pattern = new Uint8Array(bs);
    task.data.read(0, pattern, 0, bs);
    this.enqueue({ kind: "same", task, pos, bs, count, pattern, durable, cb });
  }

  unmap(task: ScsiTask, ranges: Float64Array, count: number, durable: boolean, cb: StoreCallback): void {
    this.enqueue({ kind: "unmap", task, ranges: Array.from(ranges.subarray(0, 2 * count)), durable, cb });
  }

  mappingRun(pos: number, limit: number): number {
    return Math.min(limit, this.size - pos); // mapped or unknown
  }

  flush(task: ScsiTask, cb: StoreCallback): void {
    this.enqueue({ kind: "flush", task, cb });
  }

  cancel(match: (task: ScsiTask) => boolean): ScsiTask[] {
    const out: ScsiTask[] = [];
    for (let i = this.queue.length - 1; i >= 0; i--) {
      if (match(this.queue[i]!.task)) out.unshift(this.queue.splice(i, 1)[0]!.task);
    }
    return out;
  }

  settled(match: (task: ScsiTask) => boolean): Promise<void> {
    const pending =
      (this.running !== null && match(this.running.task)) || this.queue.some((o) => match(o.task));
    if (!pending) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  async close(): Promise<void> {
    await this.settled(() => true);
    if (this.fh) {
      await this.fh.sync().catch(() => {});
      await this.fh.close();
    }
  }

  private enqueue(op: Op): void {
    if (this.fh === null) {
      op.cb(op.task, op.kind === "read" || op.kind === "compare" ? UNRECOVERED_READ_ERROR : WRITE_ERROR, 0);
      return;
    }
    this.queue.push(op);
    if (this.running === null) this.next();
  }

  private next(): void {
    const op = this.queue.shift();
    this.running = op ?? null;
    if (!op) return;
    this.run(op, this.fh!).then(
      // Compares resolve to -(offset + 1) on a miscompare.
      (value) =>
        value < 0 ? this.finish(op, MISCOMPARE_DURING_VERIFY, -value - 1) : this.finish(op, 0, value),
      (e: unknown) => {
        log("image %s: %s failed: %O", this.path, op.kind, e);
        this.finish(
          op,
          op.kind === "read" || op.kind === "compare" ? UNRECOVERED_READ_ERROR : WRITE_ERROR,
          0,
        );
      },
    );
  }

  private finish(op: Op, error: number, value: number): void {
    this.running = null;
    try {
      op.cb(op.task, error, value);
    } finally {
      for (let i = this.waiters.length - 1; i >= 0; i--) {
        const w = this.waiters[i]!;
        if (!this.queue.some((o) => w.match(o.task))) {
          this.waiters.splice(i, 1);
          w.resolve();
        }
      }
      this.next();
    }
  }

  private async run(op: Op, fh: FileHandle): Promise<number> {
    switch (op.kind) {
      case "read": {
        const buf = await this.readAt(fh, op.pos, op.n);
        op.task.data.write(0, buf, 0, op.n);
        return op.n;
      }
      case "write": {
        const buf = new Uint8Array(op.n);
        op.task.data.read(op.off, buf, 0, op.n);
        await this.writeAt(fh, op.pos, buf, op.durable);
        return op.n;
      }
      case "compare": {
        const at = this.firstDifference(op.task, await this.readAt(fh, op.pos, op.n), 0);
        return at >= 0 ? -at - 1 : op.n;
      }
      case "caw": {
        const at = this.firstDifference(op.task, await this.readAt(fh, op.pos, op.n), 0);
        if (at >= 0) return -at - 1;
        const buf = new Uint8Array(op.n);
        op.task.data.read(op.n, buf, 0, op.n);
        await this.writeAt(fh, op.pos, buf, op.durable);
        return 2 * op.n;
      }
      case "or": {
        // One op at a time in the queue: the read, the OR and the write are one uninterrupted step.
        const cur = await this.readAt(fh, op.pos, op.n);
        const buf = new Uint8Array(op.n);
        op.task.data.read(0, buf, 0, op.n);
        for (let i = 0; i < op.n; i++) buf[i]! |= cur[i]!;
        await this.writeAt(fh, op.pos, buf, op.durable);
        return op.n;
      }
      case "same": {
        const total = op.bs * op.count;
        const chunk = new Uint8Array(Math.min(total, Math.max(op.bs, FILL_CHUNK - (FILL_CHUNK % op.bs))));
        for (let i = 0; i < chunk.length; i += op.bs) chunk.set(op.pattern, i);
        for (let done = 0; done < total; done += chunk.length) {
          await this.writeAt(
            fh,
            op.pos + done,
            chunk.subarray(0, Math.min(chunk.length, total - done)),
            false,
          );
        }
        if (op.durable) await fh.datasync();
        return op.bs;
      }
      case "unmap": {
        const zeros = new Uint8Array(FILL_CHUNK);
        for (let r = 0; r < op.ranges.length; r += 2) {
          const pos = op.ranges[r]!;
          const n = op.ranges[r + 1]!;
          for (let done = 0; done < n; done += zeros.length) {
            await this.writeAt(fh, pos + done, zeros.subarray(0, Math.min(zeros.length, n - done)), false);
          }
        }
        if (op.durable) await fh.datasync();
        return 0;
      }
      case "flush":
        await fh.sync();
        return 0;
    }
  }

  private async readAt(fh: FileHandle, pos: number, n: number): Promise<Uint8Array> {
    const buf = new Uint8Array(n);
    let done = 0;
    while (done < n) {
      const { bytesRead } = await fh.read(buf, done, n - done, pos + done);
      if (bytesRead === 0) throw new Error(`short read at byte ${pos + done}: the image shrank`);
      done += bytesRead;
    }
    return buf;
  }

  private async writeAt(fh: FileHandle, pos: number, buf: Uint8Array, durable: boolean): Promise<void> {
    let done = 0;
    while (done < buf.length) {
      const { bytesWritten } = await fh.write(buf, done, buf.length - done, pos + done);
      done += bytesWritten;
    }
    if (durable) await fh.datasync();
  }

  private firstDifference(task: ScsiTask, medium: Uint8Array, dataOffset: number): number {
    const mine = new Uint8Array(medium.length);
    task.data.read(dataOffset, mine, 0, medium.length);
    for (let i = 0; i < medium.length; i++) if (mine[i] !== medium[i]) return i;
    return -1;
  }
}
