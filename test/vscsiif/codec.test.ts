import { describe, expect, it } from "vitest";
import { BackRing, FrontRing, SharedRing } from "../../src/ring/index.js";
import {
  DMA_FROM_DEVICE,
  makeRslt,
  rsltHost,
  rsltStatus,
  VSCSIIF_ACT_SCSI_CDB,
  VSCSIIF_ENTRY_SIZE,
  VSCSIIF_SG_GRANT,
  VscsiifRequest,
  VscsiifResponse,
  validSenseLength,
  XEN_VSCSIIF_RSLT_HOST_NO_CONNECT,
  XEN_VSCSIIF_RSLT_RESET_SUCCESS,
} from "../../src/vscsiif/index.js";

function pair() {
  const buf = new SharedArrayBuffer(4096);
  const sring = new SharedRing(buf, 0, 4096, VSCSIIF_ENTRY_SIZE);
  return { sring, front: FrontRing.init(sring), back: BackRing.init(sring), bytes: new Uint8Array(buf) };
}

describe("vscsiif request codec", () => {
  it("round-trips every field at vscsiif.h's offsets", () => {
    const { front, back, bytes } = pair();
    const r = new VscsiifRequest();
    r.clear();
    r.rqid = 0xbeef;
    r.act = VSCSIIF_ACT_SCSI_CDB;
    r.setCdb(Uint8Array.of(0x28, 0, 0, 0, 0x10, 0, 0, 0, 8, 0));
    r.timeoutPerCommand = 30;
    r.channel = 1;
    r.id = 2;
    r.lun = 3;
    r.refRqid = 0x1234;
    r.scDataDirection = DMA_FROM_DEVICE;
    r.nrSegments = VSCSIIF_SG_GRANT | 2;
    r.setSeg(0, 0xdeadbeef, 100, 3996);
    r.setSeg(25, 7, 0, 4096);
    r.writeTo(front);
    front.pushRequests();

    const slot = bytes.subarray(64, 64 + 252);
    const dv = new DataView(slot.buffer, slot.byteOffset, 252);
    expect(dv.getUint16(0, true)).toBe(0xbeef);
    expect(slot[2]).toBe(1);
    expect(slot[3]).toBe(10);
    expect(Array.from(slot.subarray(4, 20))).toEqual([0x28, 0, 0, 0, 0x10, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0]);
    expect([20, 22, 24, 26, 28].map((o) => dv.getUint16(o, true))).toEqual([30, 1, 2, 3, 0x1234]);
    expect(slot[30]).toBe(2);
    expect(slot[31]).toBe(0x82);
    expect([dv.getUint32(32, true), dv.getUint16(36, true), dv.getUint16(38, true)]).toEqual([
      0xdeadbeef, 100, 3996,
    ]);
    expect([dv.getUint32(32 + 25 * 8, true), dv.getUint16(36 + 25 * 8, true)]).toEqual([7, 0]);
    expect(Array.from(slot.subarray(240, 252))).toEqual(new Array(12).fill(0));

    const d = new VscsiifRequest().readFrom(back, 0);
    expect(d.toJSON()).toEqual({ ...r.toJSON() });
    expect(d.segGref(0)).toBe(0xdeadbeef);
    expect(d.segLength(25)).toBe(4096);
  });

  it("decodes only from its private copy: a guest rewriting the slot afterwards changes nothing (XSA-155)", () => {
    const { front, back, bytes } = pair();
    const r = new VscsiifRequest();
    r.clear();
    r.cmdLen = 6;
    r.nrSegments = 1;
    r.writeTo(front);
    const copy = new VscsiifRequest().readFrom(back, 0);
    bytes[64 + 3] = 200; // cmd_len
    bytes[64 + 31] = 0xff; // nr_segments
    expect(copy.cmdLen).toBe(6);
    expect(copy.nrSegments).toBe(1);
    expect(copy.entry.buffer).not.toBeInstanceOf(SharedArrayBuffer);
  });

  it("refuses a CDB longer than 16 bytes and a segment index outside 0..25", () => {
    const r = new VscsiifRequest();
    expect(() => r.setCdb(new Uint8Array(17))).toThrow(/at most 16/);
    expect(() => r.segGref(26)).toThrow(/segment index must be 0..25/);
    expect(() => r.setSeg(-1, 0, 0, 0)).toThrow(/segment index/);
  });

  it("setters store modulo the field width, as C assignment does", () => {
    const r = new VscsiifRequest();
    r.rqid = 0x1_0002;
    r.cmdLen = 0x101;
    expect([r.rqid, r.cmdLen]).toEqual([2, 1]);
  });
});

describe("vscsiif response codec", () => {
  it("round-trips at vscsiif.h's offsets, rslt as a signed int32", () => {
    const { front, back, bytes } = pair();
    const w = new VscsiifResponse();
    w.clear();
    w.rqid = 9;
    w.setSense(Uint8Array.of(0x70, 0, 5, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x24, 0), 14);
    w.rslt = -1;
    w.residualLen = 0xfffffff0;
    w.writeTo(back);
    back.pushResponses();
    const dv = new DataView(bytes.buffer, 64, 252);
    expect(dv.getUint16(0, true)).toBe(9);
    expect(bytes[64 + 3]).toBe(14);
    expect(bytes[64 + 4]).toBe(0x70);
    expect(dv.getInt32(100, true)).toBe(-1);
    expect(dv.getUint32(104, true)).toBe(0xfffffff0);
    const r = new VscsiifResponse().readFrom(front, 0);
    expect(r.rslt).toBe(-1);
    expect(r.toJSON()).toMatchObject({ rqid: 9, sense_len: 14, residual_len: 0xfffffff0 });
  });

  it("never carries bytes of an earlier response in the same slot (XSA-216)", () => {
    const { front, back, bytes } = pair();
    const w = new VscsiifResponse();
    // First response fills the sense buffer and reserved area of slot 0 with junk.
    w.clear();
    w.setSense(new Uint8Array(96).fill(0xab), 96);
    w.writeTo(back);
    bytes.fill(0xcd, 64 + 108, 64 + 252); // pretend someone scribbled on reserved[]
    // Wrap the ring back to slot 0 and write a short response.
    back.rspProdPvt = 16;
    w.clear();
    w.rqid = 1;
    w.setSense(Uint8Array.of(0x70, 0, 6, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x29, 0, 0, 0, 0, 0), 18);
    w.writeTo(back);
    expect(Array.from(bytes.subarray(64 + 4 + 18, 64 + 100)).every((b) => b === 0)).toBe(true);
    expect(Array.from(bytes.subarray(64 + 108, 64 + 252)).every((b) => b === 0)).toBe(true);
    void front;
  });

  it("refuses more than 96 bytes of sense", () => {
    expect(() => new VscsiifResponse().setSense(new Uint8Array(100), 97)).toThrow(/0..96/);
  });
});

describe("rslt helpers and sense validity", () => {
  it("pack and unpack host byte and status", () => {
    const r = makeRslt(XEN_VSCSIIF_RSLT_HOST_NO_CONNECT, 0x02);
    expect(r).toBe(0x00010002);
    expect([rsltHost(r), rsltStatus(r)]).toEqual([1, 2]);
    expect(rsltHost(0x0f070002)).toBe(7); // old driver-byte bits are ignored
    expect(rsltStatus(XEN_VSCSIIF_RSLT_RESET_SUCCESS)).toBe(0x02);
  });

  it("carries min(8 + additional length, 96) bytes of valid sense, none of invalid", () => {
    const fixed = new Uint8Array(252);
    fixed[0] = 0x70;
    fixed[7] = 10;
    expect(validSenseLength(fixed, 252)).toBe(18);
    fixed[7] = 244;
    expect(validSenseLength(fixed, 252)).toBe(96);
    expect(validSenseLength(fixed, 20)).toBe(20);
    fixed[0] = 0x72;
    fixed[7] = 0;
    expect(validSenseLength(fixed, 252)).toBe(8);
    fixed[0] = 0x00;
    expect(validSenseLength(fixed, 252)).toBe(0);
    expect(validSenseLength(fixed, 0)).toBe(0);
  });
});
