/**
 * dom0 and one guest on a fresh {@link Hypervisor}, with a context acting as each, in this thread.
 * @module
 */
import type { DomainContext } from "../hypervisor/context.js";
import { Hypervisor } from "../hypervisor/hypervisor.js";
import type { DomainHandle } from "../xen/domain-handle.js";

/** A hypervisor with dom0 (the backend) and one guest, and a context acting as each, in this thread. */
export interface TwoDomains {
  readonly hv: Hypervisor;
  readonly dom0: DomainHandle;
  readonly guest: DomainHandle;
  /** Acting as dom0. */
  readonly back: DomainContext;
  /** Acting as the guest. */
  readonly front: DomainContext;
}

/** Create dom0 and a guest (`frames` pages each) and a context for each. */
export function twoDomains(
  frames = 64,
  extra: { maptrackEntries?: number; vcpus?: number } = {},
): TwoDomains {
  const hv = new Hypervisor();
  const dom0 = hv.createDomain({ domid: 0, name: "dom0", frames, ...extra });
  const guest = hv.createDomain({ name: "guest", frames, ...extra });
  return { hv, dom0, guest, back: hv.context(0), front: hv.context(guest.domid) };
}
