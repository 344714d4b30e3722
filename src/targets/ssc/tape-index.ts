import { CARTRIDGE_HEADER_SIZE, RECORD_FILEMARK, RECORD_HEADER_SIZE } from "./cartridge-format.js";

const INITIAL = 256;

/**
 * Where every logical object of a loaded cartridge sits: its kind, payload length and file
 * offset, plus the sorted positions of the filemarks. Positioning (SPACE, LOCATE, READ POSITION)
 * is arithmetic on it — binary searches, no I/O — so a drive's logic stays synchronous and only
 * data moves through the store. Objects are numbered from 0 at BOP; `count` is end-of-data.
 *
 * Growing doubles the arrays (amortised; nothing is allocated per object otherwise).
 */
export class TapeIndex {
  /** Number of objects: the position of end-of-data. */
  count = 0;
  /** File offset just past the last record (where the next one goes). */
  end = CARTRIDGE_HEADER_SIZE;
  /** Number of filemarks. */
  filemarkCount = 0;
  private kinds = new Uint8Array(INITIAL);
  private lengths = new Uint32Array(INITIAL);
  private offsets = new Float64Array(INITIAL);
  private marks = new Float64Array(INITIAL);

  /** Kind of object `i` (< count). */
  kind(i: number): number {
    return this.kinds[i]!;
  }

  /** Payload length of object `i` (< count). */
  length(i: number): number {
    return this.lengths[i]!;
  }

  /** File offset of object `i`'s record; `end` for i = count. */
  offsetOf(i: number): number {
    return i < this.count ? this.offsets[i]! : this.end;
  }

  /** Record-area bytes before object `i` (how far along the medium it is). */
  usedBefore(i: number): number {
    return this.offsetOf(i) - CARTRIDGE_HEADER_SIZE;
  }

  /** Append an object. */
  push(kind: number, length: number): void {
    const i = this.count;
    if (i === this.kinds.length) this.grow();
    this.kinds[i] = kind;
    this.lengths[i] = length;
    this.offsets[i] = this.end;
    if (kind === RECORD_FILEMARK) {
      if (this.filemarkCount === this.marks.length) {
        const m = new Float64Array(this.marks.length * 2);
        m.set(this.marks);
        this.marks = m;
      }
      this.marks[this.filemarkCount++] = i;
    }
    this.count = i + 1;
    this.end += RECORD_HEADER_SIZE + length;
  }

  /** Make object `n` end-of-data (everything from `n` on is gone). */
  truncate(n: number): void {
    if (n >= this.count) return;
    this.end = this.offsets[n]!;
    this.count = n;
    this.filemarkCount = this.filemarksBefore(n);
  }

  /** Number of filemarks among objects 0..pos-1. */
  filemarksBefore(pos: number): number {
    let lo = 0;
    let hi = this.filemarkCount;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.marks[mid]! < pos) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Object number of the `k`-th filemark (0-based; k < filemarkCount). */
  filemark(k: number): number {
    return this.marks[k]!;
  }

  /** Object number of the first filemark at or after `pos`, or -1. */
  nextFilemark(pos: number): number {
    const k = this.filemarksBefore(pos);
    return k < this.filemarkCount ? this.marks[k]! : -1;
  }

  /** Object number of the last filemark before `pos`, or -1. */
  previousFilemark(pos: number): number {
    const k = this.filemarksBefore(pos);
    return k > 0 ? this.marks[k - 1]! : -1;
  }

  /** Forget everything (an erased tape). */
  clear(): void {
    this.count = 0;
    this.end = CARTRIDGE_HEADER_SIZE;
    this.filemarkCount = 0;
  }

  private grow(): void {
    const n = this.kinds.length * 2;
    const k = new Uint8Array(n);
    k.set(this.kinds);
    this.kinds = k;
    const l = new Uint32Array(n);
    l.set(this.lengths);
    this.lengths = l;
    const o = new Float64Array(n);
    o.set(this.offsets);
    this.offsets = o;
  }
}
