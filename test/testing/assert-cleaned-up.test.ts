import { describe, expect, it } from "vitest";
import { MappedFrame } from "../../src/scsiback/index.js";
import { assertCleanedUp, FakeGuest, LeakError, twoDomains } from "../../src/testing/index.js";

describe("assertCleanedUp names everything left behind, and is quiet when nothing is", () => {
  it("a hypervisor: a mapped grant, the mapping held, the live grant and the bound ports", () => {
    const { hv, guest, back, front } = twoDomains();
    const g = guest.domid;
    const f = front.frames.alloc();
    const ref = front.grants.grantAccess(0, f, false);
    const h = back.mapper.map(g, ref, false);
    const fport = front.evtchn.allocUnbound(0);
    const bport = back.evtchn.bindInterdomain(g, fport);
    let error: unknown;
    try {
      assertCleanedUp(hv);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LeakError);
    expect((error as LeakError).leaks).toEqual([
      `dom0 (dom0): still holds handle ${h} mapping dom${g}'s ref ${ref}`,
      `dom0 (dom0): port ${bport} still interdomain (dom${g} port ${fport})`,
      `dom${g} (guest): grant ref ${ref} still mapped by dom0 (1 pins, 1 writable)`,
      `dom${g} (guest): grant ref ${ref} still permits dom0 access to frame ${f}`,
      `dom${g} (guest): port ${fport} still interdomain (dom0 port ${bport})`,
    ]);
    expect((error as Error).message).toMatch(/^not cleaned up \(5\):\n {2}dom0/);

    back.mapper.unmap(h);
    front.grants.endAccess(ref);
    back.evtchn.close(bport);
    front.evtchn.close(fport);
    expect(() => assertCleanedUp(hv)).not.toThrow();
    expect(() => assertCleanedUp(hv.reports())).not.toThrow();
  });

  it("a fake guest: a live grant, a mapped handle, and a double unmap fail loudly", () => {
    const guest = new FakeGuest(8);
    const mapper = guest.mapper();
    const ref = guest.grantAccess(guest.allocFrame(), true);
    const out = new MappedFrame();
    expect(mapper.map(ref, true, out)).toBe(0);
    expect(() => assertCleanedUp(guest)).toThrow(
      /grant ref 8 of frame 1 still live, mapped 1 times\n {2}backend: handle 1 still maps ref 8/,
    );
    mapper.unmap(out.handle);
    guest.endAccess(ref);
    expect(() => assertCleanedUp(guest)).not.toThrow();
    mapper.unmap(out.handle);
    expect(() => assertCleanedUp(guest)).toThrow(/unmapped handle 1, which was not mapped/);
  });
});
