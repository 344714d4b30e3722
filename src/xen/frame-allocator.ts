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
