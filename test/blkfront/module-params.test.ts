import { describe, expect, it } from "vitest";
import { parseBlkfrontParams } from "../../src/blkfront/module-params.js";

describe("xen_blkfront module parameters on a guest's command line", () => {
  it("reads max_ring_page_order and feature_persistent, '-' and '_' alike, the last one winning", () => {
    expect(parseBlkfrontParams("")).toEqual({});
    expect(parseBlkfrontParams("console=hvc0 xen_blkfront.max_ring_page_order=4")).toEqual({
      maxRingPageOrder: 4,
    });
    expect(
      parseBlkfrontParams("xen-blkfront.feature-persistent=0 xen_blkfront.feature_persistent=Y"),
    ).toEqual({
      persistent: true,
    });
    expect(parseBlkfrontParams("xen_blkfront.feature_persistent=off")).toEqual({ persistent: false });
  });

  it("ignores values the kernel would not parse (the parameter keeps its default)", () => {
    expect(
      parseBlkfrontParams("xen_blkfront.max_ring_page_order=-1 xen_blkfront.feature_persistent=maybe"),
    ).toEqual({});
    expect(parseBlkfrontParams("xen_blkfront.max_ring_page_order=x2")).toEqual({});
    expect(parseBlkfrontParams("blkfront.max_ring_page_order=2")).toEqual({});
  });
});
