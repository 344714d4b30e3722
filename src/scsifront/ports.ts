/**
 * What the scsifront core needs from the guest's kernel, as small injected interfaces: its own
 * memory and frame allocator, the granting half of its grant table, and an event channel.
 */

/** The guest's own page-granular memory. */
export interface GuestMemory {
  /** All of the domain's frames: frame `f` is bytes `[f * 4096, (f + 1) * 4096)`. */
  readonly bytes: Uint8Array;
  /** Allocate one frame; -1 when memory is exhausted. */
  allocFrame(): number;
  /**
   * Optional: allocate `n` frames with consecutive numbers and return the first, or -1 when no
   * such run is free (callers then fall back to {@link allocFrame}). A data buffer in adjacent
   * frames is copied by the backend in one piece. Each frame is freed with {@link freeFrame}.
   */
  allocFrames?(n: number): number;
  freeFrame(frame: number): void;
}

/** Granting access to the backend's domain (`gnttab_grant_foreign_access` and friends). */
export interface GrantAccess {
  /** Grant the backend domain access to `frame`; returns the grant ref, or a negative value when out of refs. */
  grantAccess(frame: number, readonly: boolean): number;
  /**
   * End access (`gnttab_try_end_foreign_access`): false when the backend still has the grant
   * mapped, in which case the ref stays in use.
   */
  endAccess(ref: number): boolean;
}

/** Signals the backend (an event channel send). */
export interface Notifier {
  notify(): void;
}
