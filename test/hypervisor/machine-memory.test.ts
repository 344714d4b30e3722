import { describe, expect, it } from "vitest";
import { GrantCopyBatch } from "../../src/grant/copy-batch.js";
import { Hypervisor } from "../../src/hypervisor/hypervisor.js";
import { checkDomainHandle } from "../../src/hypervisor/index.js";
import { domainMemoryBytes } from "../../src/xen/domain-handle.js";
import { DOMID_SELF } from "../../src/xen/domid.js";
import { GNTCOPY_dest_gref } from "../../src/xen/grant-constants.js";

/**
 * Machine-memory mode: every domain's RAM is a range of one shared WebAssembly.Memory. What the
 * rest of pvscsi relies on: each domain's views cover exactly its range, grants map and copy as
 * in the default mode, the range at machine address 0 is the wasm backend's alone, ranges are
 * scrubbed when carved, and the default stays one buffer per domain.
 */
describe("machine-memory mode", () => {
  it("carves domains from the top, and a domain's views are exactly its range", () => {
    const hv = new Hypervisor({ machineFrames: 1024 });
    const m = hv.machine!;
    const dom0 = hv.createDomain({ domid: 0, name: "dom0", frames: 256 });
    const g = hv.createDomain({ name: "g", frames: 128 });
    expect(dom0.machine).toEqual({ id: m.id, byteOffset: 768 * 4096 });
    expect(g.machine).toEqual({ id: m.id, byteOffset: 640 * 4096 });
    expect(dom0.memory).toBe(m.buffer);
    const gc = hv.context(g.domid);
    expect(gc.memory.byteOffset).toBe(640 * 4096);
    expect(gc.memory.length).toBe(128 * 4096);
    gc.page(3).fill(0x3c);
    const machine = new Uint8Array(m.buffer);
    expect(machine[(640 + 3) * 4096]).toBe(0x3c);
    expect(machine[(640 + 3) * 4096 - 1]).toBe(0);
    expect(domainMemoryBytes(g)[3 * 4096]).toBe(0x3c);
    expect(checkDomainHandle(g)).toBe(g);
  });

  it("maps and copies grants between carved domains as the default mode does", () => {
    const hv = new Hypervisor({ machineFrames: 512 });
    hv.createDomain({ domid: 0, name: "dom0", frames: 128 });
    const g = hv.createDomain({ name: "g", frames: 128 });
    const back = hv.context(0);
    const front = hv.context(g.domid);
    const f = front.frames.alloc();
    const ref = front.grants.grantAccess(0, f, false);
    const map = back.mapper.mapView(g.domid, ref, false);
    expect(map.ok).toBe(true);
    if (!map.ok) return;
    // The mapping is the granter's page itself, at its machine address.
    expect(map.bytes.buffer).toBe(hv.machine!.buffer);
    expect(map.bytes.byteOffset).toBe(g.machine!.byteOffset + f * 4096);
    map.bytes[10] = 0x77;
    expect(front.page(f)[10]).toBe(0x77);
    expect(front.grants.endAccess(ref)).toBe(false); // still mapped (XSA-396)
    expect(back.mapper.unmap(map.handle)).toBe(0);
    expect(front.grants.endAccess(ref)).toBe(true);

    const ref2 = front.grants.grantAccess(0, f, false);
    const own = back.frames.alloc();
    back.page(own).fill(0x42);
    const b = new GrantCopyBatch(1);
    b.push(GNTCOPY_dest_gref, DOMID_SELF, own, 0, g.domid, ref2, 100, 200);
    expect(back.mapper.copy(b)).toBe(0);
    expect(front.page(f)[100]).toBe(0x42);
    expect(front.page(f)[300]).toBe(0);
    expect(front.grants.endAccess(ref2)).toBe(true);
    expect(hv.report(g.domid).clean).toBe(true);
  });

  it("gives machine address 0 to one wasm backend, scrubs reused ranges, and says when it is full", () => {
    const hv = new Hypervisor({ machineFrames: 512 });
    hv.createDomain({ domid: 0, name: "dom0", frames: 128 });
    const be = hv.createDomain({ name: "be", frames: 64 }, { machineZero: true, reservedFrames: 16 });
    expect(be.machine?.byteOffset).toBe(0);
    expect(be.wasmMemory).toBe(hv.machine!.memory);
    expect(() => hv.createDomain({ name: "be2", frames: 64 }, { machineZero: true })).toThrow(
      /machine address 0 is not free .*one wasm backend per machine memory/,
    );
    const g = hv.createDomain({ name: "g", frames: 256 });
    hv.context(g.domid).page(0).fill(9);
    expect(() => hv.createDomain({ name: "big", frames: 128 })).toThrow(/no 128 free frames left of 512/);
    hv.destroyDomain(g.domid);
    const g2 = hv.createDomain({ name: "g2", frames: 256 });
    expect(g2.machine?.byteOffset).toBe(g.machine?.byteOffset);
    expect(
      hv
        .context(g2.domid)
        .page(0)
        .every((x) => x === 0),
    ).toBe(true);
  });

  it("keeps per-domain buffers by default, and refuses machine-only options without it", () => {
    const hv = new Hypervisor();
    const d = hv.createDomain({ domid: 0, name: "dom0", frames: 64 });
    expect(d.machine).toBeUndefined();
    expect(d.memory.byteLength).toBe(64 * 4096);
    expect(() => hv.createDomain({ name: "x", frames: 64 }, { machineZero: true })).toThrow(
      /machine-memory mode/,
    );
    expect(() => new Hypervisor({ machineFrames: 100 })).toThrow(/multiple of 16/);
  });

  it("checks a machine handle's slot: page-aligned, inside the memory", () => {
    const hv = new Hypervisor({ machineFrames: 256 });
    const d = hv.createDomain({ domid: 0, name: "dom0", frames: 64 });
    expect(() => checkDomainHandle({ ...d, machine: { id: d.machine!.id, byteOffset: 100 } })).toThrow(
      /page-aligned/,
    );
    expect(() => checkDomainHandle({ ...d, machine: { id: d.machine!.id, byteOffset: 250 * 4096 } })).toThrow(
      /machine memory holding/,
    );
  });
});
