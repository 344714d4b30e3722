/**
 * A minimal, single-threaded stand-in for the hypervisor, for unit tests of the scsiback and
 * scsifront cores: one guest's memory with a frame allocator, a grant table with Xen's rules
 * (permit, read-only, end-access refused while mapped) and map counting. The real
 * implementation lives in src/grant; this one keeps core tests independent and deterministic.
 * @module
 */
import type { GrantMapper, MappedFrame } from "../scsiback/ports.js";
import type { GrantAccess, GuestMemory } from "../scsifront/ports.js";

/** `GNTST_okay` of Xen's `grant_table.h`: the operation succeeded. */
export const GNTST_okay = 0;
/** `GNTST_bad_gntref` of Xen's `grant_table.h`: an unrecognised or inappropriate grant reference. */
export const GNTST_bad_gntref = -4;
/** `GNTST_permission_denied` of Xen's `grant_table.h`: e.g. a writable map of a read-only grant. */
export const GNTST_permission_denied = -8;

/** A live grant of a {@link FakeGuest}. */
export interface FakeGrant {
  /** The granted frame. */
  frame: number;
  /** Granted read-only (`GTF_readonly`). */
  readonly: boolean;
  /** Live mappings of it by the backend. */
  maps: number;
}

/**
 * One guest's memory and grant table, as both the frontend (`GuestMemory`, `GrantAccess`) and,
 * through {@link FakeGuest.mapper}, the backend's `GrantMapper` see them. Frame 0 is never handed
 * out; refs start at 8, past Xen's reserved entries (`GNTTAB_NR_RESERVED_ENTRIES`).
 */
export class FakeGuest implements GuestMemory, GrantAccess {
  /** The guest's whole memory, frame `f` at `f * 4096`. */
  readonly bytes: Uint8Array;
  /** Live grants by ref, with their map counts. */
  readonly grants = new Map<number, FakeGrant>();
  private readonly freeFrames: number[] = [];
  private nextRef = 8; // refs 0-7 are reserved, as in Linux
  /** The backend's live mappings: handle to ref. */
  readonly handles = new Map<number, number>();
  private nextHandle = 1;
  /** Refs the backend may not map (to simulate a bad gref). */
  readonly poisoned = new Set<number>();
  /**
   * Handles passed to `unmap` that were not mapped (a double unmap, or an unmap of nothing). The
   * unmap still returns `GNTST_bad_gntref` as before; `assertCleanedUp` reports these loudly.
   */
  readonly badUnmaps: number[] = [];

  /** A guest of `frames` pages of 4096 bytes in one SharedArrayBuffer. */
  constructor(frames = 1024) {
    this.bytes = new Uint8Array(new SharedArrayBuffer(frames * 4096));
    for (let f = frames - 1; f >= 1; f--) this.freeFrames.push(f);
  }

  /** A free frame number, or -1 when memory is exhausted. */
  allocFrame(): number {
    return this.freeFrames.pop() ?? -1;
  }
  /** Return `frame` to the free list. */
  freeFrame(frame: number): void {
    this.freeFrames.push(frame);
  }

  /** Grant the backend access to `frame` (read-only or not); returns the new ref. */
  grantAccess(frame: number, readonly: boolean): number {
    const ref = this.nextRef++;
    this.grants.set(ref, { frame, readonly, maps: 0 });
    return ref;
  }

  /** Revoke `ref`; false (and nothing changes) while the backend still has it mapped, as in Xen. */
  endAccess(ref: number): boolean {
    const g = this.grants.get(ref);
    if (!g) return true;
    if (g.maps > 0) return false;
    this.grants.delete(ref);
    return true;
  }

  /** The backend's view: map and unmap this guest's grants. */
  mapper(): GrantMapper & { mapped(): number } {
    return {
      map: (ref: number, readonly: boolean, out: MappedFrame): number => {
        const g = this.grants.get(ref);
        if (!g || this.poisoned.has(ref)) return GNTST_bad_gntref;
        if (g.readonly && !readonly) return GNTST_permission_denied;
        g.maps++;
        const h = this.nextHandle++;
        this.handles.set(h, ref);
        out.mem = this.bytes;
        out.base = g.frame * 4096;
        out.handle = h;
        return GNTST_okay;
      },
      unmap: (handle: number): number => {
        const ref = this.handles.get(handle);
        if (ref === undefined) {
          this.badUnmaps.push(handle);
          return GNTST_bad_gntref;
        }
        this.handles.delete(handle);
        const g = this.grants.get(ref);
        if (g) g.maps--;
        return GNTST_okay;
      },
      mapped: () => this.handles.size,
    };
  }

  /** The 4096 bytes of `frame`. */
  frameBytes(frame: number): Uint8Array {
    return this.bytes.subarray(frame * 4096, (frame + 1) * 4096);
  }
}
