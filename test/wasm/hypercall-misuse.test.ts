import { describe, expect, it } from "vitest";
import { Hypervisor } from "../../src/hypervisor/hypervisor.js";
import { WasmKernel, wasmDomainBacking } from "../../src/wasm/kernel.js";
import { XEN_HEADERS } from "../_support/cc.js";
import { requireSystem } from "../_support/system.js";
import { buildFixture, CLANG19, LLD19 } from "../_support/wasm.js";

/**
 * Every hypercall misuse Xen refuses outright stops the wasm kernel that made it, with a message
 * naming the hypercall and the value (test/wasm/fixtures/misuse.c makes one per case), never an
 * exception out of `poll()`; and another domain's grant, its data and its event channel to dom0
 * carry on untouched.
 */
const CASES: ReadonlyArray<readonly [number, string, RegExp]> = [
  [
    1,
    "an argument struct outside memory",
    /EVTCHNOP_send: argument \[0x[0-9a-f]+, \+4\) lies outside the domain's 1048576 bytes/,
  ],
  [
    2,
    "a log string running past memory",
    /pv_log: argument \[0x[0-9a-f]+, \+64\) lies outside the domain's 1048576 bytes/,
  ],
  [
    3,
    "granting a frame it does not have",
    /gnttab_grant_access: frame 261 is not in the domain's memory \(256 frames\)/,
  ],
  [4, "ending a ref it never granted", /gnttab_end_access: ref 77 is not a grant this domain holds/],
  [5, "ending a reserved ref", /gnttab_end_access: ref 1 is not a grant this domain holds/],
  [6, "freeing a page twice", /pv_page_free: page 0x[0-9a-f]+ freed twice \(or never allocated\)/],
  [7, "freeing a page of its own image", /pv_page_free: 0x1000 is not a page pv_page_alloc gave/],
  [8, "a grant copy of too many segments", /pv_gnttab_copy: 100000 segments \(at most 256 per call\)/],
  [9, "fired ports written past memory", /pv_evtchn_poll: argument \[0x[0-9a-f]+, \+32\) lies outside/],
];

describe.runIf(requireSystem(CLANG19, LLD19, XEN_HEADERS))("hypercall misuse by a wasm kernel", () => {
  const bytes = buildFixture("misuse");

  for (const [which, what, message] of CASES) {
    it(`stops the kernel on ${what}; another domain is unaffected`, () => {
      const hv = new Hypervisor();
      hv.createDomain({ domid: 0, name: "dom0", frames: 256 });
      // Another guest, with a page granted to dom0 and an event channel to it.
      const other = hv.createDomain({ name: "other", frames: 256 });
      const oc = hv.context(other.domid);
      const frame = oc.frames.alloc();
      oc.page(frame).fill(0xa5);
      const ref = oc.grants.grantAccess(0, frame, true);
      const oport = oc.evtchn.allocUnbound(0);
      // The misbehaving one, its kernel the fixture.
      const backing = wasmDomainBacking(bytes, 256);
      const bad = hv.createDomain(
        { name: "bad", frames: 256 },
        { wasmMemory: backing.wasmMemory!, reservedFrames: backing.reservedFrames },
      );
      const d0 = hv.context(0);
      const d0port = d0.evtchn.bindInterdomain(other.domid, oport);
      const bc = hv.context(bad.domid);
      const log: string[] = [];
      const k = WasmKernel.create({
        ctx: bc,
        bytes,
        xenstore: { frame: bc.frames.alloc(), port: bc.evtchn.allocUnbound(0) },
        blocking: false,
        log: (l) => log.push(l),
      });
      k.exportedFunction("pv_set_case")!(which);

      expect(() => k.poll()).not.toThrow();
      expect(k.fault?.kind).toBe("hypercall");
      expect(k.fault?.message).toMatch(new RegExp(`^dom${bad.domid}: `));
      expect(k.fault?.message).toMatch(message);
      expect(log.join("\n")).toMatch(/\[pvscsi\] kernel stopped: dom\d+: /);
      expect(log.join("\n")).not.toContain("was not stopped");
      // Stopped means stopped: no more steps run.
      expect(k.poll()).toBe(0);

      // The other domain: its grant still maps with its data, its port still delivers.
      const m = d0.mapper.mapView(other.domid, ref, true);
      expect(m.ok).toBe(true);
      if (m.ok) {
        expect(m.bytes.every((b) => b === 0xa5)).toBe(true);
        expect(d0.mapper.unmap(m.handle)).toBe(0);
      }
      expect(oc.evtchn.send(oport)).toBe(0);
      const fired = new Int32Array(8);
      const n = d0.evtchn.collect(fired);
      expect([...fired.subarray(0, n)]).toContain(d0port);
      expect(hv.report(other.domid).liveGrants.map((g) => g.ref)).toEqual([ref]);
      hv.destroyDomain(bad.domid);
      expect(oc.grants.endAccess(ref)).toBe(true);
    });
  }

  it("refuses a grant map when the granter is not in the backend's machine memory, and reports it", () => {
    const hv = new Hypervisor();
    hv.createDomain({ domid: 0, name: "dom0", frames: 256 });
    const backing = wasmDomainBacking(bytes, 256);
    const be = hv.createDomain(
      { name: "be", frames: 256 },
      { wasmMemory: backing.wasmMemory!, reservedFrames: backing.reservedFrames },
    );
    const g = hv.createDomain({ name: "g", frames: 256 });
    const gc = hv.context(g.domid);
    const ref = gc.grants.grantAccess(be.domid, gc.frames.alloc(), false);
    const bc = hv.context(be.domid);
    const log: string[] = [];
    const k = WasmKernel.create({
      ctx: bc,
      bytes,
      xenstore: { frame: bc.frames.alloc(), port: bc.evtchn.allocUnbound(0) },
      blocking: false,
      log: (l) => log.push(l),
    });
    k.exportedFunction("pv_set_map")!(g.domid, ref);
    k.exportedFunction("pv_set_case")!(10);
    k.poll();
    expect(k.fault).toBeNull();
    expect(log.join("\n")).toMatch(
      /gnttab map of dom\d+ ref \d+: GNTST_general_error: dom\d+'s memory is not in this backend's machine memory/,
    );
    expect(log.join("\n")).toContain("misuse: pv_gnttab_map returned -1");
    expect(hv.report(g.domid).mappedGrants).toEqual([]);
    expect(gc.grants.endAccess(ref)).toBe(true);
  });
});
