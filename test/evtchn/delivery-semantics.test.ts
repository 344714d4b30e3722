import { describe, expect, it } from "vitest";
import { EventDispatcher, pollEvents, waitForEvents, waitForEventsAsync } from "../../src/evtchn/index.js";
import { twoDomains } from "../../src/testing/index.js";

/** Xen's 2-level pending/mask/selector semantics, driven from one thread. */
describe("event delivery", () => {
  function connected(vcpus = 1) {
    const t = twoDomains(4, { vcpus });
    const fport = t.front.evtchn.allocUnbound(0);
    const bport = t.back.evtchn.bindInterdomain(t.guest.domid, fport);
    t.back.evtchn.collect(new Int32Array(8)); // the pending bit bind sets
    return { ...t, fport, bport };
  }

  it("several sends before the handler runs are one event", () => {
    const { back, front, fport, bport } = connected();
    const out = new Int32Array(8);
    for (let i = 0; i < 5; i++) expect(front.evtchn.send(fport)).toBe(0);
    expect(back.evtchn.isPending(bport)).toBe(true);
    expect(back.evtchn.upcallPending()).toBe(true);
    expect(pollEvents(back.evtchn, out)).toBe(1);
    expect(out[0]).toBe(bport);
    expect(back.evtchn.isPending(bport)).toBe(false);
    expect(pollEvents(back.evtchn, out)).toBe(0);
    // A send after the handler took the event is a new event.
    front.evtchn.send(fport);
    expect(pollEvents(back.evtchn, out)).toBe(1);
  });

  it("a masked port collects its events as pending; unmasking delivers them", () => {
    const { back, front, fport, bport } = connected();
    const out = new Int32Array(8);
    expect(back.evtchn.mask(bport)).toBe(0);
    front.evtchn.send(fport);
    front.evtchn.send(fport);
    expect(back.evtchn.isPending(bport)).toBe(true);
    expect(back.evtchn.upcallPending()).toBe(false);
    expect(pollEvents(back.evtchn, out)).toBe(0);
    expect(back.evtchn.unmask(bport)).toBe(0);
    expect(back.evtchn.upcallPending()).toBe(true);
    expect(pollEvents(back.evtchn, out)).toBe(1);
    expect(back.evtchn.mask(9999)).toBe(-22);
    expect(back.evtchn.unmask(-1)).toBe(-22);
  });

  it("delivers a port to the vcpu it is bound to, and moves a pending event with bindVcpu", () => {
    const { hv, back, front, fport, bport } = connected(2);
    const vcpu1 = hv.context(0, { vcpu: 1 });
    const out = new Int32Array(8);
    front.evtchn.send(fport);
    expect(vcpu1.evtchn.collect(out)).toBe(0);
    expect(back.evtchn.bindVcpu(bport, 1)).toBe(0);
    expect(vcpu1.evtchn.collect(out)).toBe(1);
    expect(back.evtchn.collect(out)).toBe(0);
    front.evtchn.send(fport);
    expect(back.evtchn.collect(out)).toBe(0);
    expect(vcpu1.evtchn.collect(out)).toBe(1);
    expect(back.evtchn.bindVcpu(bport, 2)).toBe(-2); // -ENOENT: no vcpu 2
    // Ports a vcpu-1 context allocates notify vcpu 1.
    const p = vcpu1.evtchn.allocUnbound(0);
    const st = { status: 0, vcpu: -1, remoteDomid: -1, remotePort: -1 };
    vcpu1.evtchn.statusOf(p, st);
    expect(st.vcpu).toBe(1);
  });

  it("an out array that fills up leaves the rest pending for the next collect", () => {
    const { hv, guest, back, front } = twoDomains(4);
    const pairs = Array.from({ length: 40 }, () => {
      const f = front.evtchn.allocUnbound(0);
      return { f, b: back.evtchn.bindInterdomain(guest.domid, f) };
    });
    const small = new Int32Array(16);
    const seen: number[] = [];
    for (let n = back.evtchn.collect(small); n > 0; n = back.evtchn.collect(small)) {
      seen.push(...small.subarray(0, n));
    }
    expect(seen.sort((a, b) => a - b)).toEqual(pairs.map((p) => p.b));
    for (const p of pairs) front.evtchn.send(p.f);
    seen.length = 0;
    for (let n = back.evtchn.collect(small); n > 0; n = back.evtchn.collect(small)) {
      seen.push(...small.subarray(0, n));
    }
    expect(seen.length).toBe(40);
    expect(hv.report(0).boundPorts.length).toBe(40);
  });

  it("drivers: blocking and async waits return at once when something is pending, 0 on timeout", async () => {
    const { back, front, fport, bport } = connected();
    const out = new Int32Array(8);
    expect(waitForEvents(back.evtchn, out, 0)).toBe(0);
    front.evtchn.send(fport);
    expect(waitForEvents(back.evtchn, out, 10_000)).toBe(1);
    expect(await waitForEventsAsync(back.evtchn, out, 1)).toBe(0);
    front.evtchn.send(fport);
    expect(await waitForEventsAsync(back.evtchn, out, 10_000)).toBe(1);
    // A kick wakes a waiter with nothing to dispatch.
    back.evtchn.kick();
    expect(waitForEvents(back.evtchn, out, 10_000)).toBe(0);
    expect(out[0]).toBe(bport);
  });

  it("the dispatcher calls each port's handler once per coalesced event", async () => {
    const { back, front, fport, bport } = connected();
    const d = new EventDispatcher(back.evtchn);
    const calls: number[] = [];
    d.on(bport, (p) => calls.push(p));
    front.evtchn.send(fport);
    front.evtchn.send(fport);
    expect(d.poll()).toBe(1);
    front.evtchn.send(fport);
    expect(d.wait(10_000)).toBe(1);
    front.evtchn.send(fport);
    expect(await d.waitAsync(10_000)).toBe(1);
    expect(calls).toEqual([bport, bport, bport]);
    d.off(bport);
    front.evtchn.send(fport);
    expect(d.poll()).toBe(1);
    expect(d.unhandled).toBe(1);
    expect(() => d.on(0, () => {})).toThrow(/port must be/);
  });
});
