import { describe, expect, it } from "vitest";
import {
  EVTCHNSTAT_closed,
  EVTCHNSTAT_interdomain,
  EVTCHNSTAT_unbound,
  EvtchnStatus,
  evtchnErrorName,
  XEN_EINVAL,
  XEN_ENOSPC,
  XEN_ESRCH,
} from "../../src/evtchn/index.js";
import { DOMID_SELF } from "../../src/grant/index.js";
import { Hypervisor } from "../../src/hypervisor/index.js";
import { twoDomains } from "../../src/testing/index.js";
import { expectNoLeaks } from "../_support/domains.js";

/** EVTCHNOP_alloc_unbound, bind_interdomain, send, close and status, as xen/common/event_channel.c does them. */
describe("event-channel ports", () => {
  it("alloc unbound → bind interdomain → status on both ends → close leaves the peer unbound", () => {
    const { hv, guest, back, front } = twoDomains();
    const g = guest.domid;
    const fport = front.evtchn.allocUnbound(0);
    expect(fport).toBe(1); // port 0 is reserved
    const st = new EvtchnStatus();
    expect(front.evtchn.statusOf(fport, st)).toBe(EVTCHNSTAT_unbound);
    expect({ ...st }).toEqual({ status: EVTCHNSTAT_unbound, vcpu: 0, remoteDomid: 0, remotePort: -1 });
    const bport = back.evtchn.bindInterdomain(g, fport);
    expect(back.evtchn.statusOf(bport, st)).toBe(EVTCHNSTAT_interdomain);
    expect({ ...st }).toEqual({ status: EVTCHNSTAT_interdomain, vcpu: 0, remoteDomid: g, remotePort: fport });
    expect(front.evtchn.statusOf(fport, st)).toBe(EVTCHNSTAT_interdomain);
    expect(st.remotePort).toBe(bport);
    expect(front.evtchn.close(fport)).toBe(0);
    expect(front.evtchn.status(fport)).toBe(EVTCHNSTAT_closed);
    // Xen: the remote end goes back to unbound, waiting for the domain that closed.
    expect(back.evtchn.statusOf(bport, st)).toBe(EVTCHNSTAT_unbound);
    expect(st.remoteDomid).toBe(g);
    // ...and can be bound again by it.
    const again = front.evtchn.bindInterdomain(0, bport);
    expect(again).toBeGreaterThan(0);
    expect(back.evtchn.close(bport)).toBe(0);
    expect(front.evtchn.close(again)).toBe(0);
    expectNoLeaks(hv);
  });

  it("refuses to bind a port that is not unbound, or waits for another domain", () => {
    const { hv, guest, back, front } = twoDomains();
    const g = guest.domid;
    const forOther = front.evtchn.allocUnbound(7);
    expect(back.evtchn.bindInterdomain(g, forOther)).toBe(-XEN_EINVAL);
    expect(back.evtchn.bindInterdomain(g, 200)).toBe(-XEN_EINVAL); // closed
    expect(back.evtchn.bindInterdomain(g, 0)).toBe(-XEN_EINVAL); // reserved
    expect(back.evtchn.bindInterdomain(g, 4096)).toBe(-XEN_EINVAL); // out of range
    expect(back.evtchn.bindInterdomain(g, -1)).toBe(-XEN_EINVAL);
    expect(back.evtchn.bindInterdomain(99, 1)).toBe(-XEN_ESRCH);
    const p = front.evtchn.allocUnbound(0);
    const b = back.evtchn.bindInterdomain(g, p);
    expect(back.evtchn.bindInterdomain(g, p)).toBe(-XEN_EINVAL); // already bound
    for (const port of [forOther, p]) expect(front.evtchn.close(port)).toBe(0);
    expect(back.evtchn.close(b)).toBe(0);
    expectNoLeaks(hv);
  });

  it("send: 0 on an interdomain port; -EINVAL on closed, reserved, out-of-range ports; dropped on unbound", () => {
    const { hv, guest, back, front } = twoDomains();
    const fport = front.evtchn.allocUnbound(0);
    const out = new Int32Array(8);
    // Unbound: Xen silently drops the notification and returns 0; nobody sees an event.
    expect(front.evtchn.send(fport)).toBe(0);
    expect(back.evtchn.collect(out)).toBe(0);
    expect(front.evtchn.collect(out)).toBe(0);
    for (const port of [0, 2, 4095, 4096, -1, 1.5, Number.NaN, 2 ** 32]) {
      expect({ port, rc: evtchnErrorName(front.evtchn.send(port)) }).toEqual({ port, rc: "-EINVAL" });
    }
    const bport = back.evtchn.bindInterdomain(guest.domid, fport);
    expect(back.evtchn.collect(out)).toBe(1); // Xen sets the new port pending on bind
    expect(front.evtchn.send(fport)).toBe(0);
    expect(back.evtchn.collect(out)).toBe(1);
    expect(out[0]).toBe(bport);
    // The guest cannot send on dom0's port number: in the guest it names a closed port.
    expect(front.evtchn.send(bport + 1)).toBe(-XEN_EINVAL);
    expect(front.evtchn.close(fport)).toBe(0);
    expect(front.evtchn.send(fport)).toBe(-XEN_EINVAL);
    expect(back.evtchn.close(bport)).toBe(0);
    expect(back.evtchn.close(bport)).toBe(-XEN_EINVAL);
    expect(back.evtchn.close(0)).toBe(-XEN_EINVAL);
    expect(back.evtchn.status(0)).toBe(EVTCHNSTAT_closed);
    expect(back.evtchn.status(4096)).toBe(-XEN_EINVAL);
    expectNoLeaks(hv);
  });

  it("loopback: a domain may bind its own unbound port (DOMID_SELF)", () => {
    const hv = new Hypervisor();
    hv.createDomain({ domid: 0, name: "dom0", frames: 1 });
    const ctx = hv.context(0);
    const a = ctx.evtchn.allocUnbound(DOMID_SELF);
    const b = ctx.evtchn.bindInterdomain(DOMID_SELF, a);
    const out = new Int32Array(4);
    ctx.evtchn.collect(out);
    expect(ctx.evtchn.send(a)).toBe(0);
    expect(ctx.evtchn.collect(out)).toBe(1);
    expect(out[0]).toBe(b);
    expect(ctx.evtchn.close(a)).toBe(0);
    expect(ctx.evtchn.status(b)).toBe(EVTCHNSTAT_unbound);
    expect(ctx.evtchn.close(b)).toBe(0);
    expectNoLeaks(hv);
  });

  it("runs out of ports with -ENOSPC, and reuses the lowest freed port", () => {
    const hv = new Hypervisor();
    hv.createDomain({ domid: 0, name: "dom0", frames: 1, maxPorts: 32 });
    const ctx = hv.context(0);
    const ports = Array.from({ length: 31 }, () => ctx.evtchn.allocUnbound(0));
    expect(ports).toEqual(Array.from({ length: 31 }, (_, i) => i + 1));
    expect(ctx.evtchn.allocUnbound(0)).toBe(-XEN_ENOSPC);
    expect(ctx.evtchn.close(17)).toBe(0);
    expect(ctx.evtchn.allocUnbound(0)).toBe(17);
    for (const p of ports) expect(ctx.evtchn.close(p)).toBe(0);
    expect(ctx.evtchn.allocUnbound(0x7ff5)).toBe(-XEN_EINVAL);
    expectNoLeaks(hv);
  });
});
