/**
 * A minimal, single-threaded stand-in for the hypervisor, for unit tests of the scsiback and
 * scsifront cores: one guest's memory with a frame allocator, a grant table with Xen's rules
 * (permit, read-only, end-access refused while mapped) and map counting. The real
 * implementation lives in src/grant; this one keeps core tests independent and deterministic.
 */
import { type GrantMapper, MappedFrame } from "../../src/scsiback/ports.js";
import type { GrantAccess, GuestMemory } from "../../src/scsifront/ports.js";

export const GNTST_okay = 0;
export const GNTST_bad_gntref = -4;
export const GNTST_permission_denied = -8;

interface Grant {
  frame: number;
  readonly: boolean;
  maps: number;
}

export class FakeGuest implements GuestMemory, GrantAccess {
  readonly bytes: Uint8Array;
  readonly grants = new Map<number, Grant>();
  private readonly freeFrames: number[] = [];
  private nextRef = 8; // refs 0-7 are reserved, as in Linux
  readonly handles = new Map<number, number>(); // handle -> ref
  private nextHandle = 1;
  /** Refs the backend may not map (to simulate a bad gref). */
  readonly poisoned = new Set<number>();

  constructor(frames = 1024) {
    this.bytes = new Uint8Array(new SharedArrayBuffer(frames * 4096));
    for (let f = frames - 1; f >= 1; f--) this.freeFrames.push(f);
  }

  allocFrame(): number {
    return this.freeFrames.pop() ?? -1;
  }
  freeFrame(frame: number): void {
    this.freeFrames.push(frame);
  }

  grantAccess(frame: number, readonly: boolean): number {
    const ref = this.nextRef++;
    this.grants.set(ref, { frame, readonly, maps: 0 });
    return ref;
  }

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
        if (ref === undefined) return GNTST_bad_gntref;
        this.handles.delete(handle);
        const g = this.grants.get(ref);
        if (g) g.maps--;
        return GNTST_okay;
      },
      mapped: () => this.handles.size,
    };
  }

  frameBytes(frame: number): Uint8Array {
    return this.bytes.subarray(frame * 4096, (frame + 1) * 4096);
  }
}

export { MappedFrame };
