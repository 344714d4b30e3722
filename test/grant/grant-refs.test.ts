import { describe, expect, it } from "vitest";
import {
  GNTST_no_space,
  GNTTAB_NR_RESERVED_ENTRIES,
  GNTTAB_RESERVED_XENSTORE,
  GTF_permit_access,
  GTF_readonly,
} from "../../src/grant/index.js";
import { Hypervisor } from "../../src/hypervisor/index.js";
import { twoDomains } from "../../src/testing/index.js";
import { expectNoLeaks } from "../_support/domains.js";

describe("granting side (Linux's gnttab_grant_foreign_access / gnttab_try_end_foreign_access)", () => {
  it("writes grant_entry_v1 in Xen's layout in the domain's own grant table", () => {
    const { hv, guest, front } = twoDomains();
    const ref = front.grants.grantAccess(0x1234, 0xabcdef, true);
    const dv = new DataView(guest.grantTable, ref * 8, 8);
    expect(dv.getUint16(0, true)).toBe(GTF_permit_access | GTF_readonly); // flags
    expect(dv.getUint16(2, true)).toBe(0x1234); // domid
    expect(dv.getUint32(4, true)).toBe(0xabcdef); // frame
    expect(front.grants.endAccess(ref)).toBe(true);
    expect(dv.getUint16(0, true)).toBe(0);
    expectNoLeaks(hv);
  });

  it("hands out refs from 8 up, lowest free first, and reuses a ref once its access ended", () => {
    const { hv, front } = twoDomains();
    const refs = [0, 1, 2].map(() => front.grants.grantAccess(0, 0, false));
    expect(refs).toEqual([GNTTAB_NR_RESERVED_ENTRIES, 9, 10]);
    expect(front.grants.endAccess(9)).toBe(true);
    expect(front.grants.isAllocated(9)).toBe(false);
    expect(front.grants.grantAccess(0, 1, false)).toBe(9);
    for (const r of refs) expect(front.grants.endAccess(r)).toBe(true);
    expectNoLeaks(hv);
  });

  it("returns GNTST_no_space when every ref is in use", () => {
    const hv = new Hypervisor();
    hv.createDomain({ domid: 0, name: "dom0", frames: 1 });
    const g = hv.createDomain({ name: "small", frames: 1, grantFrames: 1 });
    const ctx = hv.context(g.domid);
    const refs: number[] = [];
    for (let i = 0; i < 512 - GNTTAB_NR_RESERVED_ENTRIES; i++) refs.push(ctx.grants.grantAccess(0, 0, true));
    expect(new Set(refs).size).toBe(504);
    expect(Math.min(...refs)).toBe(8);
    expect(Math.max(...refs)).toBe(511);
    expect(ctx.grants.grantAccess(0, 0, true)).toBe(GNTST_no_space);
    for (const r of refs) expect(ctx.grants.endAccess(r)).toBe(true);
    expectNoLeaks(hv);
  });

  it("lets the toolstack fill a reserved ref (the xenstore ring at ref 1), which dom0 can map", () => {
    const { hv, guest, back, front } = twoDomains();
    const ring = front.frames.alloc();
    front.grants.grantAccessRef(GNTTAB_RESERVED_XENSTORE, 0, ring, false);
    expect(hv.report(guest.domid).reservedGrants).toEqual([
      { ref: GNTTAB_RESERVED_XENSTORE, grantee: 0, frame: ring, readonly: false },
    ]);
    const h = back.mapper.map(guest.domid, GNTTAB_RESERVED_XENSTORE, false);
    expect(back.mapper.mappedOffset(h)).toBe(ring * 4096);
    expect(() => front.grants.grantAccessRef(GNTTAB_RESERVED_XENSTORE, 0, ring, false)).toThrow(
      /still mapped/,
    );
    back.mapper.unmap(h);
    expect(() => front.grants.grantAccessRef(8, 0, ring, false)).toThrow(/reserved ref/);
    expect(front.grants.endAccess(GNTTAB_RESERVED_XENSTORE)).toBe(true);
    expectNoLeaks(hv);
  });

  it("treats ending a ref it does not hold, and malformed arguments, as the caller's bug", () => {
    const { front } = twoDomains();
    expect(() => front.grants.endAccess(100)).toThrow(/ended but not granted/);
    expect(() => front.grants.endAccess(-1)).toThrow(/ref must be/);
    expect(() => front.grants.grantAccess(70000, 0, false)).toThrow(/domid must be/);
    expect(() => front.grants.grantAccess(0, -1, false)).toThrow(/frame must be/);
  });
});
