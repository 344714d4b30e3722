import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  countStrings,
  decodeMessage,
  decodeStrings,
  encodeMessage,
  encodeStrings,
  MessageAssembler,
  oneArg,
  type XsMessage,
} from "../../src/xenstore/message.js";

/** xsd_sockmsg framing and payload string rules (xenstored's get_strings and onearg). */
describe("message codec", () => {
  it("lays the header out as four little-endian u32: type, req_id, tx_id, len", () => {
    const m = encodeMessage(2, 0x01020304, 7, new Uint8Array([0x61, 0]));
    expect([...m.subarray(0, 16)]).toEqual([2, 0, 0, 0, 4, 3, 2, 1, 7, 0, 0, 0, 2, 0, 0, 0]);
    expect(decodeMessage(m)).toMatchObject({ type: 2, reqId: 0x01020304, txId: 7 });
  });

  it("reassembles messages split at any byte boundary, copying them out of the source", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 6 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }),
        (payloads, cuts) => {
          const stream = Buffer.concat(payloads.map((p, i) => encodeMessage(i, i + 100, 0, p)));
          const src = new Uint8Array(stream);
          const a = new MessageAssembler();
          const got: XsMessage[] = [];
          let off = 0;
          for (let k = 0; off < src.length; k++) {
            const n = Math.min(cuts[k % cuts.length]!, src.length - off);
            let used = 0;
            while (used < n) {
              const r = a.push(src, off + used, n - used);
              used += r.taken;
              if (r.message) got.push(r.message);
            }
            off += n;
          }
          src.fill(0xee); // the messages are copies
          expect(got.map((m) => [m.type, m.reqId, [...m.payload]])).toEqual(
            payloads.map((p, i) => [i, i + 100, [...p]]),
          );
        },
      ),
    );
  });

  it("breaks for good on a length over 4096, and accepts exactly 4096", () => {
    const a = new MessageAssembler();
    const ok = encodeMessage(1, 1, 0, new Uint8Array(4096));
    expect(a.push(ok, 0, ok.length).message?.payload.length).toBe(4096);
    const header = encodeMessage(1, 1, 0, new Uint8Array(0));
    new DataView(header.buffer).setUint32(12, 4097, true);
    a.push(header, 0, 16);
    expect(a.state).toEqual({ kind: "too-long", len: 4097 });
    expect(a.push(ok, 0, ok.length).taken).toBe(0);
  });

  it("strings: NUL-terminated, trailing bytes ignored; onearg wants exactly one, NUL last", () => {
    expect(decodeStrings(encodeStrings(["a", "", "b\xff"]))).toEqual(["a", "", "b\xff"]);
    expect(decodeStrings(new Uint8Array([0x61, 0, 0x62]))).toEqual(["a"]);
    expect(countStrings(new Uint8Array([0, 1, 0]))).toBe(2);
    expect(oneArg(encodeStrings(["path"]))).toBe("path");
    expect(oneArg(new Uint8Array([0x61]))).toBeUndefined();
    expect(oneArg(new Uint8Array(0))).toBeUndefined();
    expect(oneArg(encodeStrings(["a", "b"]))).toBeUndefined();
  });
});
