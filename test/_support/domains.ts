import { expect } from "vitest";
import type { DomainContext, DomainHandle } from "../../src/hypervisor/index.js";
import { Hypervisor } from "../../src/hypervisor/index.js";

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

/** Assert that no domain of `hv` left a mapping, live grant or bound port behind. */
export function expectNoLeaks(hv: Hypervisor): void {
  for (const r of hv.reports()) {
    expect({
      domid: r.domid,
      mapped: r.mappedGrants,
      held: r.heldMappings,
      live: r.liveGrants,
      ports: r.boundPorts,
    }).toEqual({ domid: r.domid, mapped: [], held: [], live: [], ports: [] });
  }
}
