import { describe, expect, it } from "vitest";
import { EVTCHNSTAT_unbound } from "../../src/evtchn/index.js";
import { GNTST_okay, GTF_permit_access } from "../../src/grant/index.js";
import { assertCleanedUp, twoDomains } from "../../src/testing/index.js";
import { expectNoLeaks } from "../_support/domains.js";

describe("teardown reports what a domain left behind", () => {
  it("lists grants mapped by others (with the mapper), mappings held, live grants and bound ports", () => {
    const { hv, guest, back, front } = twoDomains();
    const g = guest.domid;
    const f = front.frames.alloc();
    const mapped = front.grants.grantAccess(0, f, false);
    const live = front.grants.grantAccess(0, f, true);
    const h = back.mapper.map(g, mapped, false);
    const fport = front.evtchn.allocUnbound(0);
    const bport = back.evtchn.bindInterdomain(g, fport);
    const lonely = back.evtchn.allocUnbound(g);
    expect(hv.report(g)).toEqual({
      domid: g,
      name: "guest",
      mappedGrants: [{ ref: mapped, mapper: 0, pins: 1, writablePins: 1 }],
      heldMappings: [],
      liveGrants: [
        { ref: mapped, grantee: 0, frame: f, readonly: false },
        { ref: live, grantee: 0, frame: f, readonly: true },
      ],
      reservedGrants: [],
      boundPorts: [{ port: fport, status: "interdomain", remoteDomid: 0, remotePort: bport, vcpu: 0 }],
      clean: false,
    });
    expect(hv.report(0)).toMatchObject({
      heldMappings: [{ handle: h, granter: g, ref: mapped, readonly: false }],
      boundPorts: [
        { port: bport, status: "interdomain", remoteDomid: g, remotePort: fport, vcpu: 0 },
        { port: lonely, status: "unbound", remoteDomid: g, remotePort: null, vcpu: 0 },
      ],
      clean: false,
    });

    // Clean up properly, in the order a frontend and backend would.
    expect(back.mapper.unmap(h)).toBe(GNTST_okay);
    expect(front.grants.endAccess(mapped)).toBe(true);
    expect(front.grants.endAccess(live)).toBe(true);
    expect(front.evtchn.close(fport)).toBe(0);
    expect(back.evtchn.status(bport)).toBe(EVTCHNSTAT_unbound);
    expect(back.evtchn.close(bport)).toBe(0);
    expect(back.evtchn.close(lonely)).toBe(0);
    expectNoLeaks(hv);
    assertCleanedUp(hv);
  });

  it("destroying a backend that still maps a guest's grant releases its pins, so the guest can end access", () => {
    const { hv, guest, back, front } = twoDomains();
    const ref = front.grants.grantAccess(0, front.frames.alloc(), false);
    back.mapper.map(guest.domid, ref, false);
    back.mapper.map(guest.domid, ref, true);
    expect(front.grants.endAccess(ref)).toBe(false);
    const report = hv.destroyDomain(0);
    expect(report.heldMappings.length).toBe(2);
    expect(report.clean).toBe(false);
    expect(front.grants.flags(ref)).toBe(GTF_permit_access);
    expect(hv.report(guest.domid).mappedGrants).toEqual([]);
    expect(front.grants.endAccess(ref)).toBe(true);
    expectNoLeaks(hv);
  });

  it("destroying a guest leaves the backend's port unbound and its stale mapping unmappable", () => {
    const { hv, guest, back, front } = twoDomains();
    const ref = front.grants.grantAccess(0, front.frames.alloc(), false);
    const h = back.mapper.map(guest.domid, ref, false);
    const fport = front.evtchn.allocUnbound(0);
    const bport = back.evtchn.bindInterdomain(guest.domid, fport);
    const report = hv.destroyDomain(guest.domid);
    expect(report.mappedGrants).toEqual([{ ref, mapper: 0, pins: 1, writablePins: 1 }]);
    expect(report.boundPorts.length).toBe(1);
    expect(back.evtchn.status(bport)).toBe(EVTCHNSTAT_unbound);
    expect(back.evtchn.send(bport)).toBe(0); // dropped: unbound
    expect(back.mapper.unmap(h)).toBe(GNTST_okay);
    expect(back.evtchn.close(bport)).toBe(0);
    expectNoLeaks(hv);
  });
});
