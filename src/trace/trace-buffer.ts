/**
 * A preallocated binary ring of fixed-size trace records over a SharedArrayBuffer: the recorder of
 * one thread (a worker, or the single-thread system). Recording a record writes eight float64s and
 * bumps a counter — no allocation, no string formatting. Strings (xenstore paths and values) are
 * interned once into a byte area of the same buffer, so another thread can decode the whole trace
 * from the buffer alone. JSON is produced only at export ({@link toChromeTrace}).
 *
 * When the ring is full the oldest records are overwritten; {@link TraceBuffer.records} returns
 * what is left, oldest first, and {@link TraceBuffer.dropped} how many were lost.
 */

/** Float64 words per record: ts, kind, a, b, c, d, e, f. */
export const TRACE_RECORD_WORDS = 8;

// Header (Int32 words): [0] records written (total, may exceed capacity), [1] capacity,
// [2] string bytes used, [3] string area size, [4] strings interned.
const H_WRITTEN = 0;
const H_CAPACITY = 1;
const H_STR_USED = 2;
const H_STR_SIZE = 3;
const H_STR_COUNT = 4;
const HEADER_BYTES = 64;

/** What happened. Field meanings (a…f) are listed per kind; `domid` is always `a`. */
export const TraceKind = {
  /** a=guest domid, b=devid, c=rqid, d=CDB opcode (or -act for ABORT/RESET), e=data bytes. */
  RequestSubmit: 1,
  /** a=guest domid, b=devid, c=rqid, d=rslt. */
  RequestComplete: 2,
  /** a=backend domid, b=frontend domid, c=devid. */
  ServiceBegin: 3,
  /** a=backend domid, b=frontend domid, c=devid, d=requests consumed. */
  ServiceEnd: 4,
  /** a=backend domid, b=frontend domid, c=devid, d=rqid, e=CDB opcode. */
  DeviceBegin: 5,
  /** a=backend domid, b=frontend domid, c=devid, d=rqid, e=rslt. */
  DeviceEnd: 6,
  /** a=domid, b=devid, c=side (0 requests, 1 responses), d=new, e=old, f=event. Notify sent. */
  NotifySent: 7,
  /** As {@link TraceKind.NotifySent}, for a push that needed no notification. */
  NotifySuppressed: 8,
  /** a=domid, b=port: the vcpu handled an event on `port`. */
  Upcall: 9,
  /** a=domid, b=local port, c=remote domid, d=remote port. */
  EventSend: 10,
  /** a=granting domid, b=ref, c=peer domid, d=frame, e=1 if read-only. */
  GrantAccess: 11,
  /** a=granting domid, b=ref, c=1 if ended, 0 if still in use (XSA-396). */
  GrantEnd: 12,
  /** a=mapping domid, b=granter domid, c=ref, d=handle, e=1 if read-only. */
  GrantMap: 13,
  /** a=mapping domid, b=granter domid, c=ref, d=handle. */
  GrantUnmap: 14,
  /** a=writer domid, b=path (string id), c=value (string id). */
  XenstoreWrite: 15,
  /** a=watcher domid, b=path (string id), c=token (string id). */
  WatchFire: 16,
} as const;

/** One of {@link TraceKind}'s values. */
export type TraceKindValue = (typeof TraceKind)[keyof typeof TraceKind];

/** One decoded record (export time only). */
export interface TraceRecord {
  /** Microseconds since the Unix epoch (`performance.timeOrigin + performance.now()`), or virtual. */
  readonly ts: number;
  readonly kind: TraceKindValue;
  readonly a: number;
  readonly b: number;
  readonly c: number;
  readonly d: number;
  readonly e: number;
  readonly f: number;
}

/** The recorder's clock, in microseconds; one timeline across workers (Node shares `timeOrigin`). */
export type TraceClock = () => number;

/** `performance.timeOrigin + performance.now()`, in microseconds. */
export const wallClockMicros: TraceClock = () => (performance.timeOrigin + performance.now()) * 1000;

/** Options of {@link TraceBuffer.create}. */
export interface TraceBufferOptions {
  /** Records kept (the ring's size); default 65,536 (4 MiB). */
  readonly records?: number;
  /** Bytes for interned strings; default 256 KiB. */
  readonly stringBytes?: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** See the module comment. */
export class TraceBuffer {
  /** The whole trace: hand it to another thread to read or export it. */
  readonly buffer: SharedArrayBuffer;
  /** The clock records are stamped with; replace it for virtual time. */
  clock: TraceClock = wallClockMicros;
  private readonly head: Int32Array;
  private readonly rec: Float64Array;
  private readonly strBytes: Uint8Array;
  private readonly capacity: number;
  private readonly interned = new Map<string, number>();

  private constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.head = new Int32Array(buffer, 0, HEADER_BYTES / 4);
    this.capacity = this.head[H_CAPACITY]!;
    const recBytes = this.capacity * TRACE_RECORD_WORDS * 8;
    this.rec = new Float64Array(buffer, HEADER_BYTES, this.capacity * TRACE_RECORD_WORDS);
    this.strBytes = new Uint8Array(buffer, HEADER_BYTES + recBytes, this.head[H_STR_SIZE]!);
  }

  /** A new, empty recorder. */
  static create(options: TraceBufferOptions = {}): TraceBuffer {
    const records = options.records ?? 65_536;
    const stringBytes = options.stringBytes ?? 256 * 1024;
    if (!Number.isInteger(records) || records < 16) throw new RangeError("trace records: an integer ≥ 16");
    if (!Number.isInteger(stringBytes) || stringBytes < 1024)
      throw new RangeError("trace stringBytes: an integer ≥ 1024");
    const sab = new SharedArrayBuffer(HEADER_BYTES + records * TRACE_RECORD_WORDS * 8 + stringBytes);
    const head = new Int32Array(sab, 0, HEADER_BYTES / 4);
    head[H_CAPACITY] = records;
    head[H_STR_SIZE] = stringBytes;
    return new TraceBuffer(sab);
  }

  /** A view of a recorder made by another thread (to read it, or to record into it from one thread). */
  static attach(buffer: SharedArrayBuffer): TraceBuffer {
    if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength < HEADER_BYTES)
      throw new TypeError("TraceBuffer.attach: not a trace buffer");
    return new TraceBuffer(buffer);
  }

  /** Append a record (the oldest is overwritten when the ring is full). Allocates nothing. */
  record(kind: TraceKindValue, a: number, b = 0, c = 0, d = 0, e = 0, f = 0): void {
    const n = this.head[H_WRITTEN]!;
    const o = (n % this.capacity) * TRACE_RECORD_WORDS;
    const r = this.rec;
    r[o] = this.clock();
    r[o + 1] = kind;
    r[o + 2] = a;
    r[o + 3] = b;
    r[o + 4] = c;
    r[o + 5] = d;
    r[o + 6] = e;
    r[o + 7] = f;
    Atomics.store(this.head, H_WRITTEN, (n + 1) | 0);
  }

  /**
   * The id of `s` in this buffer's string area (interned on first use; later uses allocate
   * nothing). Returns -1 when the area is full.
   */
  intern(s: string): number {
    const known = this.interned.get(s);
    if (known !== undefined) return known;
    const bytes = encoder.encode(s);
    const used = this.head[H_STR_USED]!;
    if (used + 4 + bytes.length > this.strBytes.length) return -1;
    const len = bytes.length;
    this.strBytes[used] = len & 0xff;
    this.strBytes[used + 1] = (len >>> 8) & 0xff;
    this.strBytes[used + 2] = (len >>> 16) & 0xff;
    this.strBytes[used + 3] = (len >>> 24) & 0xff;
    this.strBytes.set(bytes, used + 4);
    Atomics.store(this.head, H_STR_USED, used + 4 + len);
    Atomics.add(this.head, H_STR_COUNT, 1);
    this.interned.set(s, used);
    return used;
  }

  /** The string with id `id` ({@link intern}), or `"?"` for an unknown id. */
  string(id: number): string {
    const used = Atomics.load(this.head, H_STR_USED);
    if (!Number.isInteger(id) || id < 0 || id + 4 > used) return "?";
    const s = this.strBytes;
    const len = s[id]! | (s[id + 1]! << 8) | (s[id + 2]! << 16) | (s[id + 3]! << 24);
    if (id + 4 + len > used) return "?";
    return decoder.decode(s.slice(id + 4, id + 4 + len));
  }

  /** Records written since creation (including overwritten ones). */
  get written(): number {
    return Atomics.load(this.head, H_WRITTEN);
  }

  /** Records lost to overwriting. */
  get dropped(): number {
    return Math.max(0, this.written - this.capacity);
  }

  /** Forget every record (strings stay interned). */
  clear(): void {
    Atomics.store(this.head, H_WRITTEN, 0);
  }

  /** The records still in the ring, oldest first; `since` skips those written before it. */
  records(since = 0): TraceRecord[] {
    const n = this.written;
    const first = Math.max(since, n - this.capacity, 0);
    const out: TraceRecord[] = [];
    const r = this.rec;
    for (let i = first; i < n; i++) {
      const o = (i % this.capacity) * TRACE_RECORD_WORDS;
      out.push({
        ts: r[o]!,
        kind: r[o + 1]! as TraceKindValue,
        a: r[o + 2]!,
        b: r[o + 3]!,
        c: r[o + 4]!,
        d: r[o + 5]!,
        e: r[o + 6]!,
        f: r[o + 7]!,
      });
    }
    return out;
  }
}
