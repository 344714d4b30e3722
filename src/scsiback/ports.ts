/**
 * What the scsiback core needs from the outside world, as small injected interfaces. The worker
 * driver implements them with the hypervisor's grant table and event channels; a single-thread
 * test implements them over the same cores without workers.
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
  /**
   * Map the frame the frontend granted under `ref`, read-only or writable. Returns `GNTST_okay`
   * (0) and fills `out`, or a negative `GNTST_*` status and leaves `out` alone.
   */
  map(ref: number, readonly: boolean, out: MappedFrame): number;
  /** Unmap a handle from a successful `map`. Returns `GNTST_okay` or a negative status. */
  unmap(handle: number): number;
  /**
   * Optional `GNTTABOP_map_grant_ref` with a count (a backend without it is driven one `map` per
   * grant): map `refs[from, from + count)`, all read-only or all writable, each op on its own. Op
   * i leaves its handle (>= 0) or its negative `GNTST_*` in `handles[i]`, and when mapped the byte
   * offset of its page in `out.mem` in `bases[i]`; `out.mem` is set to the granter's memory.
   * Returns how many ops failed (the caller unmaps the rest when it needs all of them).
   */
  mapBatch?(
    refs: ArrayLike<number>,
    from: number,
    count: number,
    readonly: boolean,
    handles: Int32Array,
    bases: Int32Array,
    out: MappedFrame,
  ): number;
  /** Optional `GNTTABOP_unmap_grant_ref` with a count: unmap `handles[0, count)`; returns failures. */
  unmapBatch?(handles: Int32Array, count: number): number;
}

/** Signals the frontend (an event channel send). */
export interface Notifier {
  notify(): void;
}
