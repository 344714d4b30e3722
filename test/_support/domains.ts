import { expect } from "vitest";
import type { Hypervisor } from "../../src/hypervisor/index.js";

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
