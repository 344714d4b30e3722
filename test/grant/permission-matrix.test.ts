import { afterEach, describe, expect, it } from "vitest";
import {
  DOMID_SELF,
  GNTST_bad_domain,
  GNTST_bad_gntref,
  GNTST_bad_handle,
  GNTST_general_error,
  GNTST_no_device_space,
  GNTST_okay,
  GTF_accept_transfer,
  GTF_permit_access,
  GTF_reading,
  GTF_readonly,
  GTF_sub_page,
  GTF_writing,
  grantStatusName,
} from "../../src/grant/index.js";
import { type TwoDomains, twoDomains } from "../../src/testing/index.js";
import { expectNoLeaks } from "../_support/domains.js";

/**
 * Xen's checks on GNTTABOP_map_grant_ref and unmap (xen/common/grant_table.c: map_grant_ref,
 * _set_status_v1, unmap_common), one row of the matrix per test, each with the status Xen gives.
 */
describe("grant map permission matrix", () => {
  let t: TwoDomains;
  afterEach(() => expectNoLeaks(t.hv));

  function granted(readonly: boolean, to = 0): { ref: number; frame: number } {
    const frame = t.front.frames.alloc();
    return { ref: t.front.grants.grantAccess(to, frame, readonly), frame };
  }

  function status(rc: number): string {
    return grantStatusName(rc < 0 ? rc : GNTST_okay);
  }

  it("maps a writable grant, exactly its frame, and sets GTF_reading|GTF_writing until unmapped", () => {
    t = twoDomains();
    const { ref, frame } = granted(false);
    t.front.page(frame).fill(0x5a);
    const h = t.back.mapper.map(t.guest.domid, ref, false);
    expect(h).toBeGreaterThanOrEqual(0);
    expect(t.back.mapper.mappedOffset(h)).toBe(frame * 4096);
    expect(t.back.mapper.mappedMemory(h).buffer).toBe(t.guest.memory);
    expect(t.back.mapper.isReadonly(h)).toBe(false);
    expect(t.front.grants.flags(ref)).toBe(GTF_permit_access | GTF_reading | GTF_writing);
    expect(t.back.mapper.unmap(h)).toBe(GNTST_okay);
    expect(t.front.grants.flags(ref)).toBe(GTF_permit_access);
    expect(t.front.grants.endAccess(ref)).toBe(true);
  });

  it("maps a read-only grant read-only: GTF_reading only, and the handle says read-only", () => {
    t = twoDomains();
    const { ref } = granted(true);
    const h = t.back.mapper.map(t.guest.domid, ref, true);
    expect(t.back.mapper.isReadonly(h)).toBe(true);
    expect(t.front.grants.flags(ref)).toBe(GTF_permit_access | GTF_readonly | GTF_reading);
    expect(t.back.mapper.unmap(h)).toBe(GNTST_okay);
    expect(t.front.grants.endAccess(ref)).toBe(true);
  });

  it("refuses a read-only grant mapped writable (GNTST_general_error) and leaves no flag set", () => {
    t = twoDomains();
    const { ref } = granted(true);
    expect(status(t.back.mapper.map(t.guest.domid, ref, false))).toBe("GNTST_general_error");
    expect(t.back.mapper.lastError).toMatch(/read-only/);
    expect(t.front.grants.flags(ref)).toBe(GTF_permit_access | GTF_readonly);
    expect(t.front.grants.endAccess(ref)).toBe(true);
  });

  it("refuses a grant made out to another domain (wrong domid: GNTST_general_error)", () => {
    t = twoDomains();
    const { ref } = granted(false, 7);
    expect(status(t.back.mapper.map(t.guest.domid, ref, true))).toBe("GNTST_general_error");
    expect(t.back.mapper.lastError).toMatch(/another domain/);
    expect(t.front.grants.endAccess(ref)).toBe(true);
  });

  it("refuses an entry that does not permit access: invalid, transfer, or sub-page", () => {
    t = twoDomains();
    const frame = t.front.frames.alloc();
    for (const flags of [0, GTF_accept_transfer, GTF_permit_access | GTF_sub_page, GTF_readonly]) {
      t.front.grants.writeEntry(3, flags, 0, frame);
      expect({ flags, st: status(t.back.mapper.map(t.guest.domid, 3, true)) }).toEqual({
        flags,
        st: "GNTST_general_error",
      });
      expect(t.front.grants.flags(3)).toBe(flags);
    }
    t.front.grants.writeEntry(3, 0, 0, 0);
  });

  it("refuses refs outside the granter's table (GNTST_bad_gntref), whatever the number", () => {
    t = twoDomains();
    for (const ref of [t.guest.grantEntries, 2 ** 32 - 1, 2 ** 32, -1, 1.5, Number.NaN]) {
      expect({ ref, st: status(t.back.mapper.map(t.guest.domid, ref, true)) }).toEqual({
        ref,
        st: "GNTST_bad_gntref",
      });
    }
  });

  it("refuses unknown, reserved and malformed domain ids (GNTST_bad_domain)", () => {
    t = twoDomains();
    for (const dom of [42, DOMID_SELF, 0xffff, -1, 0.5, 2 ** 16]) {
      expect({ dom, st: status(t.back.mapper.map(dom, 8, true)) }).toEqual({ dom, st: "GNTST_bad_domain" });
    }
  });

  it("refuses a granted frame outside the granter's memory (GNTST_bad_page) and rolls the flags back", () => {
    t = twoDomains(8);
    const ref = t.front.grants.grantAccess(0, 8, false);
    expect(status(t.back.mapper.map(t.guest.domid, ref, false))).toBe("GNTST_bad_page");
    expect(t.front.grants.flags(ref)).toBe(GTF_permit_access);
    const far = t.front.grants.grantAccess(0, 0xffffffff, true);
    expect(status(t.back.mapper.map(t.guest.domid, far, true))).toBe("GNTST_bad_page");
    expect(t.front.grants.endAccess(ref)).toBe(true);
    expect(t.front.grants.endAccess(far)).toBe(true);
  });

  it("ending access fails while mapped, and succeeds once the last mapping is gone", () => {
    t = twoDomains();
    const { ref } = granted(false);
    const h1 = t.back.mapper.map(t.guest.domid, ref, true);
    const h2 = t.back.mapper.map(t.guest.domid, ref, false);
    expect(t.front.grants.endAccess(ref)).toBe(false);
    expect(t.front.grants.flags(ref)).toBe(GTF_permit_access | GTF_reading | GTF_writing);
    expect(t.back.mapper.unmap(h2)).toBe(GNTST_okay);
    // The read-only mapping remains: writing is cleared, reading is not.
    expect(t.front.grants.flags(ref)).toBe(GTF_permit_access | GTF_reading);
    expect(t.front.grants.endAccess(ref)).toBe(false);
    expect(t.back.mapper.unmap(h1)).toBe(GNTST_okay);
    expect(t.front.grants.endAccess(ref)).toBe(true);
    expect(t.front.grants.flags(ref)).toBe(0);
  });

  it("refuses to map a revoked grant", () => {
    t = twoDomains();
    const { ref } = granted(false);
    expect(t.front.grants.endAccess(ref)).toBe(true);
    expect(status(t.back.mapper.map(t.guest.domid, ref, true))).toBe("GNTST_general_error");
  });

  it("double unmap and unknown handles give GNTST_bad_handle", () => {
    t = twoDomains();
    const { ref } = granted(false);
    const h = t.back.mapper.map(t.guest.domid, ref, false);
    expect(t.back.mapper.unmap(h)).toBe(GNTST_okay);
    expect(t.back.mapper.unmap(h)).toBe(GNTST_bad_handle);
    for (const bad of [-1, 1.5, t.dom0.maptrackEntries, 2 ** 32, h + 1]) {
      expect(t.back.mapper.unmap(bad)).toBe(GNTST_bad_handle);
    }
    expect(t.front.grants.endAccess(ref)).toBe(true);
  });

  it("a grant pinned by one domain cannot be pinned by another, even if the entry is rewritten", () => {
    t = twoDomains();
    const third = t.hv.createDomain({ name: "third", frames: 4 });
    const d3 = t.hv.context(third.domid);
    const { ref, frame } = granted(false);
    const h = t.back.mapper.map(t.guest.domid, ref, false);
    expect(h).toBeGreaterThanOrEqual(0);
    // A hostile guest re-targets the live entry at dom3: Xen's act->domid still says dom0.
    t.front.grants.writeEntry(ref, GTF_permit_access | GTF_reading | GTF_writing, third.domid, frame);
    expect(d3.mapper.map(t.guest.domid, ref, true)).toBe(GNTST_general_error);
    expect(d3.mapper.lastError).toMatch(/pinned by another domain/);
    expect(t.back.mapper.unmap(h)).toBe(GNTST_okay);
    t.front.grants.writeEntry(ref, GTF_permit_access, 0, frame);
    expect(t.front.grants.endAccess(ref)).toBe(true);
  });

  it("a second map of a pinned grant uses the frame latched at the first, not a rewritten one", () => {
    t = twoDomains();
    const { ref, frame } = granted(false);
    const h1 = t.back.mapper.map(t.guest.domid, ref, true);
    t.front.grants.writeEntry(ref, GTF_permit_access | GTF_reading, 0, frame + 1);
    const h2 = t.back.mapper.map(t.guest.domid, ref, true);
    expect(t.back.mapper.mappedOffset(h2)).toBe(frame * 4096);
    t.back.mapper.unmap(h1);
    t.back.mapper.unmap(h2);
    expect(t.front.grants.endAccess(ref)).toBe(true);
  });

  it("runs out of maptrack handles with GNTST_no_device_space, and recovers after unmaps", () => {
    t = twoDomains(8, { maptrackEntries: 4 });
    const { ref } = granted(true);
    const hs = [0, 1, 2, 3].map(() => t.back.mapper.map(t.guest.domid, ref, true));
    expect(hs).toEqual([0, 1, 2, 3]);
    expect(t.back.mapper.map(t.guest.domid, ref, true)).toBe(GNTST_no_device_space);
    expect(t.back.mapper.unmap(2)).toBe(GNTST_okay);
    expect(t.back.mapper.map(t.guest.domid, ref, true)).toBe(2);
    for (const h of hs) expect(t.back.mapper.unmap(h)).toBe(GNTST_okay);
    expect(t.front.grants.endAccess(ref)).toBe(true);
  });

  it("mapView gives a view of exactly one page, or a message with Xen's status name and meaning", () => {
    t = twoDomains();
    const { ref, frame } = granted(false);
    t.front.page(frame).fill(9);
    const m = t.back.mapper.mapView(t.guest.domid, ref, false);
    if (!m.ok) throw new Error(m.message);
    expect(m.bytes.length).toBe(4096);
    expect(m.bytes.every((b) => b === 9)).toBe(true);
    m.bytes[0] = 1;
    expect(t.front.page(frame)[0]).toBe(1);
    expect(t.back.mapper.unmap(m.handle)).toBe(GNTST_okay);
    const bad = t.back.mapper.mapView(t.guest.domid, t.guest.grantEntries, true);
    expect(bad).toEqual({
      ok: false,
      status: GNTST_bad_gntref,
      message: `map of dom${t.guest.domid} ref ${t.guest.grantEntries} read-only by dom0: GNTST_bad_gntref (invalid grant reference): the grant ref is outside the granter's table`,
    });
    expect(t.back.mapper.mapView(99, 8, true)).toMatchObject({ ok: false, status: GNTST_bad_domain });
    expect(t.front.grants.endAccess(ref)).toBe(true);
  });

  it("pin counts per ref: GTF_reading stays until the last of many mappings goes", () => {
    t = twoDomains();
    const { ref } = granted(false);
    const hs = Array.from({ length: 50 }, (_, i) => t.back.mapper.map(t.guest.domid, ref, i % 2 === 0));
    expect(t.hv.report(t.guest.domid).mappedGrants).toEqual([{ ref, mapper: 0, pins: 50, writablePins: 25 }]);
    for (const h of hs.slice(0, 49)) expect(t.back.mapper.unmap(h)).toBe(GNTST_okay);
    expect(t.front.grants.inUse(ref)).toBe(true);
    expect(t.back.mapper.unmap(hs[49]!)).toBe(GNTST_okay);
    expect(t.front.grants.inUse(ref)).toBe(false);
    expect(t.front.grants.endAccess(ref)).toBe(true);
  });
});
