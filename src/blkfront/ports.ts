/**
 * What the blkfront core needs from the guest's kernel (the same shapes scsifront's ports have;
 * a sibling layer cannot import them): its memory and frame allocator, the granting half of its
 * grant table, and an event channel.
 */

/** The guest's own page-granular memory. */
export interface GuestMemory {
  /** All of the domain's frames: frame `f` is bytes `[f * 4096, (f + 1) * 4096)`. */
  readonly bytes: Uint8Array;
  /** Allocate one frame; -1 when memory is exhausted. */
  allocFrame(): number;
  freeFrame(frame: number): void;
}

/** Granting access to the backend's domain. */
export interface GrantAccess {
  /** Grant access to `frame`; the ref, or a negative value when out of refs. */
  grantAccess(frame: number, readonly: boolean): number;
  /** End access: false while the backend still maps it (the ref stays in use). */
  endAccess(ref: number): boolean;
}

/** Signals the backend (an event channel send). */
export interface Notifier {
  notify(): void;
}
