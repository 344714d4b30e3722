import type { MachineSlot, WasmMemoryLike } from "../xen/domain-handle.js";
import { invalidArgument, invalidState } from "../xen/errors.js";
import { XEN_PAGE_SIZE } from "../xen/page.js";

/** Xen frames per WebAssembly page (64 KiB). */
const FRAMES_PER_WASM_PAGE = 16;
/** The most a 32-bit WebAssembly memory can hold: 65536 wasm pages, 4 GiB. */
const MAX_WASM_PAGES = 65536;

/**
 * Machine-memory mode: every domain's RAM carved from one shared `WebAssembly.Memory`, which
 * plays Xen's machine memory; a domain's range is its p2m (one contiguous run of frames). It
 * exists so that a wasm *backend* can dereference a page it mapped: its linear memory is this
 * whole memory, its own RAM the range at machine address 0 (where its image, linked from 0,
 * lies), and a mapped grant is the machine address of the granter's frame.
 *
 * Ordinary domains are carved from the top down; the one range at machine address 0 is for the
 * wasm backend ({@link carve} with `atZero`). A range is zeroed when carved (Xen scrubs freed
 * pages), so no domain reads what a destroyed one left.
 */
export class MachineMemory {
  /** The shared memory: a wasm backend imports it as `env.memory`. */
  readonly memory: WasmMemoryLike;
  /** Its buffer, every domain's `DomainHandle.memory`. */
  readonly buffer: SharedArrayBuffer;
  /** Total frames. */
  readonly frames: number;
  /** Random, non-zero: which machine memory a handle's RAM lies in (`MachineSlot.id`). */
  readonly id: number;
  /** Carved ranges by domid: first frame and count. */
  private readonly ranges = new Map<number, { readonly start: number; readonly frames: number }>();

  constructor(frames: number) {
    if (
      !Number.isInteger(frames) ||
      frames <= 0 ||
      frames % FRAMES_PER_WASM_PAGE !== 0 ||
      frames / FRAMES_PER_WASM_PAGE > MAX_WASM_PAGES
    ) {
      throw invalidArgument(
        "machine memory frames",
        `a positive multiple of ${FRAMES_PER_WASM_PAGE} (64 KiB wasm pages), at most 4 GiB`,
        frames,
      );
    }
    const pages = frames / FRAMES_PER_WASM_PAGE;
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    this.buffer = this.memory.buffer as unknown as SharedArrayBuffer;
    this.frames = frames;
    const id = new Int32Array(1);
    while (id[0] === 0) crypto.getRandomValues(id);
    this.id = id[0]!;
  }

  /**
   * Carve `frames` frames for `domid`: at machine address 0 (`atZero`, the wasm backend's) or
   * the highest free run. Throws, naming what is in the way, when there is no room.
   */
  carve(domid: number, frames: number, atZero: boolean): MachineSlot {
    if (this.ranges.has(domid)) throw invalidState(`dom${domid}`, "already has machine memory");
    let start: number;
    if (atZero) {
      const end = this.lowestUsed();
      if (end < frames) {
        const at = [...this.ranges.entries()].find(([, r]) => r.start === end);
        throw invalidState(
          "machine memory",
          `machine address 0 is not free for ${frames} frames (dom${at?.[0]} holds frame ${end}): one wasm backend per machine memory, created before the domains it serves fill the memory`,
        );
      }
      start = 0;
    } else {
      start = this.highestFree(frames);
      if (start < 0) {
        throw invalidState(
          "machine memory",
          `no ${frames} free frames left of ${this.frames} (start the machine with more machine memory)`,
        );
      }
    }
    this.ranges.set(domid, { start, frames });
    new Uint8Array(this.buffer, start * XEN_PAGE_SIZE, frames * XEN_PAGE_SIZE).fill(0);
    return { id: this.id, byteOffset: start * XEN_PAGE_SIZE };
  }

  /** Give `domid`'s range back (at destroy); nothing if it has none. */
  release(domid: number): void {
    this.ranges.delete(domid);
  }

  /** Frames carved now, by domid (for reports and tests). */
  carved(): ReadonlyMap<number, { readonly start: number; readonly frames: number }> {
    return this.ranges;
  }

  private lowestUsed(): number {
    let low = this.frames;
    for (const r of this.ranges.values()) low = Math.min(low, r.start);
    return low;
  }

  /** The start of the highest free run of `frames` frames, or -1. */
  private highestFree(frames: number): number {
    const sorted = [...this.ranges.values()].sort((a, b) => b.start - a.start);
    let top = this.frames;
    for (const r of sorted) {
      if (top - (r.start + r.frames) >= frames) return top - frames;
      top = r.start;
    }
    return top >= frames ? top - frames : -1;
  }
}
