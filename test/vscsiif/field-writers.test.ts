import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BackRing, FrontRing, SharedRing } from "../../src/ring/index.js";
import {
  VSCSIIF_ENTRY_SIZE,
  VscsiifRequest,
  VscsiifResponse,
  writeResponse,
} from "../../src/vscsiif/index.js";

function ring(): { sring: SharedRing; front: FrontRing; back: BackRing } {
  const sring = new SharedRing(new SharedArrayBuffer(4096), 0, 4096, VSCSIIF_ENTRY_SIZE);
  const front = FrontRing.init(sring);
  return { sring, front, back: BackRing.init(sring) };
}

function slot(sring: SharedRing, idx: number): Uint8Array {
  const off = sring.slotOffset(idx);
  return sring.bytes.slice(off, off + VSCSIIF_ENTRY_SIZE);
}

describe("ring entries written field by field, every byte still written (XSA-216)", () => {
  it("writeResponse writes exactly the bytes a cleared, filled and copied response has, over any old slot", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        fc.uint8Array({ minLength: 96, maxLength: 96 }),
        fc.integer({ min: 0, max: 96 }),
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 40 }),
        (rqid, rslt, residual, sense, senseLength, garbage, idx) => {
          const { sring, back } = ring();
          back.rspProdPvt = idx;
          sring.bytes.fill(garbage, sring.slotOffset(idx), sring.slotOffset(idx) + VSCSIIF_ENTRY_SIZE);
          writeResponse(back, rqid, rslt, sense, senseLength, residual);
          expect(back.rspProdPvt).toBe(idx + 1);

          const ref = new VscsiifResponse().clear();
          ref.rqid = rqid;
          ref.rslt = rslt;
          ref.residualLen = residual;
          if (senseLength > 0) ref.setSense(sense, senseLength);
          expect(slot(sring, idx)).toEqual(ref.entry.bytes);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("writeResponse refuses a sense length past 96 or past the sense given", () => {
    const { back } = ring();
    expect(() => writeResponse(back, 1, 0, new Uint8Array(128), 97, 0)).toThrow(/sense length/);
    expect(() => writeResponse(back, 1, 0, new Uint8Array(8), 9, 0)).toThrow(/sense length/);
    expect(back.rspProdPvt).toBe(0);
  });

  it("writeFieldsTo copies the header and the used segments and zeroes the rest, with no clear in between", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 26 }),
        fc.integer({ min: 0, max: 26 }),
        fc.integer({ min: 0, max: 255 }),
        (earlier, used, garbage) => {
          const { sring, front } = ring();
          const req = new VscsiifRequest();
          // An earlier request left segments in the private copy.
          for (let i = 0; i < earlier; i++) req.setSeg(i, 0xdead0000 + i, 0x0fff, 0x1000);
          sring.bytes.fill(garbage);
          req.rqid = 3;
          req.act = 1;
          req.setCdb(Uint8Array.of(0x28, 0, 0, 0, 0, 1, 0, 0, 8, 0));
          req.timeoutPerCommand = 30;
          req.channel = 1;
          req.id = 2;
          req.lun = 3;
          req.refRqid = 0;
          req.scDataDirection = 2;
          req.nrSegments = used;
          for (let i = 0; i < used; i++) req.setSeg(i, 100 + i, i, 4096 - i);
          req.writeFieldsTo(front, used);
          expect(front.reqProdPvt).toBe(1);

          const expected = new VscsiifRequest().clear();
          expected.entry.bytes.set(req.entry.bytes.subarray(0, 32));
          for (let i = 0; i < used; i++) expected.setSeg(i, 100 + i, i, 4096 - i);
          expect(slot(sring, 0)).toEqual(expected.entry.bytes);
        },
      ),
      { numRuns: 100 },
    );
  });
});
