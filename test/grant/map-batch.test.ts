import { describe, expect, it } from "vitest";
import {
  GNTST_bad_domain,
  GNTST_bad_gntref,
  GNTST_bad_page,
  GNTST_general_error,
  GNTST_okay,
  GTF_permit_access,
  GTF_reading,
  GTF_readonly,
  GTF_writing,
} from "../../src/grant/index.js";
import { twoDomains } from "../../src/testing/index.js";
import { expectNoLeaks } from "../_support/domains.js";

/** GNTTABOP_map_grant_ref with a count: each op on its own, a bad op fails alone with Xen's status. */
describe("map and unmap in batches", () => {
  it("maps every good op, gives each bad op its own GNTST_ status, and unmaps cleanly", () => {
    const { hv, guest, back, front } = twoDomains(32);
    const frames = [3, 4, 5, 6, 7, 8];
    const refs = frames.map((f) => front.grants.grantAccess(0, f, false));
    // A hostile guest spoils three entries in the middle of the batch.
    const spoiledFrame = refs[2]!;
    front.grants.writeEntry(spoiledFrame, GTF_permit_access, 0, 9999); // frame outside its memory
    const otherDomain = refs[3]!;
    front.grants.writeEntry(otherDomain, GTF_permit_access, 7, 6); // granted to someone else
    const readonlyRef = refs[4]!;
    front.grants.writeEntry(readonlyRef, GTF_permit_access | GTF_readonly, 0, 7); // writable map asked
    const batch = Int32Array.from([
      refs[0]!,
      refs[1]!,
      spoiledFrame,
      otherDomain,
      1 << 30,
      readonlyRef,
      refs[5]!,
    ]);
    const handles = new Int32Array(batch.length);
    const offsets = new Int32Array(batch.length);
    const failed = back.mapper.mapBatch(guest.domid, batch, 0, batch.length, false, handles, offsets);
    expect(failed).toBe(4);
    const status = Array.from(handles, (h) => (h < 0 ? h : GNTST_okay));
    expect(status).toEqual([
      GNTST_okay,
      GNTST_okay,
      GNTST_bad_page,
      GNTST_general_error,
      GNTST_bad_gntref,
      GNTST_general_error,
      GNTST_okay,
    ]);
    expect([offsets[0], offsets[1], offsets[6]]).toEqual([3 * 4096, 4 * 4096, 8 * 4096]);
    expect(back.mapper.granterMemory(guest.domid)).toBe(back.mapper.mappedMemory(handles[0]!));
    for (const i of [0, 1, 6])
      expect(front.grants.flags(batch[i]!)).toBe(GTF_permit_access | GTF_reading | GTF_writing);
    // The failed ops left no flag behind (Xen's unlock_out_clear for the bad frame).
    expect(front.grants.flags(spoiledFrame)).toBe(GTF_permit_access);
    // XSA-396: while mapped, end access is refused; after the batch unmap it succeeds.
    expect(front.grants.endAccess(refs[0]!)).toBe(false);
    const st = new Int32Array(batch.length);
    expect(back.mapper.unmapBatch(handles, batch.length, st)).toBe(0);
    expect(Array.from(st)).toEqual(new Array(batch.length).fill(GNTST_okay));
    for (const r of refs) expect(front.grants.endAccess(r)).toBe(true);
    expectNoLeaks(hv);
  });

  it("an unknown granter fails every op with GNTST_bad_domain; double unmaps are reported per op", () => {
    const { hv, guest, back, front } = twoDomains(16);
    const handles = new Int32Array(3);
    const offsets = new Int32Array(3);
    expect(back.mapper.mapBatch(77, [8, 9, 10], 0, 3, true, handles, offsets)).toBe(3);
    expect(Array.from(handles)).toEqual([GNTST_bad_domain, GNTST_bad_domain, GNTST_bad_domain]);
    const ref = front.grants.grantAccess(0, 2, true);
    expect(back.mapper.mapBatch(guest.domid, [ref, ref], 0, 2, true, handles, offsets)).toBe(0);
    expect(front.grants.flags(ref)).toBe(GTF_permit_access | GTF_readonly | GTF_reading);
    expect(back.mapper.unmapBatch(handles, 2)).toBe(0);
    expect(front.grants.flags(ref)).toBe(GTF_permit_access | GTF_readonly);
    // Unmapping the same handles again: each op fails on its own.
    const st = new Int32Array(2);
    expect(back.mapper.unmapBatch(handles, 2, st)).toBe(2);
    expect(st[0]).toBeLessThan(0);
    expect(front.grants.endAccess(ref)).toBe(true);
    expectNoLeaks(hv);
  });
});
