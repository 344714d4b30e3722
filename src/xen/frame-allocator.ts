import { claimBit, releaseBit, testBit } from "./bitmap.js";
import type { DomainView } from "./domain-view.js";
import { invalidArgument, invalidState } from "./errors.js";

/**
 * A domain's page allocator: hands out frame numbers of its own memory, lowest free first, from
 * a bitmap in the domain's `kernel` buffer, so every thread acting as the domain shares it. A
 * frame's bytes are at `memory[frame * 4096, (frame + 1) * 4096)`. Frames are not zeroed on
 * allocation or free: like a guest kernel's pages, they hold whatever was last written.
 */
export class FrameAllocator {
  private readonly view: DomainView;
  private readonly base: number;
  private readonly words: number;
  /** Word to start the next scan at; lowered on free so freed frames are reused first. */
  private hint = 0;

  constructor(view: DomainView) {
    this.view = view;
    this.base = view.layout.frameBitmap;
    this.words = view.layout.frameBitmapWords;
  }

  /** Frames the domain has. */
  get frames(): number {
    return this.view.frames;
  }

  /** Allocate a frame; -1 when all are in use. */
  alloc(): number {
    const frame = claimBit(this.view.kernel, this.base, this.words, this.hint);
    if (frame >= 0) this.hint = frame >>> 5;
    return frame;
  }

  /**
   * Allocate `n` frames with consecutive numbers, lowest run first: a buffer whose bytes follow
   * each other in the domain's memory, which a backend copies in one piece instead of page by
   * page. Returns the first frame, or -1 when no free run of `n` exists (the caller then falls
   * back to {@link alloc}, one frame at a time). Each frame is freed on its own with {@link free}.
   *
   * Lock-free like {@link alloc}: a run is claimed one bitmap word at a time with
   * compare-and-swap; if another thread takes one of its frames meanwhile, what was claimed is
   * given back and the scan goes on past it. Allocates nothing.
   */
  allocContiguous(n: number): number {
    if (!Number.isInteger(n) || n < 1) throw invalidArgument("n", "a positive integer", n);
    if (n === 1) return this.alloc();
    const end = this.view.frames;
    if (n > end) return -1;
    const from = Math.min(this.hint << 5, end);
    const f = this.findRun(from, end, n);
    return f >= 0 || from === 0 ? f : this.findRun(0, Math.min(end, from + n - 1), n);
  }

  /** Claim the first free run of `n` frames inside `[from, to)`; -1 if none. */
  private findRun(from: number, to: number, n: number): number {
    const k = this.view.kernel;
    let runStart = from;
    let f = from;
    while (f < to) {
      const w = Atomics.load(k, this.base + (f >>> 5));
      if (w === -1) {
        f = ((f >>> 5) + 1) << 5;
        runStart = f;
        continue;
      }
      if ((w & (1 << (f & 31))) !== 0) {
        f++;
        runStart = f;
        continue;
      }
      f++;
      if (f - runStart === n) {
        if (this.claimRun(runStart, n)) return runStart;
        runStart = f;
      }
    }
    return -1;
  }

  /** Set the bits of `[start, start + n)`, all or none; false if one was taken meanwhile. */
  private claimRun(start: number, n: number): boolean {
    const k = this.view.kernel;
    const end = start + n;
    for (let f = start; f < end; ) {
      const word = f >>> 5;
      const stop = Math.min(end, (word + 1) << 5);
      const mask = runMask(f & 31, stop - f);
      let cur = Atomics.load(k, this.base + word);
      for (;;) {
        if ((cur & mask) !== 0) {
          this.releaseRun(start, f - start);
          return false;
        }
        const prev = Atomics.compareExchange(k, this.base + word, cur, cur | mask);
        if (prev === cur) break;
        cur = prev;
      }
      f = stop;
    }
    return true;
  }

  /** Clear the bits of `[start, start + n)` this thread just claimed. */
  private releaseRun(start: number, n: number): void {
    const end = start + n;
    for (let f = start; f < end; ) {
      const word = f >>> 5;
      const stop = Math.min(end, (word + 1) << 5);
      Atomics.and(this.view.kernel, this.base + word, ~runMask(f & 31, stop - f));
      f = stop;
    }
  }

  /** Free a frame this domain allocated. Freeing a frame twice is a bug in the caller and throws. */
  free(frame: number): void {
    this.check(frame);
    if (!releaseBit(this.view.kernel, this.base, frame)) {
      throw invalidState(`dom${this.view.domid} frame ${frame}`, "freed but not allocated");
    }
    if (frame >>> 5 < this.hint) this.hint = frame >>> 5;
  }

  /** Whether `frame` is allocated. */
  isAllocated(frame: number): boolean {
    this.check(frame);
    return testBit(this.view.kernel, this.base, frame);
  }

  /** How many frames are allocated (a scan; for reports and tests). */
  allocatedCount(): number {
    let n = 0;
    for (let f = 0; f < this.view.frames; f++) if (testBit(this.view.kernel, this.base, f)) n++;
    return n;
  }

  private check(frame: number): void {
    if (!Number.isInteger(frame) || frame < 0 || frame >= this.view.frames) {
      throw invalidArgument("frame", `an integer in [0, ${this.view.frames - 1}]`, frame);
    }
  }
}

/** Bits `[bit, bit + count)` of a word (`count` 1..32). */
function runMask(bit: number, count: number): number {
  return count === 32 ? -1 : ((1 << count) - 1) << bit;
}
