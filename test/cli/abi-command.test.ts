import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (s: string) => out.push(s), err: (s: string) => err.push(s) }, out, err };
}

describe("pvscsi abi", () => {
  it("--json has its documented stable shape", async () => {
    const c = capture();
    expect(await main(["abi", "--json"], c.io)).toBe(0);
    const doc = JSON.parse(c.out.join(""));
    expect(doc.structs.vscsiif_request.size).toBe(252);
    expect(doc.structs.vscsiif_request.fields.rqid).toEqual({ offset: 0, size: 2 });
    expect(Object.keys(doc.structs.vscsiif_request.fields)).toEqual([
      "rqid",
      "act",
      "cmd_len",
      "cmnd",
      "timeout_per_command",
      "channel",
      "id",
      "lun",
      "ref_rqid",
      "sc_data_direction",
      "nr_segments",
      "seg",
      "reserved",
    ]);
    expect(doc.structs.vscsiif_response.fields.rslt).toEqual({ offset: 100, size: 4 });
    expect(doc.structs.scsiif_request_segment).toEqual({
      size: 8,
      fields: {
        gref: { offset: 0, size: 4 },
        offset: { offset: 4, size: 2 },
        length: { offset: 6, size: 2 },
      },
    });
    expect(doc.structs.vscsiif_sring).toEqual({
      size: 64,
      fields: {
        req_prod: { offset: 0, size: 4 },
        req_event: { offset: 4, size: 4 },
        rsp_prod: { offset: 8, size: 4 },
        rsp_event: { offset: 12, size: 4 },
      },
    });
    expect(doc.ringEntries).toEqual({
      vscsiif: { "1": 16, "2": 32, "4": 64, "8": 128 },
      blkif: { "1": 32, "2": 64, "4": 128, "8": 256 },
    });
    expect(doc.structs.blkif_request.fields.id).toEqual({ offset: 8, size: 8 });
  });

  it("prints a pahole-like text table by default", async () => {
    const c = capture();
    expect(await main(["abi"], c.io)).toBe(0);
    const text = c.out.join("");
    expect(text).toMatch(/struct vscsiif_request \{.*252 bytes/);
    expect(text).toMatch(/uint8_t\s+cmnd\[16\];\s+\/\* offset\s+4\s+size\s+16 \*\//);
    expect(text).toContain("1 page: 16, 2 pages: 32, 4 pages: 64, 8 pages: 128");
  });

  it("rejects unknown options and arguments with exit status 2 naming them", async () => {
    const c = capture();
    expect(await main(["abi", "--jsn"], c.io)).toBe(2);
    expect(c.err.join("")).toMatch(/--jsn/);
    const d = capture();
    expect(await main(["abi", "extra"], d.io)).toBe(2);
    expect(d.err.join("")).toMatch(/'extra'/);
  });

  it("unknown commands are a usage error", async () => {
    const c = capture();
    expect(await main(["frobnicate"], c.io)).toBe(2);
    expect(c.err.join("")).toMatch(/unknown command 'frobnicate'/);
  });
});
