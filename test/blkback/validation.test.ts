import { describe, expect, it } from "vitest";
import {
  BLKIF_DISCARD_SECURE,
  BLKIF_OP_DISCARD,
  BLKIF_OP_FLUSH_DISKCACHE,
  BLKIF_OP_INDIRECT,
  BLKIF_OP_READ,
  BLKIF_OP_RESERVED_1,
  BLKIF_OP_WRITE,
  BLKIF_OP_WRITE_BARRIER,
  BLKIF_RSP_EOPNOTSUPP,
  BLKIF_RSP_ERROR,
  BLKIF_RSP_OKAY,
} from "../../src/blkif/constants.js";
import { writeIndirectSegment } from "../../src/blkif/request.js";
import { Disk } from "../../src/targets/sbc/disk.js";
import { INFO, RawBlkFront } from "./_raw-blkfront.js";

const OK = BLKIF_RSP_OKAY;
const ERR = BLKIF_RSP_ERROR;

describe("blkback reads and writes through the guest's grants", () => {
  for (const abi of ["x86_64", "x86_32"] as const) {
    it(`${abi}: a WRITE then a READ move the same bytes; id (u64) is echoed`, async () => {
      const f = await RawBlkFront.create({ abi });
      const src = f.page(true, 0xab);
      f.guest.frameBytes(src.frame)[512] = 0x11;
      const w = f.send((r) => {
        r.operation = BLKIF_OP_WRITE;
        r.nrSegments = 1;
        r.setId(2 ** 40 + 7);
        r.sectorNumber = 100;
        r.setSegment(0, src.ref, 0, 7);
      });
      expect(w).toEqual([{ id: 2 ** 40 + 7, operation: BLKIF_OP_WRITE, status: OK }]);
      const dst = f.page(false, 0);
      const r = f.send((q) => {
        q.operation = BLKIF_OP_READ;
        q.nrSegments = 1;
        q.setId(9);
        q.sectorNumber = 101;
        q.setSegment(0, dst.ref, 1, 1); // one sector, into the page's second sector
      });
      expect(r).toEqual([{ id: 9, operation: BLKIF_OP_READ, status: OK }]);
      const page = f.guest.frameBytes(dst.frame);
      expect(page[512]).toBe(0x11);
      expect(page[513]).toBe(0xab);
      expect(page[0]).toBe(0);
      expect(f.mapper.mapped()).toBe(0);
    });
  }
});

describe("blkback answers what Linux blkback answers, and touches nothing", () => {
  it("nr_segments 0 on READ, or above 11, → ERROR", async () => {
    const f = await RawBlkFront.create();
    expect(f.send((r) => Object.assign(r, { operation: BLKIF_OP_READ, nrSegments: 0 }))[0]!.status).toBe(ERR);
    expect(f.send((r) => Object.assign(r, { operation: BLKIF_OP_WRITE, nrSegments: 12 }))[0]!.status).toBe(
      ERR,
    );
    expect(f.back.stats.rejected["bad-segments"]).toBe(2);
  });

  it("first_sect > last_sect, or last_sect > 7 → ERROR, nothing left mapped", async () => {
    const f = await RawBlkFront.create();
    const p = f.page(false);
    const q = f.page(false);
    for (const [first, last] of [
      [3, 2],
      [0, 8],
      [7, 255],
    ]) {
      const [r] = f.send((req) => {
        req.operation = BLKIF_OP_READ;
        req.nrSegments = 2;
        req.setSegment(0, p.ref, 0, 7);
        req.setSegment(1, q.ref, first!, last!);
      });
      expect(r!.status).toBe(ERR);
    }
    expect(f.mapper.mapped()).toBe(0);
  });

  it("sectors past the end (or wrapping 2^64) → ERROR; the last sector is fine", async () => {
    const f = await RawBlkFront.create();
    const p = f.page(false);
    const read = (sector: number, last = 7) =>
      f.send((r) => {
        r.operation = BLKIF_OP_READ;
        r.nrSegments = 1;
        r.sectorNumber = sector;
        r.setSegment(0, p.ref, 0, last);
      })[0]!.status;
    expect(read(2048 - 8)).toBe(OK);
    expect(read(2048 - 7)).toBe(ERR);
    const wrap = f.send((r) => {
      r.operation = BLKIF_OP_READ;
      r.nrSegments = 1;
      r.setSectorNumber64(0xffffffff, 0xfffffffc);
      r.setSegment(0, p.ref, 0, 7);
    });
    expect(wrap[0]!.status).toBe(ERR);
    expect(read(2048 - 1, 0)).toBe(OK);
    expect(f.back.stats.rejected["out-of-range"]).toBe(2);
  });

  it("a bad grant ref → ERROR, earlier segments unmapped", async () => {
    const f = await RawBlkFront.create();
    const p = f.page(false);
    const [r] = f.send((req) => {
      req.operation = BLKIF_OP_READ;
      req.nrSegments = 2;
      req.setSegment(0, p.ref, 0, 7);
      req.setSegment(1, 0xdeadbeef, 0, 7);
    });
    expect(r!.status).toBe(ERR);
    expect(f.mapper.mapped()).toBe(0);
    expect(f.back.stats.rejected["grant-map-failed"]).toBe(1);
  });

  it("a READ into a page granted read-only cannot be mapped → ERROR, the page is untouched", async () => {
    const f = await RawBlkFront.create();
    const p = f.page(true, 0x5a);
    const [r] = f.send((req) => {
      req.operation = BLKIF_OP_READ;
      req.nrSegments = 1;
      req.setSegment(0, p.ref, 0, 7);
    });
    expect(r!.status).toBe(ERR);
    expect(f.guest.frameBytes(p.frame).every((b) => b === 0x5a)).toBe(true);
  });

  it("unknown operations (RESERVED_1, 7, 255) → EOPNOTSUPP, operation echoed", async () => {
    const f = await RawBlkFront.create();
    for (const op of [BLKIF_OP_RESERVED_1, 7, 255]) {
      expect(f.send((r) => Object.assign(r, { operation: op }).setId(op))).toEqual([
        { id: op, operation: op, status: BLKIF_RSP_EOPNOTSUPP },
      ]);
    }
  });

  it("writes, flushes and discards on a read-only VBD → ERROR; reads work", async () => {
    const f = await RawBlkFront.create({ readonly: true });
    const p = f.page(true);
    const w = f.send((r) => {
      r.operation = BLKIF_OP_WRITE;
      r.nrSegments = 1;
      r.setSegment(0, p.ref, 0, 7);
    });
    expect(w[0]!.status).toBe(ERR);
    expect(f.send((r) => Object.assign(r, { operation: BLKIF_OP_FLUSH_DISKCACHE }))[0]!.status).toBe(ERR);
    expect(
      f.send((r) => Object.assign(r, { operation: BLKIF_OP_DISCARD, discardNrSectors: 8 }))[0]!.status,
    ).toBe(ERR);
    const q = f.page(false);
    const rd = f.send((r) => {
      r.operation = BLKIF_OP_READ;
      r.nrSegments = 1;
      r.setSegment(0, q.ref, 0, 7);
    });
    expect(rd[0]!.status).toBe(OK);
    expect(f.back.stats.rejected["read-only"]).toBe(3);
  });

  it("FLUSH_DISKCACHE with no segments and WRITE_BARRIER with data → OKAY", async () => {
    const f = await RawBlkFront.create();
    expect(f.send((r) => Object.assign(r, { operation: BLKIF_OP_FLUSH_DISKCACHE }))).toEqual([
      { id: 0, operation: BLKIF_OP_FLUSH_DISKCACHE, status: OK },
    ]);
    const p = f.page(true, 7);
    const b = f.send((r) => {
      r.operation = BLKIF_OP_WRITE_BARRIER;
      r.nrSegments = 1;
      r.sectorNumber = 8;
      r.setSegment(0, p.ref, 0, 7);
    });
    expect(b[0]!.status).toBe(OK);
    expect(f.back.stats.flushes).toBe(2);
  });

  it("DISCARD: in range → OKAY (secure flag ignored without discard-secure); past the end → ERROR", async () => {
    const f = await RawBlkFront.create();
    const d = (sector: number, n: number, flag = 0) =>
      f.send((r) => {
        r.operation = BLKIF_OP_DISCARD;
        r.sectorNumber = sector;
        r.discardNrSectors = n;
        r.discardFlag = flag;
      })[0]!.status;
    expect(d(0, 2048)).toBe(OK);
    expect(d(8, 8, BLKIF_DISCARD_SECURE)).toBe(OK);
    expect(d(2040, 9)).toBe(ERR);
  });

  it("DISCARD on a disk without UNMAP → EOPNOTSUPP", async () => {
    const f = await RawBlkFront.create({ device: Disk.ram(INFO, 2048) });
    expect(f.back.disk.discard).toBe(false);
    expect(
      f.send((r) => Object.assign(r, { operation: BLKIF_OP_DISCARD, discardNrSectors: 8 }))[0]!.status,
    ).toBe(BLKIF_RSP_EOPNOTSUPP);
  });

  it("INDIRECT: 32 segments through an indirect page; bad indirect_op and too many segments → ERROR", async () => {
    const f = await RawBlkFront.create();
    const ind = f.page(true);
    const pages = Array.from({ length: 32 }, (_, i) => f.page(true, i + 1));
    const mem = f.guest.frameBytes(ind.frame);
    for (const [i, p] of pages.entries()) writeIndirectSegment(mem, i * 8, p.ref, 0, 7);
    const ok = f.send((r) => {
      r.operation = BLKIF_OP_INDIRECT;
      r.indirectOp = BLKIF_OP_WRITE;
      r.indirectNrSegments = 32;
      r.sectorNumber = 0;
      r.setIndirectGref(0, ind.ref);
    });
    expect(ok[0]).toEqual({ id: 0, operation: BLKIF_OP_INDIRECT, status: OK });
    const back = f.page(false);
    f.send((r) => {
      r.operation = BLKIF_OP_READ;
      r.nrSegments = 1;
      r.sectorNumber = 31 * 8;
      r.setSegment(0, back.ref, 0, 7);
    });
    expect(f.guest.frameBytes(back.frame)[0]).toBe(32);
    const badOp = f.send((r) => {
      r.operation = BLKIF_OP_INDIRECT;
      r.indirectOp = BLKIF_OP_FLUSH_DISKCACHE;
      r.indirectNrSegments = 1;
      r.setIndirectGref(0, ind.ref);
    });
    expect(badOp[0]!.status).toBe(ERR);
    const tooMany = f.send((r) => {
      r.operation = BLKIF_OP_INDIRECT;
      r.indirectOp = BLKIF_OP_READ;
      r.indirectNrSegments = 257;
      r.setIndirectGref(0, ind.ref);
    });
    expect(tooMany[0]!.status).toBe(ERR);
    expect(f.mapper.mapped()).toBe(0);
  });

  it("INDIRECT when indirect segments are not offered (2007's blkback) → EOPNOTSUPP", async () => {
    const f = await RawBlkFront.create({ maxIndirectSegments: 0 });
    const [r] = f.send((q) =>
      Object.assign(q, { operation: BLKIF_OP_INDIRECT, indirectOp: 0, indirectNrSegments: 1 }),
    );
    expect(r!.status).toBe(BLKIF_RSP_EOPNOTSUPP);
  });

  it("a producer index more than a ring ahead halts the ring for good, answering nothing", async () => {
    const f = await RawBlkFront.create();
    f.sring.reqProd = 1000;
    expect(f.back.service()).toBe(false);
    expect(f.back.state).toBe("halted");
    expect(f.back.haltReason).toMatch(/bogus ring requests/);
    expect(f.responses()).toEqual([]);
  });

  it("a full ring of 32 garbage requests gets 32 answers, never more than the ring", async () => {
    const f = await RawBlkFront.create();
    for (let i = 0; i < 32; i++)
      f.queue((r) => {
        for (let b = 0; b < r.entry.size; b++) r.entry.bytes[b] = (i * 37 + b * 11) & 255;
      });
    f.kick();
    const rs = await f.settle();
    expect(rs.length).toBe(32);
    expect(f.back.inFlight).toBe(0);
    expect(f.mapper.mapped()).toBe(0);
  });
});

describe("persistent grants", () => {
  it("a gref reused by the frontend is mapped once and kept until disconnect", async () => {
    const f = await RawBlkFront.create({ persistent: true });
    const p = f.page(false);
    for (let i = 0; i < 3; i++)
      f.send((r) => {
        r.operation = BLKIF_OP_READ;
        r.nrSegments = 1;
        r.setSegment(0, p.ref, 0, 7);
      });
    expect(f.back.stats.persistentGrants).toBe(1);
    expect(f.mapper.mapped()).toBe(1);
    expect(f.back.beginDrain()).toBe(true);
    f.back.disconnect();
    expect(f.mapper.mapped()).toBe(0);
  });
});
