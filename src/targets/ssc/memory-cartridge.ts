import type { ScsiTask } from "../../scsi/device.js";
import { Cartridge, type CartridgeIo, type IoCallback } from "./cartridge.js";
import {
  blankHeader,
  CARTRIDGE_HEADER_SIZE,
  type CartridgeHeader,
  checkRecordHeader,
  RECORD_HEADER_SIZE,
  recordKind,
  recordLength,
} from "./cartridge-format.js";
import { TapeIndex } from "./tape-index.js";

/**
 * A cartridge kept in memory in the cartridge file format (header region, records): the bytes
 * a file would hold, without a file. Its store completes every operation inside the call, so
 * a drive holding it is fully synchronous (tests, benchmarks, the deterministic mode).
 */
export class MemoryImage {
  bytes: Uint8Array;
  length = CARTRIDGE_HEADER_SIZE;
  readonly header: CartridgeHeader;

  constructor(barcode: string, capacity: number, earlyWarning: number, writeProtected = false) {
    this.bytes = new Uint8Array(CARTRIDGE_HEADER_SIZE + Math.min(capacity, 1 << 16));
    this.header = blankHeader(barcode, capacity, earlyWarning, writeProtected);
  }

  /** Build the index by walking the records (the image is always sound, but check anyway). */
  scan(): TapeIndex | string {
    const index = new TapeIndex();
    let at = CARTRIDGE_HEADER_SIZE;
    while (at < this.length) {
      if (at + RECORD_HEADER_SIZE > this.length) return `record header cut at offset ${at}`;
      const bad = checkRecordHeader(this.bytes, at, index.count);
      if (bad) return `${bad} at offset ${at}`;
      const len = recordLength(this.bytes, at);
      if (at + RECORD_HEADER_SIZE + len > this.length) return `record payload cut at offset ${at}`;
      index.push(recordKind(this.bytes, at), len);
      at += RECORD_HEADER_SIZE + len;
    }
    return index;
  }

  /** Open it as a cartridge a drive can hold. */
  open(writeProtected = false): Cartridge {
    const index = this.scan();
    if (typeof index === "string")
      return Cartridge.faulty(this.header.barcode, null, `memory cartridge ${this.header.barcode}: ${index}`);
    return new Cartridge(
      this.header.barcode,
      null,
      this.header,
      index,
      new MemoryCartridgeIo(this),
      null,
      writeProtected,
    );
  }

  ensure(n: number): void {
    if (n <= this.bytes.length) return;
    const b = new Uint8Array(Math.max(n, this.bytes.length * 2));
    b.set(this.bytes.subarray(0, this.length));
    this.bytes = b;
  }
}

/** The synchronous store over a {@link MemoryImage}. */
export class MemoryCartridgeIo implements CartridgeIo {
  readonly sync = true;

  constructor(private readonly image: MemoryImage) {}

  read(task: ScsiTask | null, offset: number, length: number, into: Uint8Array, cb: IoCallback): void {
    const img = this.image;
    if (offset + length > img.length) {
      cb(task, 0x031100, 0);
      return;
    }
    into.set(img.bytes.subarray(offset, offset + length), 0);
    cb(task, 0, length);
  }

  append(
    task: ScsiTask | null,
    offset: number,
    bytes: Uint8Array,
    length: number,
    _durable: boolean,
    cb: IoCallback,
  ): void {
    const img = this.image;
    img.ensure(offset + length);
    img.bytes.set(bytes.subarray(0, length), offset);
    img.length = offset + length;
    img.header.clean = false;
    cb(task, 0, length);
  }

  truncate(task: ScsiTask | null, offset: number, _durable: boolean, cb: IoCallback): void {
    this.image.length = Math.min(this.image.length, offset);
    this.image.header.clean = false;
    cb(task, 0, 0);
  }

  flush(task: ScsiTask | null, cb: IoCallback): void {
    this.image.header.durableEnd = this.image.length;
    cb(task, 0, 0);
  }

  close(index: TapeIndex, cb: (error: Error | null) => void): void {
    const h = this.image.header;
    h.durableEnd = this.image.length;
    h.indexOffset = this.image.length;
    h.recordCount = index.count;
    h.clean = true;
    cb(null);
  }
}
