import { checkDomainHandle, type DomainHandle } from "./domain-handle.js";
import { REG_W_ID } from "./domain-layout.js";
import { DomainView } from "./domain-view.js";
import { DOMID_FIRST_RESERVED } from "./domid.js";
import { invalidArgument } from "./errors.js";

/**
 * The domains one thread can reach, by id: its own and every peer the toolstack introduced. A
 * lookup is an array index and one atomic load (is that incarnation still alive?), so grant maps
 * and event sends can name a domain by id on their hot paths without allocating.
 */
export class PeerTable {
  readonly self: DomainView;
  private readonly views: Array<DomainView | null>;

  constructor(self: DomainView) {
    this.self = self;
    this.views = new Array<DomainView | null>(DOMID_FIRST_RESERVED).fill(null);
    this.views[self.domid] = self;
  }

  /**
   * Make `handle`'s domain reachable. A handle for an id already known replaces the old view only
   * if it is a newer incarnation; introducing the same one twice is harmless. Introducing a
   * different incarnation of this thread's own domain is an error.
   */
  introduce(handle: DomainHandle): DomainView {
    const h = checkDomainHandle(handle, "peer handle");
    // Compared by content: the same buffer received in another message is another object.
    if (Atomics.load(new Int32Array(h.registry), REG_W_ID) !== Atomics.load(this.self.registry, REG_W_ID)) {
      throw invalidArgument(
        "peer handle.registry",
        "the same hypervisor registry as this domain's",
        h.registry,
      );
    }
    const old = this.views[h.domid] ?? null;
    if (old !== null && old.generation === h.generation) return old;
    if (h.domid === this.self.domid) {
      throw invalidArgument("peer handle.domid", `not this thread's own domain (dom${h.domid})`, h.domid);
    }
    const view = new DomainView(h);
    this.views[h.domid] = view;
    return view;
  }

  /** Forget a peer (it was destroyed); later operations naming it fail as for an unknown domain. */
  forget(domid: number): void {
    if (domid !== this.self.domid && isDomid(domid)) this.views[domid] = null;
  }

  /** The view of `domid` if this thread knows it and that incarnation is alive; else null. */
  get(domid: number): DomainView | null {
    if (!isDomid(domid)) return null;
    const v = this.views[domid]!;
    return v?.alive() ? v : null;
  }

  /** The view of `domid` this thread knows, alive or not; null if none. */
  known(domid: number): DomainView | null {
    return isDomid(domid) ? this.views[domid]! : null;
  }
}

/** Whether `v` is an integer usable as an ordinary domain id. */
function isDomid(v: number): boolean {
  return v >>> 0 === v && v < DOMID_FIRST_RESERVED;
}
