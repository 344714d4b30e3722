import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DOMID_SELF,
  GNTCOPY_dest_gref,
  GNTCOPY_source_gref,
  GrantCopyBatch,
  GTF_permit_access,
  grantStatusName,
} from "../../src/grant/index.js";
import { twoDomains } from "../../src/testing/index.js";
import { expectNoLeaks } from "../_support/domains.js";

/** GNTTABOP_copy, segment by segment, with Xen's statuses (gnttab_copy_one and friends). */
describe("grant copy", () => {
  function statuses(b: GrantCopyBatch): string[] {
    return Array.from(b.status.subarray(0, b.count), grantStatusName);
  }

  it("copies from a grant into an own frame and back, and leaves no flag set", () => {
    const { hv, guest, back, front } = twoDomains();
    const gf = front.frames.alloc();
    const of = back.frames.alloc();
    for (let i = 0; i < 4096; i++) front.page(gf)[i] = i & 0xff;
    const ref = front.grants.grantAccess(0, gf, false);
    const b = new GrantCopyBatch(4);
    b.pushFromGrant(guest.domid, ref, 0, of, 0, 4096);
    b.pushFromGrant(guest.domid, ref, 1, of, 3, 7); // unaligned: byte path
    b.pushToGrant(of, 100, guest.domid, ref, 0, 4);
    expect(back.mapper.copy(b)).toBe(0);
    expect(statuses(b)).toEqual(["GNTST_okay", "GNTST_okay", "GNTST_okay"]);
    expect(Array.from(back.page(of).subarray(0, 12))).toEqual([0, 1, 2, 1, 2, 3, 4, 5, 6, 7, 10, 11]);
    expect(Array.from(front.page(gf).subarray(0, 5))).toEqual([100, 101, 102, 103, 4]);
    expect(front.grants.flags(ref)).toBe(GTF_permit_access);
    expect(front.grants.endAccess(ref)).toBe(true);
    expectNoLeaks(hv);
  });

  it("gives each failing segment its own status and still runs the rest", () => {
    const { hv, guest, back, front } = twoDomains(8);
    const gf = front.frames.alloc();
    const of = back.frames.alloc();
    const rw = front.grants.grantAccess(0, gf, false);
    const ro = front.grants.grantAccess(0, gf, true);
    const other = front.grants.grantAccess(5, gf, false);
    const badFrame = front.grants.grantAccess(0, 8, false);
    const b = new GrantCopyBatch(16);
    const d = guest.domid;
    b.pushFromGrant(d, rw, 4000, of, 0, 200); // source crosses the page end
    b.pushToGrant(of, 3900, d, rw, 0, 197); // destination crosses the page end
    b.push(0, d, gf, 0, DOMID_SELF, of, 0, 8); // a frame of another domain, without a grant
    b.push(GNTCOPY_source_gref, d, rw, 0, 0, of, 0, 8); // own frame named by domid, not DOMID_SELF
    b.pushFromGrant(77, rw, 0, of, 0, 8); // no such domain
    b.pushFromGrant(d, guest.grantEntries, 0, of, 0, 8); // ref out of range
    b.pushToGrant(of, 0, d, ro, 0, 8); // writing through a read-only grant
    b.pushFromGrant(d, other, 0, of, 0, 8); // granted to dom5
    b.pushFromGrant(d, badFrame, 0, of, 0, 8); // granted frame outside the guest's memory
    b.pushFromGrant(d, rw, 0, 8, 0, 8); // own frame outside dom0's memory
    b.pushFromGrant(d, ro, 0, of, 0, 4096); // fine: reading a read-only grant
    b.push(GNTCOPY_source_gref | GNTCOPY_dest_gref, d, rw, 0, d, rw, 8, 8); // grant to grant
    expect(back.mapper.copy(b)).toBe(10);
    expect(statuses(b)).toEqual([
      "GNTST_bad_copy_arg",
      "GNTST_bad_copy_arg",
      "GNTST_permission_denied",
      "GNTST_permission_denied",
      "GNTST_bad_domain",
      "GNTST_bad_gntref",
      "GNTST_general_error",
      "GNTST_general_error",
      "GNTST_bad_page",
      "GNTST_bad_page",
      "GNTST_okay",
      "GNTST_okay",
    ]);
    for (const r of [rw, ro, other, badFrame]) expect(front.grants.endAccess(r)).toBe(true);
    expectNoLeaks(hv);
  });

  it("never touches a byte outside the named ranges, whatever the offsets and lengths", () => {
    const { hv, guest, back, front } = twoDomains(4);
    const gf = front.frames.alloc();
    const of = back.frames.alloc();
    const ref = front.grants.grantAccess(0, gf, false);
    const b = new GrantCopyBatch(1);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.boolean(),
        (srcOff, dstOff, len, toGrant) => {
          front.memory.fill(0xaa);
          back.memory.fill(0xbb);
          b.clear();
          if (toGrant) b.pushToGrant(of, srcOff, guest.domid, ref, dstOff, len);
          else b.pushFromGrant(guest.domid, ref, srcOff, of, dstOff, len);
          back.mapper.copy(b);
          const fits = srcOff + len <= 4096 && dstOff + len <= 4096;
          expect(grantStatusName(b.status[0]!)).toBe(fits ? "GNTST_okay" : "GNTST_bad_copy_arg");
          const dst = toGrant ? front.memory : back.memory;
          const base = (toGrant ? gf : of) * 4096;
          const fill = toGrant ? 0xaa : 0xbb;
          const written = fits ? [base + dstOff, base + dstOff + len] : [0, 0];
          for (let i = 0; i < dst.length; i++) {
            if (i >= written[0]! && i < written[1]!) continue;
            if (dst[i] !== fill)
              throw new Error(`byte ${i} changed (src ${srcOff} dst ${dstOff} len ${len})`);
          }
        },
      ),
      { numRuns: 200 },
    );
    expect(front.grants.endAccess(ref)).toBe(true);
    expectNoLeaks(hv);
  });

  it("refuses fields that do not fit their C types (a bug in the caller, not guest input)", () => {
    const b = new GrantCopyBatch(1);
    expect(() => b.pushFromGrant(1, 8, 70000, 0, 0, 1)).toThrow(/source.offset must be a uint16_t/);
    b.pushFromGrant(1, 8, 0, 0, 0, 1);
    expect(() => b.pushFromGrant(1, 8, 0, 0, 0, 1)).toThrow(/at most 1/);
  });
});
