import { describe, expect, it } from "vitest";
import { EVTCHNSTAT_closed } from "../../src/evtchn/index.js";
import { GNTST_bad_domain, GNTST_general_error, GNTST_okay } from "../../src/grant/index.js";
import { checkDomainHandle, DomainContext, Hypervisor } from "../../src/hypervisor/index.js";

describe("hypervisor: creating and destroying domains", () => {
  it("dom0 takes id 0; guests get ids from 1 up, not reused at once after a destroy", () => {
    const hv = new Hypervisor();
    expect(hv.createDomain({ domid: 0, name: "dom0", frames: 1 }).domid).toBe(0);
    const a = hv.createDomain({ name: "a", frames: 1 });
    const b = hv.createDomain({ name: "b", frames: 1 });
    expect([a.domid, b.domid]).toEqual([1, 2]);
    hv.destroyDomain(a.domid);
    expect(hv.createDomain({ name: "c", frames: 1 }).domid).toBe(3);
    expect(hv.domains().map((h) => h.name)).toEqual(["dom0", "b", "c"]);
    expect(() => hv.createDomain({ domid: 2, name: "dup", frames: 1 })).toThrow(/dom2: already exists/);
    expect(hv.createDomain({ domid: 1, name: "a2", frames: 1 }).domid).toBe(1);
  });

  it("names the offending option of a malformed configuration", () => {
    const hv = new Hypervisor();
    expect(() => hv.createDomain({ name: "x", frames: 0 })).toThrow(/DomainConfig.frames must be an integer/);
    expect(() => hv.createDomain({ name: "", frames: 1 })).toThrow(/DomainConfig.name/);
    expect(() => hv.createDomain({ domid: 0x7ff0, name: "x", frames: 1 })).toThrow(/DomainConfig.domid/);
    expect(() => hv.createDomain({ name: "x", frames: 1, maxPorts: 100 })).toThrow(/DomainConfig.maxPorts/);
    expect(() => hv.createDomain({ name: "x", frames: 1, vcpus: 33 })).toThrow(/DomainConfig.vcpus/);
    expect(() => hv.createDomain({ name: "x", frames: 1, grantFrames: 0 })).toThrow(
      /DomainConfig.grantFrames/,
    );
  });

  it("gives each domain its own memory of N frames; handles survive structured cloning", () => {
    const hv = new Hypervisor();
    const h = hv.createDomain({ domid: 0, name: "dom0", frames: 3 });
    expect(h.memory.byteLength).toBe(3 * 4096);
    expect(h.grantTable.byteLength).toBe(4096 * 8);
    const clone = structuredClone(h);
    const ctx = DomainContext.attach(clone);
    ctx.page(2)[5] = 42;
    expect(new Uint8Array(h.memory)[2 * 4096 + 5]).toBe(42);
    expect(() => ctx.page(3)).toThrow(/frame must be/);
  });

  it("refuses malformed handles, naming the field", () => {
    const hv = new Hypervisor();
    const h = hv.createDomain({ domid: 0, name: "dom0", frames: 2 });
    expect(() => checkDomainHandle({ ...h, memory: new SharedArrayBuffer(4096) })).toThrow(
      /domain handle.memory must be a SharedArrayBuffer of 8192 bytes/,
    );
    expect(() => checkDomainHandle({ ...h, xen: new ArrayBuffer(h.xen.byteLength) })).toThrow(
      /domain handle.xen/,
    );
    expect(() => checkDomainHandle({ ...h, generation: 0 })).toThrow(/generation/);
    expect(() => checkDomainHandle(null)).toThrow(/an object/);
    const other = new Hypervisor().createDomain({ domid: 1, name: "elsewhere", frames: 2 });
    const ctx = DomainContext.attach(h);
    expect(() => ctx.introducePeer(other)).toThrow(/same hypervisor registry/);
  });

  it("peers created after a worker started become reachable once introduced", () => {
    const hv = new Hypervisor();
    const dom0 = DomainContext.attach(hv.createDomain({ domid: 0, name: "dom0", frames: 2 }));
    const late = hv.createDomain({ name: "late", frames: 2 });
    const g = hv.context(late.domid);
    const ref = g.grants.grantAccess(0, 0, true);
    expect(dom0.knows(late.domid)).toBe(false);
    expect(dom0.mapper.map(late.domid, ref, true)).toBe(GNTST_bad_domain);
    dom0.introducePeer(late);
    dom0.introducePeer(late); // twice is harmless
    const h = dom0.mapper.map(late.domid, ref, true);
    expect(h).toBeGreaterThanOrEqual(0);
    expect(dom0.mapper.unmap(h)).toBe(GNTST_okay);
    expect(g.grants.endAccess(ref)).toBe(true);
  });

  it("a destroyed domain is gone for every thread; a new one under the same id is a new incarnation", () => {
    const hv = new Hypervisor();
    hv.createDomain({ domid: 0, name: "dom0", frames: 2 });
    const old = hv.createDomain({ domid: 5, name: "old", frames: 2 });
    const back = hv.context(0);
    const g = hv.context(5);
    const ref = g.grants.grantAccess(0, 0, false);
    const port = g.evtchn.allocUnbound(0);
    expect(back.evtchn.bindInterdomain(5, port)).toBeGreaterThan(0);
    hv.destroyDomain(5);
    expect(back.knows(5)).toBe(false);
    expect(back.mapper.map(5, ref, true)).toBe(GNTST_bad_domain);

    const fresh = hv.createDomain({ domid: 5, name: "fresh", frames: 2 });
    expect(fresh.generation).not.toBe(old.generation);
    // dom0's view is of the old incarnation: still gone until the toolstack introduces the new one.
    expect(back.mapper.map(5, ref, true)).toBe(GNTST_bad_domain);
    back.introducePeer(fresh);
    expect(back.mapper.map(5, ref, true)).toBe(GNTST_general_error); // nothing granted yet
    // dom0's port was left unbound, waiting for dom5: close it.
    expect(hv.report(0).boundPorts).toEqual([
      { port: 1, status: "unbound", remoteDomid: 5, remotePort: null, vcpu: 0 },
    ]);
    expect(back.evtchn.close(1)).toBe(0);
    expect(back.evtchn.status(1)).toBe(EVTCHNSTAT_closed);
  });
});
