/**
 * What the blkback core needs from the outside world, as small injected interfaces (the same
 * shapes scsiback's ports have; a sibling layer cannot import them): the backend domain's grant
 * mapping against the frontend's domain, and the frontend's event channel.
 */

/** Where a mapped grant's frame lies: a window of the granting domain's memory. Filled by `map`. */
export class MappedFrame {
  /** The granting domain's memory (its whole frame array). */
  mem: Uint8Array = new Uint8Array(0);
  /** Byte offset of the mapped frame inside `mem`. */
  base = 0;
  /** Handle to pass to `unmap`. */
  handle = -1;
}

/** `GNTTABOP_map_grant_ref` / `unmap` against the frontend's domain, as the backend domain. */
export interface GrantMapper {
  /** Map `ref` read-only or writable: `GNTST_okay` (0) and `out` filled, or a negative `GNTST_*`. */
  map(ref: number, readonly: boolean, out: MappedFrame): number;
  /** Unmap a handle from a successful `map`. */
  unmap(handle: number): number;
}

/** Signals the frontend (an event channel send). */
export interface Notifier {
  notify(): void;
}
