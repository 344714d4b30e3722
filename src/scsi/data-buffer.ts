import { invalidArgument } from "../xen/errors.js";

/**
 * A command's data buffer as a device sees it: the concatenation of up to `capacity` segments,
 * each a window `[base, base + length)` of some memory (for scsiback, a granted guest frame inside
 * the guest's memory). Devices copy in and out with {@link write} / {@link read}; they never see
 * the guest's memory directly. A buffer built from read-only grants is not {@link writable}: a
 * device that tries to write data-in into a data-out buffer gets an exception, a bug in the device.
 *
 * Preallocated and reused: {@link reset} and {@link add} allocate nothing.
 */
export class DataBuffer {
  /** Total bytes (sum of segment lengths). */
  length = 0;
  /** False when the memory behind the buffer was granted read-only. */
  writable = true;
  /** Number of segments in use. */
  count = 0;
  readonly capacity: number;
  private readonly mems: Array<Uint8Array | null>;
  private readonly bases: Int32Array;
  private readonly lengths: Int32Array;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity <= 0)
      throw invalidArgument("capacity", "a positive integer", capacity);
    this.capacity = capacity;
    this.mems = new Array<Uint8Array | null>(capacity).fill(null);
    this.bases = new Int32Array(capacity);
    this.lengths = new Int32Array(capacity);
  }

  /** A buffer over one contiguous array (tests, local tools, emulated responses). */
  static of(bytes: Uint8Array, writable = true): DataBuffer {
    const b = new DataBuffer(1);
    b.reset(writable);
    b.add(bytes, 0, bytes.length);
    return b;
  }

  /** Empty the buffer; segments added next are `writable` or not. Drops references to memory. */
  reset(writable: boolean): void {
    for (let i = 0; i < this.count; i++) this.mems[i] = null;
    this.count = 0;
    this.length = 0;
    this.writable = writable;
  }

  /** Append the window `mem[base, base + length)`. */
  add(mem: Uint8Array, base: number, length: number): void {
    if (this.count === this.capacity)
      throw invalidArgument("segment count", `at most ${this.capacity}`, this.count + 1);
    if (base < 0 || length < 0 || base + length > mem.length) {
      throw invalidArgument(
        "segment",
        `inside its memory of ${mem.length} bytes`,
        `[${base}, ${base + length})`,
      );
    }
    const i = this.count++;
    this.mems[i] = mem;
    this.bases[i] = base;
    this.lengths[i] = length;
    this.length += length;
  }

  /**
   * Copy `n` bytes of `src` starting at `srcOffset` into the buffer at `offset`. Copies no more
   * than fits; returns the number of bytes copied.
   */
  write(offset: number, src: Uint8Array, srcOffset = 0, n = src.length - srcOffset): number {
    if (!this.writable) throw new Error("DataBuffer.write on a buffer granted read-only (data-out)");
    return this.transfer(offset, src, srcOffset, n, true);
  }

  /** Copy up to `n` bytes from the buffer at `offset` into `dst` at `dstOffset`; returns bytes copied. */
  read(offset: number, dst: Uint8Array, dstOffset = 0, n = dst.length - dstOffset): number {
    return this.transfer(offset, dst, dstOffset, n, false);
  }

  /** Fill `n` bytes at `offset` with `value`; returns bytes filled. */
  fill(value: number, offset = 0, n = this.length - offset): number {
    if (!this.writable) throw new Error("DataBuffer.fill on a buffer granted read-only (data-out)");
    let done = 0;
    let skip = offset;
    n = Math.max(0, Math.min(n, this.length - offset));
    for (let i = 0; i < this.count && done < n; i++) {
      const len = this.lengths[i]!;
      if (skip >= len) {
        skip -= len;
        continue;
      }
      const chunk = Math.min(len - skip, n - done);
      const start = this.bases[i]! + skip;
      fillBytes(this.mems[i]!, start, chunk, value);
      done += chunk;
      skip = 0;
    }
    return done;
  }

  private transfer(offset: number, arr: Uint8Array, arrOffset: number, n: number, toBuffer: boolean): number {
    if (offset < 0 || arrOffset < 0) return 0;
    n = Math.max(0, Math.min(n, this.length - offset, arr.length - arrOffset));
    let done = 0;
    let skip = offset;
    for (let i = 0; i < this.count && done < n; i++) {
      const len = this.lengths[i]!;
      if (skip >= len) {
        skip -= len;
        continue;
      }
      const chunk = Math.min(len - skip, n - done);
      const mem = this.mems[i]!;
      const start = this.bases[i]! + skip;
      if (toBuffer) copyBytes(arr, arrOffset + done, mem, start, chunk);
      else copyBytes(mem, start, arr, arrOffset + done, chunk);
      done += chunk;
      skip = 0;
    }
    return done;
  }
}

/** A page of zeros to copy from: zero-filling guest memory is the common fill (reads of unwritten blocks). */
const ZERO_PAGE = new Uint8Array(4096);

/**
 * Fill `n` bytes. `TypedArray.fill` on SharedArrayBuffer memory (every guest's memory) takes
 * V8's slow, element-by-element path — about 15× slower than copying zeros in with `set`
 * (bench/data-buffer.bench.ts) — so zeros are copied from a zero page.
 */
function fillBytes(mem: Uint8Array, start: number, n: number, value: number): void {
  if (value !== 0 || !(mem.buffer instanceof SharedArrayBuffer) || n <= 64) {
    mem.fill(value, start, start + n);
    return;
  }
  while (n > 0) {
    const k = Math.min(n, ZERO_PAGE.length);
    mem.set(k === ZERO_PAGE.length ? ZERO_PAGE : ZERO_PAGE.subarray(0, k), start);
    start += k;
    n -= k;
  }
}

/**
 * Copy `n` bytes between arrays. Small copies loop (no view is created); larger ones use
 * `set(subarray)`, whose native memmove is several times faster than a JS loop for a 4 KiB page
 * and handles overlap when both arrays share memory. The transient view is the one allocation on
 * this path (see bench/data-buffer.bench.ts).
 */
function copyBytes(src: Uint8Array, s: number, dst: Uint8Array, d: number, n: number): void {
  if (n <= 64) {
    for (let i = 0; i < n; i++) dst[d + i] = src[s + i]!;
  } else {
    dst.set(src.subarray(s, s + n), d);
  }
}
