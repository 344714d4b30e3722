import { describe, expect, it } from "vitest";
import {
  indirectPages,
  readIndirectSegments,
  readRequestSegments,
  SEGMENT_SIZE,
  SegmentList,
  VSCSIIF_SG_PER_PAGE,
  VscsiifRequest,
  writeIndirectSegments,
  writeRequestSegments,
} from "../../src/vscsiif/index.js";

describe("vscsiif segment codec", () => {
  it("writes indirect descriptors as struct scsiif_request_segment, little-endian, 8 bytes apart", () => {
    const list = new SegmentList(4);
    list.push(0xdeadbeef, 0x0102, 0x0304);
    list.push(7, 0, 4096);
    const mem = new Uint8Array(3 + 2 * SEGMENT_SIZE);
    writeIndirectSegments(mem, 3, list, 0, 2);
    expect(Array.from(mem.subarray(3))).toEqual([
      0xef, 0xbe, 0xad, 0xde, 0x02, 0x01, 0x04, 0x03, 7, 0, 0, 0, 0, 0, 0x00, 0x10,
    ]);
    const back = new SegmentList(4);
    readIndirectSegments(mem, 3, 2, back);
    expect(back.count).toBe(2);
    expect([back.gref[0], back.offset[0], back.length[0]]).toEqual([0xdeadbeef, 0x0102, 0x0304]);
    expect([back.gref[1], back.offset[1], back.length[1]]).toEqual([7, 0, 4096]);
  });

  it("round-trips in-ring seg[] through a request", () => {
    const list = new SegmentList(26);
    for (let i = 0; i < 26; i++) list.push(100 + i, i, 4096 - i);
    const req = new VscsiifRequest().clear();
    writeRequestSegments(req, list, 0, 26);
    const back = new SegmentList(26);
    readRequestSegments(req, 26, back);
    expect(Array.from(back.gref)).toEqual(Array.from(list.gref));
    expect(Array.from(back.offset)).toEqual(Array.from(list.offset));
    expect(Array.from(back.length)).toEqual(Array.from(list.length));
  });

  it("refuses to grow past its capacity and counts indirect pages as vscsiif.h does", () => {
    const list = new SegmentList(1);
    list.push(1, 0, 1);
    expect(() => list.push(2, 0, 1)).toThrow(/segment count/);
    expect(VSCSIIF_SG_PER_PAGE).toBe(512);
    expect([indirectPages(27), indirectPages(512), indirectPages(513)]).toEqual([1, 1, 2]);
  });
});
