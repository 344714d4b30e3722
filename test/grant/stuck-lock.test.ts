import { describe, expect, it } from "vitest";
import { XEN_EAGAIN } from "../../src/evtchn/index.js";
import { GNTST_eagain, GNTST_okay, GrantCopyBatch } from "../../src/grant/index.js";
import { twoDomains } from "../../src/testing/index.js";
import { expectNoLeaks } from "../_support/domains.js";

/**
 * A worker terminated in the middle of an operation can leave a lock held. Nothing may hang on
 * it: operations give up with Xen's "try again" status, and teardown still completes.
 */
describe("a lock whose holder died", () => {
  it("makes maps of that grant fail with GNTST_eagain; other grants and teardown still work", () => {
    const { hv, guest, back, front } = twoDomains();
    const stuck = front.grants.grantAccess(0, 0, false);
    const fine = front.grants.grantAccess(0, 1, false);
    const h = back.mapper.map(guest.domid, stuck, true);
    // The dead thread held the active entry's lock (word 0 of the entry).
    const v = front.view;
    Atomics.store(v.xen, v.layout.active + stuck * 4, 1);
    expect(back.mapper.map(guest.domid, stuck, true)).toBe(GNTST_eagain);
    expect(back.mapper.lastError).toMatch(/stayed locked/);
    expect(back.mapper.unmap(h)).toBe(GNTST_eagain);
    expect(back.mapper.isMapped(h)).toBe(true);
    const other = back.mapper.map(guest.domid, fine, false);
    expect(back.mapper.unmap(other)).toBe(GNTST_okay);
    // A copy through the stuck grant gives up too, without leaving a pin.
    const b = new GrantCopyBatch(1);
    b.pushFromGrant(guest.domid, stuck, 0, 0, 0, 8);
    expect(back.mapper.copy(b)).toBe(1);
    expect(b.status[0]).toBe(GNTST_eagain);
    // Teardown of the mapper releases its pin regardless of the dead holder.
    hv.destroyDomain(0);
    expect(front.grants.endAccess(stuck)).toBe(true);
    expect(front.grants.endAccess(fine)).toBe(true);
    expectNoLeaks(hv);
  });

  it("makes event-channel control operations return -EAGAIN instead of hanging", () => {
    const { front } = twoDomains();
    Atomics.store(front.view.xen, 0, 1); // the domain's event lock
    expect(front.evtchn.allocUnbound(0)).toBe(-XEN_EAGAIN);
    Atomics.store(front.view.xen, 0, 0);
    const p = front.evtchn.allocUnbound(0);
    expect(p).toBeGreaterThan(0);
    expect(front.evtchn.close(p)).toBe(0);
  });
});
