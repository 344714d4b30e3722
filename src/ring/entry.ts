import { invalidArgument } from "../xen/errors.js";

/**
 * A private, non-shared buffer holding one ring entry: the destination of `RING_COPY_REQUEST` /
 * `RING_COPY_RESPONSE` and the source a producer writes a slot from. Codecs (such as the vscsiif
 * request and response) are views over one. Allocate it once and reuse it for every entry: the
 * ring copies into it without allocating.
 */
export class RingEntry {
  /** Entry size in bytes. */
  readonly size: number;
  /** Backing memory: private to this thread, so a peer cannot change it after the copy. */
  readonly buffer: ArrayBuffer;
  readonly bytes: Uint8Array;
  /** Whole-word view when `size` is a multiple of 4 (copies then move words, not bytes). */
  readonly words: Int32Array | null;

  constructor(size: number) {
    if (!Number.isInteger(size) || size <= 0) throw invalidArgument("size", "a positive integer", size);
    this.size = size;
    this.buffer = new ArrayBuffer(size);
    this.bytes = new Uint8Array(this.buffer);
    this.words = size % 4 === 0 ? new Int32Array(this.buffer) : null;
  }

  /** Zero every byte, so nothing of an earlier entry is carried into the next one. */
  clear(): this {
    this.bytes.fill(0);
    return this;
  }
}
