import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  GNTST_bad_gntref,
  GNTST_bad_page,
  GNTST_general_error,
  GNTST_okay,
  GrantCopyBatch,
  GTF_permit_access,
  GTF_reading,
  GTF_readonly,
  GTF_sub_page,
  GTF_type_mask,
  GTF_writing,
} from "../../src/grant/index.js";
import { twoDomains } from "../../src/testing/index.js";
import { expectNoLeaks } from "../_support/domains.js";

/**
 * A guest owns its grant table and may write anything into it. Whatever it writes, a map gives
 * the status Xen's rules give, never throws, and leaves the flags as Xen would.
 */
describe("grant entries a hostile guest wrote", () => {
  it("any raw entry maps or fails exactly as Xen's checks say", () => {
    const { hv, guest, back, front } = twoDomains(16);
    const entries = guest.grantEntries;
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff }),
        fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })),
        fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 0xffffffff })),
        fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: entries - 2, max: entries + 2 })),
        fc.boolean(),
        (flags, domid, frame, ref, readonly) => {
          if (ref < entries) front.grants.writeEntry(ref, flags, domid, frame);
          let expected: number = GNTST_okay;
          if (ref >= entries) expected = GNTST_bad_gntref;
          else if (domid !== 0 || (flags & (GTF_type_mask | GTF_sub_page)) !== GTF_permit_access)
            expected = GNTST_general_error;
          else if (!readonly && (flags & GTF_readonly) !== 0) expected = GNTST_general_error;
          else if (frame >= 16) expected = GNTST_bad_page;
          const h = back.mapper.map(guest.domid, ref, readonly);
          expect(h < 0 ? h : GNTST_okay).toBe(expected);
          if (h >= 0) {
            expect(back.mapper.mappedOffset(h)).toBe(frame * 4096);
            expect(front.grants.flags(ref)).toBe(flags | GTF_reading | (readonly ? 0 : GTF_writing));
            expect(back.mapper.unmap(h)).toBe(GNTST_okay);
            // Xen clears GTF_reading when no pin is left, GTF_writing only when a writable one went.
            expect(front.grants.flags(ref)).toBe(flags & ~(GTF_reading | (readonly ? 0 : GTF_writing)));
          } else if (expected === GNTST_bad_page) {
            expect(front.grants.flags(ref)).toBe(flags & ~(GTF_reading | (readonly ? 0 : GTF_writing)));
          } else if (ref < entries) {
            expect(front.grants.flags(ref)).toBe(flags);
          }
          if (ref < entries) front.grants.writeEntry(ref, 0, 0, 0);
        },
      ),
      { numRuns: 1000 },
    );
    expectNoLeaks(hv);
  });

  it("random sequences of grant, map, unmap, copy and end-access agree with a model of pins", () => {
    type Op =
      | { op: "grant"; slot: number; readonly: boolean }
      | { op: "map"; slot: number; readonly: boolean }
      | { op: "unmap"; pick: number }
      | { op: "copy"; slot: number; toGrant: boolean }
      | { op: "end"; slot: number };
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ op: fc.constant("grant" as const), slot: fc.nat(3), readonly: fc.boolean() }),
      fc.record({ op: fc.constant("map" as const), slot: fc.nat(3), readonly: fc.boolean() }),
      fc.record({ op: fc.constant("unmap" as const), pick: fc.nat(20) }),
      fc.record({ op: fc.constant("copy" as const), slot: fc.nat(3), toGrant: fc.boolean() }),
      fc.record({ op: fc.constant("end" as const), slot: fc.nat(3) }),
    );
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
        const { hv, guest, back, front } = twoDomains(8, { maptrackEntries: 64 });
        const batch = new GrantCopyBatch(1);
        // Model: per slot, the ref (or -1), whether read-only, and the live handles on it.
        const slots = [0, 1, 2, 3].map(() => ({
          ref: -1,
          readonly: false,
          handles: [] as Array<[number, boolean]>,
        }));
        for (const o of ops) {
          if (o.op === "grant") {
            const s = slots[o.slot]!;
            if (s.ref >= 0) continue;
            s.ref = front.grants.grantAccess(0, o.slot, o.readonly);
            s.readonly = o.readonly;
          } else if (o.op === "map") {
            const s = slots[o.slot]!;
            if (s.ref < 0) continue;
            const h = back.mapper.map(guest.domid, s.ref, o.readonly);
            const ok = o.readonly || !s.readonly;
            expect(h >= 0).toBe(ok);
            if (ok) s.handles.push([h, o.readonly]);
          } else if (o.op === "unmap") {
            const all = slots.flatMap((s) => s.handles.map((x) => [s, x] as const));
            if (all.length === 0) continue;
            const [s, x] = all[o.pick % all.length]!;
            expect(back.mapper.unmap(x[0])).toBe(GNTST_okay);
            s.handles.splice(s.handles.indexOf(x), 1);
          } else if (o.op === "copy") {
            const s = slots[o.slot]!;
            if (s.ref < 0) continue;
            batch.clear();
            if (o.toGrant) batch.pushToGrant(0, 0, guest.domid, s.ref, 0, 64);
            else batch.pushFromGrant(guest.domid, s.ref, 0, 0, 0, 64);
            expect(back.mapper.copy(batch)).toBe(o.toGrant && s.readonly ? 1 : 0);
          } else {
            const s = slots[o.slot]!;
            if (s.ref < 0) continue;
            const ended = front.grants.endAccess(s.ref);
            expect(ended).toBe(s.handles.length === 0);
            if (ended) s.ref = -1;
          }
          for (const s of slots) {
            if (s.ref < 0) continue;
            const f = front.grants.flags(s.ref);
            expect((f & GTF_reading) !== 0).toBe(s.handles.length > 0);
            expect((f & GTF_writing) !== 0).toBe(s.handles.some(([, ro]) => !ro));
          }
        }
        for (const s of slots) for (const [h] of s.handles) expect(back.mapper.unmap(h)).toBe(GNTST_okay);
        for (const s of slots) if (s.ref >= 0) expect(front.grants.endAccess(s.ref)).toBe(true);
        expectNoLeaks(hv);
      }),
      { numRuns: 150 },
    );
  });
});
