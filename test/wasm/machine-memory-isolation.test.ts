import { describe, expect, it } from "vitest";
import { Hypervisor } from "../../src/hypervisor/hypervisor.js";
import { inspectWasmImage } from "../../src/wasm/image.js";
import { WasmKernel } from "../../src/wasm/kernel.js";
import { XEN_HEADERS } from "../_support/cc.js";
import { requireSystem } from "../_support/system.js";
import { buildFixture, CLANG19, LLD19 } from "../_support/wasm.js";

/**
 * What machine-memory mode keeps and loses (docs/wasm.md), shown rather than stated: a wasm
 * backend at machine address 0 can read and overwrite another domain's ungranted RAM with a
 * wild pointer (lost: Xen's page tables would stop it), but pvscsi's grant table, maptrack and
 * event-channel state stay out of its reach (kept: separate buffers), so grants and events of
 * that domain still work exactly as before.
 */
describe.runIf(requireSystem(CLANG19, LLD19, XEN_HEADERS))("machine-memory mode's isolation", () => {
  it("loses RAM isolation from a wild backend pointer, keeps grants and events", () => {
    const bytes = buildFixture("misuse");
    const hv = new Hypervisor({ machineFrames: 1024 });
    hv.createDomain({ domid: 0, name: "dom0", frames: 256 });
    const be = hv.createDomain(
      { name: "be", frames: 256 },
      { machineZero: true, reservedFrames: inspectWasmImage(bytes).imageFrames },
    );
    const g = hv.createDomain({ name: "g", frames: 256 });
    const gc = hv.context(g.domid);
    const secret = gc.frames.alloc(); // never granted to anyone
    gc.page(secret).fill(0x5a);
    const shared = gc.frames.alloc();
    const ref = gc.grants.grantAccess(0, shared, true);
    const gport = gc.evtchn.allocUnbound(0);
    const d0 = hv.context(0);
    const d0port = d0.evtchn.bindInterdomain(g.domid, gport);
    const grantTableBefore = Int32Array.from(gc.view.grantTable);

    const bc = hv.context(be.domid);
    const log: string[] = [];
    const k = WasmKernel.create({
      ctx: bc,
      bytes,
      xenstore: { frame: bc.frames.alloc(), port: bc.evtchn.allocUnbound(0) },
      blocking: false,
      log: (l) => log.push(l),
    });
    const secretAt = g.machine!.byteOffset + secret * 4096;
    // Lost: the backend reads the guest's ungranted page ...
    k.exportedFunction("pv_set_range")!(secretAt, 0);
    k.exportedFunction("pv_set_case")!(11);
    k.poll();
    expect(log.join("\n")).toContain(`misuse: read 0x5a at 0x${secretAt.toString(16)}`);
    // ... and overwrites the guest's whole RAM, granted page included.
    k.exportedFunction("pv_set_range")!(g.machine!.byteOffset, 256 * 4096);
    k.exportedFunction("pv_set_case")!(12);
    k.poll();
    expect(k.fault).toBeNull();
    expect(gc.page(secret)[0]).toBe(0xee);

    // Kept: the grant table, maptrack and ports are not in the machine memory.
    expect(Int32Array.from(gc.view.grantTable)).toEqual(grantTableBefore);
    const m = d0.mapper.mapView(g.domid, ref, true);
    expect(m.ok).toBe(true);
    if (m.ok) expect(d0.mapper.unmap(m.handle)).toBe(0);
    expect(gc.evtchn.send(gport)).toBe(0);
    const fired = new Int32Array(8);
    expect([...fired.subarray(0, d0.evtchn.collect(fired))]).toContain(d0port);
    expect(gc.grants.endAccess(ref)).toBe(true);
    expect(hv.report(g.domid).liveGrants).toEqual([]);
    expect(hv.report(g.domid).mappedGrants).toEqual([]);
    // The hypervisor's buffers are not views of the machine memory.
    expect(g.grantTable).not.toBe(hv.machine!.buffer);
    expect(g.xen).not.toBe(hv.machine!.buffer);
  });
});
