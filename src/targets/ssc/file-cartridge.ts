import { constants } from "node:fs";
import { type FileHandle, open, stat } from "node:fs/promises";
import { dirname } from "node:path";
import createDebug from "debug";
import { be32, be64, put32, put64 } from "../../scsi/cdb.js";
import type { ScsiTask } from "../../scsi/device.js";
import { UNRECOVERED_READ_ERROR, WRITE_ERROR } from "../../scsi/sense.js";
import { Cartridge, type CartridgeIo, type IoCallback } from "./cartridge.js";
import {
  blankHeader,
  CARTRIDGE_HEADER_SIZE,
  type CartridgeHeader,
  checkRecordHeader,
  crcOf,
  decodeHeader,
  encodeHeader,
  INDEX_HEADER_SIZE,
  INDEX_MAGIC,
  indexEntry,
  RECORD_DATA,
  RECORD_FILEMARK,
  RECORD_HEADER_SIZE,
  recordCrc,
  recordKind,
  recordLength,
} from "./cartridge-format.js";
import { TapeIndex } from "./tape-index.js";

const log = createDebug("pvscsi:tape");

/** How to create a cartridge file that does not exist yet. */
export interface CartridgeGeometry {
  /** Record-area bytes before the physical end. */
  readonly capacity: number;
  /** Record-area bytes after which writes report early warning (< capacity). */
  readonly earlyWarning: number;
}

/** Options of {@link openCartridgeFile}. */
export interface OpenCartridgeOptions {
  readonly barcode: string;
  /** Create the file with this geometry when it does not exist ("created on first use"). */
  readonly create?: CartridgeGeometry;
  /** Treat the cartridge as write-protected whatever its header says. */
  readonly writeProtected?: boolean;
}

type Op =
  | { kind: "read"; task: ScsiTask | null; offset: number; length: number; into: Uint8Array; cb: IoCallback }
  | {
      kind: "append";
      task: ScsiTask | null;
      offset: number;
      bytes: Uint8Array;
      length: number;
      durable: boolean;
      cb: IoCallback;
    }
  | { kind: "truncate"; task: ScsiTask | null; offset: number; durable: boolean; cb: IoCallback }
  | { kind: "flush"; task: ScsiTask | null; cb: IoCallback };

/** Chunk size of the sequential scan. */
const SCAN_CHUNK = 1 << 16;

/**
 * Open the cartridge file at `path` (creating it when `create` is given and it does not exist).
 * Never rejects for a bad file: the cartridge comes back with `fault` set, naming the path — a
 * corrupt or truncated cartridge is reported, not served. See `cartridge-format.ts` for what is
 * checked and how a crashed write is recovered.
 */
export async function openCartridgeFile(path: string, options: OpenCartridgeOptions): Promise<Cartridge> {
  const faulty = (why: string): Cartridge => {
    log("cartridge %s: %s", path, why);
    return Cartridge.faulty(options.barcode, path, `cartridge ${path}: ${why}`);
  };
  let size: number;
  try {
    const st = await stat(path);
    if (!st.isFile()) return faulty("is not a regular file");
    size = st.size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") return faulty(`cannot stat: ${(e as Error).message}`);
    if (!options.create) return faulty("does not exist");
    try {
      await createCartridgeFile(path, options.barcode, options.create, options.writeProtected ?? false);
    } catch (err) {
      return faulty(`cannot create: ${(err as Error).message}`);
    }
    size = CARTRIDGE_HEADER_SIZE + INDEX_HEADER_SIZE;
  }
  let fh: FileHandle;
  let writable = true;
  try {
    fh = await open(path, constants.O_RDWR);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "EACCES" && code !== "EROFS" && code !== "EPERM")
      return faulty(`cannot open: ${(e as Error).message}`);
    try {
      fh = await open(path, constants.O_RDONLY);
      writable = false;
    } catch (err) {
      return faulty(`cannot open: ${(err as Error).message}`);
    }
  }
  try {
    const hb = new Uint8Array(CARTRIDGE_HEADER_SIZE);
    const got = await readFully(fh, hb, 0, CARTRIDGE_HEADER_SIZE, 0);
    if (got < CARTRIDGE_HEADER_SIZE) {
      await fh.close();
      return faulty(`truncated: ${size} bytes, shorter than the ${CARTRIDGE_HEADER_SIZE}-byte header`);
    }
    const header = decodeHeader(hb);
    if (typeof header === "string") {
      await fh.close();
      return faulty(header);
    }
    if (size < header.durableEnd) {
      await fh.close();
      return faulty(
        `truncated: ${size} bytes, but its header says ${header.durableEnd} bytes were on stable storage`,
      );
    }
    let index = header.clean ? await readTrailer(fh, header, size) : null;
    let end: number;
    if (index) {
      end = index.end;
    } else {
      const scanned = await scan(fh, header, size);
      if (typeof scanned === "string") {
        await fh.close();
        return faulty(scanned);
      }
      index = scanned;
      end = index.end;
    }
    const io = new FileCartridgeIo(path, fh, header, size, writable);
    if (!header.clean && writable) {
      // A crash left records past the durable end: keep the whole ones, cut the rest, and make
      // the recovered state the new durable end so the next open need not check them again.
      if (end < size) log("cartridge %s: dropping %d bytes of unacknowledged tail", path, size - end);
      await io.recover(end);
    }
    return new Cartridge(options.barcode, path, header, index, io, null, options.writeProtected ?? !writable);
  } catch (e) {
    await fh.close().catch(() => {});
    return faulty(`cannot read: ${(e as Error).message}`);
  }
}

/** Write a new, empty, clean cartridge file (header and an empty index trailer), durably. */
async function createCartridgeFile(
  path: string,
  barcode: string,
  geometry: CartridgeGeometry,
  writeProtected: boolean,
): Promise<void> {
  const header = blankHeader(barcode, geometry.capacity, geometry.earlyWarning, writeProtected);
  const b = new Uint8Array(CARTRIDGE_HEADER_SIZE + INDEX_HEADER_SIZE);
  encodeHeader(b, header);
  encodeTrailerHeader(b, CARTRIDGE_HEADER_SIZE, 0, crcOf(b, 0, 0));
  const fh = await open(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    await writeFully(fh, b, b.length, 0);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await syncDirectory(dirname(path));
}

/** fsync a directory so a new entry in it survives a crash (best effort: not every OS allows it). */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const d = await open(dir, constants.O_RDONLY);
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // EISDIR/EINVAL on platforms that cannot fsync directories.
  }
}

function encodeTrailerHeader(b: Uint8Array, at: number, count: number, entriesCrc: number): void {
  b.set(INDEX_MAGIC, at);
  put64(b, at + 8, count);
  put32(b, at + 16, entriesCrc);
  put32(b, at + 20, crcOf(b, at, at + 20));
}

/** The index from a clean file's trailer, or null when it is missing or does not check out. */
async function readTrailer(fh: FileHandle, header: CartridgeHeader, size: number): Promise<TapeIndex | null> {
  const at = header.indexOffset;
  if (at !== header.durableEnd || at + INDEX_HEADER_SIZE > size) return null;
  const th = new Uint8Array(INDEX_HEADER_SIZE);
  if ((await readFully(fh, th, 0, INDEX_HEADER_SIZE, at)) < INDEX_HEADER_SIZE) return null;
  for (let i = 0; i < INDEX_MAGIC.length; i++) if (th[i] !== INDEX_MAGIC[i]) return null;
  if (be32(th, 20) !== crcOf(th, 0, 20)) return null;
  const count = be64(th, 8);
  if (count !== header.recordCount || at + INDEX_HEADER_SIZE + 4 * count > size) return null;
  const entries = new Uint8Array(4 * count);
  if ((await readFully(fh, entries, 0, entries.length, at + INDEX_HEADER_SIZE)) < entries.length) return null;
  if (crcOf(entries, 0, entries.length) !== be32(th, 16)) return null;
  const index = new TapeIndex();
  for (let i = 0; i < count; i++) {
    const e = be32(entries, 4 * i);
    const kind = e >>> 30;
    const length = e & 0x3fffffff;
    if (kind !== RECORD_DATA && kind !== RECORD_FILEMARK) return null;
    index.push(kind, length);
  }
  return index.end === at ? index : null;
}

/**
 * Walk the records from the header on. Records before the durable end must all be sound (they
 * were on stable storage); past it (a dirty file's tail) the walk keeps whole records whose
 * payload checksums match and stops at the first that is not. A clean file is walked to its
 * durable end only (its trailer follows).
 */
async function scan(fh: FileHandle, header: CartridgeHeader, size: number): Promise<TapeIndex | string> {
  const index = new TapeIndex();
  const durable = header.durableEnd;
  const limit = header.clean ? durable : size;
  const chunk = new Uint8Array(SCAN_CHUNK);
  let chunkAt = -1;
  let chunkLen = 0;
  let at = CARTRIDGE_HEADER_SIZE;
  while (at < limit) {
    if (at + RECORD_HEADER_SIZE > size) {
      if (at < durable) return `truncated: record header at offset ${at} runs past the end of the file`;
      break;
    }
    if (chunkAt < 0 || at < chunkAt || at + RECORD_HEADER_SIZE > chunkAt + chunkLen) {
      chunkAt = at;
      chunkLen = await readFully(fh, chunk, 0, Math.min(SCAN_CHUNK, size - at), at);
      if (chunkLen < RECORD_HEADER_SIZE) return `cannot read the record header at offset ${at}`;
    }
    const h = at - chunkAt;
    const bad = checkRecordHeader(chunk, h, index.count);
    if (bad) {
      if (at < durable) return `corrupt record at offset ${at}: ${bad}`;
      break; // the unacknowledged tail a crash left
    }
    const len = recordLength(chunk, h);
    const next = at + RECORD_HEADER_SIZE + len;
    if (next > size) {
      if (at < durable) return `truncated: record at offset ${at} runs past the end of the file`;
      break;
    }
    if (at < durable && next > durable) return `corrupt: record at offset ${at} straddles the durable end`;
    if (at >= durable && len > 0) {
      const payload = new Uint8Array(len);
      if ((await readFully(fh, payload, 0, len, at + RECORD_HEADER_SIZE)) < len) break;
      if (crcOf(payload, 0, len) !== recordCrc(chunk, h)) break;
    }
    index.push(recordKind(chunk, h), len);
    at = next;
  }
  if (at < durable) return `corrupt: records end at offset ${at}, before the durable end ${durable}`;
  return index;
}

async function readFully(
  fh: FileHandle,
  into: Uint8Array,
  at: number,
  length: number,
  position: number,
): Promise<number> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(into, at + done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

async function writeFully(fh: FileHandle, b: Uint8Array, length: number, position: number): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesWritten } = await fh.write(b, done, length - done, position + done);
    done += bytesWritten;
  }
}

/**
 * The asynchronous store over a cartridge file. Operations run one at a time, in call order.
 * It keeps the header honest: before the first change the header is rewritten dirty (clean
 * flag and index offset cleared) and synced; before records below the durable end are dropped,
 * the durable end is lowered first; sync points advance it; closing writes the index trailer
 * and a clean header.
 */
export class FileCartridgeIo implements CartridgeIo {
  readonly sync = false;
  private readonly queue: Op[] = [];
  private running = false;
  private dirty: boolean;
  /** The file's length as far as this store has made it. */
  private fileEnd: number;
  private readonly headerBytes = new Uint8Array(CARTRIDGE_HEADER_SIZE);
  private closed = false;
  private readonly idleWaiters: Array<() => void> = [];

  constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    private readonly header: CartridgeHeader,
    fileSize: number,
    private readonly writable: boolean,
  ) {
    this.dirty = !header.clean;
    this.fileEnd = fileSize;
  }

  read(task: ScsiTask | null, offset: number, length: number, into: Uint8Array, cb: IoCallback): void {
    this.enqueue({ kind: "read", task, offset, length, into, cb });
  }

  append(
    task: ScsiTask | null,
    offset: number,
    bytes: Uint8Array,
    length: number,
    durable: boolean,
    cb: IoCallback,
  ): void {
    this.enqueue({ kind: "append", task, offset, bytes, length, durable, cb });
  }

  truncate(task: ScsiTask | null, offset: number, durable: boolean, cb: IoCallback): void {
    this.enqueue({ kind: "truncate", task, offset, durable, cb });
  }

  flush(task: ScsiTask | null, cb: IoCallback): void {
    this.enqueue({ kind: "flush", task, cb });
  }

  /** After a recovery scan: cut the file at `end` and make it the durable end. */
  async recover(end: number): Promise<void> {
    if (end < this.fileEnd) await this.fh.truncate(end);
    this.fileEnd = end;
    await this.fh.sync();
    this.header.durableEnd = end;
    await this.writeHeader();
    await this.fh.sync();
  }

  close(index: TapeIndex, cb: (error: Error | null) => void): void {
    this.closeAsync(index).then(
      () => cb(null),
      (e: unknown) => cb(e as Error),
    );
  }

  private async closeAsync(index: TapeIndex): Promise<void> {
    if (this.closed) return;
    await this.settled();
    this.closed = true;
    try {
      if (this.dirty && this.writable) {
        const end = index.end;
        const n = index.count;
        const t = new Uint8Array(INDEX_HEADER_SIZE + 4 * n);
        for (let i = 0; i < n; i++)
          put32(t, INDEX_HEADER_SIZE + 4 * i, indexEntry(index.kind(i), index.length(i)));
        encodeTrailerHeader(t, 0, n, crcOf(t, INDEX_HEADER_SIZE, t.length));
        if (end < this.fileEnd) await this.fh.truncate(end);
        await writeFully(this.fh, t, t.length, end);
        await this.fh.sync();
        const h = this.header;
        h.durableEnd = end;
        h.indexOffset = end;
        h.recordCount = n;
        h.clean = true;
        await this.writeHeader();
        await this.fh.sync();
        this.dirty = false;
      }
    } finally {
      await this.fh.close();
    }
  }

  private settled(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private enqueue(op: Op): void {
    if (this.closed) {
      op.cb(op.task, op.kind === "read" ? UNRECOVERED_READ_ERROR : WRITE_ERROR, 0);
      return;
    }
    this.queue.push(op);
    if (!this.running) this.next();
  }

  private next(): void {
    const op = this.queue.shift();
    if (!op) {
      this.running = false;
      for (const w of this.idleWaiters.splice(0)) w();
      return;
    }
    this.running = true;
    this.run(op).then(
      (value) => this.finish(op, 0, value),
      (e: unknown) => {
        log("cartridge %s: %s failed: %O", this.path, op.kind, e);
        this.finish(op, op.kind === "read" ? UNRECOVERED_READ_ERROR : WRITE_ERROR, 0);
      },
    );
  }

  private finish(op: Op, error: number, value: number): void {
    try {
      op.cb(op.task, error, value);
    } finally {
      this.next();
    }
  }

  private async run(op: Op): Promise<number> {
    switch (op.kind) {
      case "read": {
        const n = await readFully(this.fh, op.into, 0, op.length, op.offset);
        if (n < op.length) throw new Error(`short read at offset ${op.offset + n}: the file shrank`);
        return n;
      }
      case "append":
        await this.cut(op.offset);
        await writeFully(this.fh, op.bytes, op.length, op.offset);
        this.fileEnd = op.offset + op.length;
        if (op.durable) await this.syncPoint();
        return op.length;
      case "truncate":
        await this.cut(op.offset);
        if (op.durable) await this.syncPoint();
        return 0;
      case "flush":
        if (this.dirty) await this.syncPoint();
        return 0;
    }
  }

  /** Prepare to change the file from `offset` on: mark it dirty, lower the durable end, drop the rest. */
  private async cut(offset: number): Promise<void> {
    if (!this.writable) throw new Error("the cartridge file is read-only");
    const h = this.header;
    if (!this.dirty || offset < h.durableEnd) {
      h.clean = false;
      h.indexOffset = 0;
      h.recordCount = 0;
      if (offset < h.durableEnd) h.durableEnd = offset;
      await this.writeHeader();
      await this.fh.sync();
      this.dirty = true;
    }
    if (offset < this.fileEnd) {
      await this.fh.truncate(offset);
      this.fileEnd = offset;
    }
  }

  /** Everything written is durable: sync the data, then record the new durable end. */
  private async syncPoint(): Promise<void> {
    await this.fh.datasync();
    if (this.header.durableEnd !== this.fileEnd) {
      this.header.durableEnd = this.fileEnd;
      await this.writeHeader();
      await this.fh.datasync();
    }
  }

  private async writeHeader(): Promise<void> {
    encodeHeader(this.headerBytes, this.header);
    await writeFully(this.fh, this.headerBytes, CARTRIDGE_HEADER_SIZE, 0);
  }
}
