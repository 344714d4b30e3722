import { DataBuffer } from "../../../src/scsi/data-buffer.js";
import {
  type DataDirection,
  type Initiator,
  SCSI_SENSE_BUFFERSIZE,
  type ScsiTask,
} from "../../../src/scsi/device.js";
import { type DecodedSense, decodeSense } from "../../../src/scsi/sense.js";

/** Bytes of guard around every test data buffer. */
export const GUARD = 32;
const GUARD_BYTE = 0xa5;

/** An initiator for tests. */
export function initiator(id: number, name = `xen-pvscsi:dom${id}/vhost0`): Initiator {
  return { id, name };
}

export const I1 = initiator(1);
export const I2 = initiator(2);

/**
 * A task over a data buffer that sits inside a larger array between guard bytes, split into
 * segments (scatter/gather), so a device writing past the buffer or the wrong segment is caught.
 */
export class TestTask implements ScsiTask {
  readonly cdb: Uint8Array;
  readonly lun: number;
  readonly initiator: Initiator;
  readonly tag: number;
  readonly direction: DataDirection;
  readonly data: DataBuffer;
  readonly sense = new Uint8Array(SCSI_SENSE_BUFFERSIZE);
  /** The memory behind the data buffer, guards included. */
  readonly memory: Uint8Array;
  status = -1;
  transferred = -1;
  senseLength = -1;
  calls = 0;
  private resolve: (() => void) | null = null;
  readonly completed: Promise<void>;

  constructor(
    cdb: ArrayLike<number>,
    opts: {
      lun?: number;
      initiator?: Initiator;
      tag?: number;
      /** Data-in buffer size. */
      dataIn?: number;
      /** Data-out contents (read-only buffer). */
      dataOut?: Uint8Array;
      /** Segment size for scatter/gather (default: one segment). */
      segment?: number;
    } = {},
  ) {
    this.cdb = Uint8Array.from(cdb);
    this.lun = opts.lun ?? 0;
    this.initiator = opts.initiator ?? I1;
    this.tag = opts.tag ?? 1;
    const out = opts.dataOut;
    const len = out ? out.length : (opts.dataIn ?? 0);
    this.direction = out ? 1 : len > 0 ? 2 : 3;
    this.memory = new Uint8Array(len + 2 * GUARD).fill(GUARD_BYTE);
    if (out) this.memory.set(out, GUARD);
    const seg = opts.segment ?? Math.max(1, len);
    const count = Math.max(1, Math.ceil(len / seg));
    this.data = new DataBuffer(count);
    this.data.reset(!out);
    for (let off = 0; off < len; off += seg)
      this.data.add(this.memory, GUARD + off, Math.min(seg, len - off));
    if (len === 0) this.data.add(this.memory, GUARD, 0);
    this.completed = new Promise((r) => {
      this.resolve = r;
    });
  }

  done(status: number, transferred: number, senseLength: number): void {
    this.calls++;
    this.status = status;
    this.transferred = transferred;
    this.senseLength = senseLength;
    this.resolve?.();
  }

  /** The data-in bytes the device transferred. */
  get bytes(): Uint8Array {
    return this.memory.slice(GUARD, GUARD + Math.max(0, this.transferred));
  }

  /** The whole data buffer (transferred or not). */
  get buffer(): Uint8Array {
    return this.memory.slice(GUARD, this.memory.length - GUARD);
  }

  /** Decoded sense, or throws when there is none. */
  get decoded(): DecodedSense {
    if (this.senseLength <= 0) throw new Error(`no sense (status 0x${this.status.toString(16)})`);
    return decodeSense(this.sense, this.senseLength);
  }

  /** "KK/AA/QQ" of the sense, for compact assertions. */
  get senseString(): string {
    const d = this.decoded;
    return [d.key, d.asc, d.ascq].map((v) => v.toString(16).padStart(2, "0").toUpperCase()).join("/");
  }

  /** Whether the guard bytes are intact. */
  get guardsIntact(): boolean {
    for (let i = 0; i < GUARD; i++) {
      if (this.memory[i] !== GUARD_BYTE || this.memory[this.memory.length - 1 - i] !== GUARD_BYTE)
        return false;
    }
    return true;
  }
}

/** What a device needs to accept a task. */
export interface Submittable {
  submit(task: ScsiTask): void;
}

/** Submit a CDB and wait for completion (sync or async devices alike). */
export async function exec(
  dev: Submittable,
  cdb: ArrayLike<number>,
  opts: ConstructorParameters<typeof TestTask>[1] = {},
): Promise<TestTask> {
  const t = new TestTask(cdb, opts);
  dev.submit(t);
  await t.completed;
  if (t.calls !== 1) throw new Error(`done called ${t.calls} times`);
  if (!t.guardsIntact) throw new Error("device wrote outside the data buffer");
  return t;
}

/** Submit a CDB to a synchronous device; it must complete inside submit. */
export function execSync(
  dev: Submittable,
  cdb: ArrayLike<number>,
  opts: ConstructorParameters<typeof TestTask>[1] = {},
): TestTask {
  const t = new TestTask(cdb, opts);
  dev.submit(t);
  if (t.calls !== 1) throw new Error(`done called ${t.calls} times inside submit`);
  if (!t.guardsIntact) throw new Error("device wrote outside the data buffer");
  return t;
}

/** Submit TEST UNIT READY until the pending unit attentions are gone (like an initiator's scan). */
export function clearUas(dev: Submittable, init = I1, lun = 0): string[] {
  const seen: string[] = [];
  for (let i = 0; i < 16; i++) {
    const t = execSync(dev, [0x03, 0, 0, 0, 252, 0], { initiator: init, lun, dataIn: 252 });
    const d = decodeSense(t.bytes);
    if (d.key !== 6) return seen;
    seen.push(t.bytes.length > 0 ? `06/${hex(d.asc)}/${hex(d.ascq)}` : "");
  }
  return seen;
}

function hex(v: number): string {
  return v.toString(16).padStart(2, "0").toUpperCase();
}

/** Big-endian CDB field helpers for building CDBs in tests. */
export function cdb10(op: number, lba: number, blocks: number, b1 = 0): number[] {
  return [
    op,
    b1,
    lba >>> 24,
    (lba >>> 16) & 0xff,
    (lba >>> 8) & 0xff,
    lba & 0xff,
    0,
    blocks >>> 8,
    blocks & 0xff,
    0,
  ];
}

export function cdb16(op: number, lba: number, blocks: number, b1 = 0): number[] {
  const hi = Math.floor(lba / 0x1_0000_0000);
  const lo = lba >>> 0;
  return [
    op,
    b1,
    hi >>> 24,
    (hi >>> 16) & 0xff,
    (hi >>> 8) & 0xff,
    hi & 0xff,
    lo >>> 24,
    (lo >>> 16) & 0xff,
    (lo >>> 8) & 0xff,
    lo & 0xff,
    blocks >>> 24,
    (blocks >>> 16) & 0xff,
    (blocks >>> 8) & 0xff,
    blocks & 0xff,
    0,
    0,
  ];
}
