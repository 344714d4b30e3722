import { describe, expect, it } from "vitest";
import { queryVbdDisk } from "../../src/blkback/disk-query.js";
import { VbdRing } from "../../src/blkback/vbd-ring.js";
import { BlkCommand, BlkfrontRing } from "../../src/blkfront/blkfront-ring.js";
import { BLKIF_OP_READ, BLKIF_OP_WRITE } from "../../src/blkif/constants.js";
import { SharedRing } from "../../src/ring/shared-ring.js";
import { Disk } from "../../src/targets/sbc/disk.js";
import { FakeGuest } from "../../src/testing/fake-guest.js";
import { INFO } from "../blkback/_raw-blkfront.js";

/**
 * blkfront's persistent-grant pool and multi-page rings, core against core (blkfront's ring and
 * blkback's `VbdRing` over one guest's memory): data through pool pages, grants bounded, each
 * end's persistence switched off in turn, a 4-page ring filled and wrapped, and teardown.
 */
async function pair(opts: { front: boolean; back: boolean; pages?: number; maxIndirect?: number }) {
  const guest = new FakeGuest(4096);
  const pages = opts.pages ?? 1;
  const frame = guest.allocFrame();
  for (let i = 1; i < pages; i++) expect(guest.allocFrame()).toBe(frame + i); // consecutive frames
  const sring = new SharedRing(guest.bytes.buffer, frame * 4096, pages * 4096, 112);
  const deferred: Array<[number, number | undefined]> = [];
  const front = new BlkfrontRing({
    memory: guest,
    grants: guest,
    notifier: { notify: () => {} },
    deferEndAccess: (r, f) => deferred.push([r, f]),
  });
  front.connect(sring);
  front.negotiate(opts.maxIndirect ?? 256, opts.front);
  const disk = await queryVbdDisk(Disk.ram(INFO, 4096), 0, { id: 5, name: "t" }, { readonly: false });
  if (typeof disk === "string") throw new Error(disk);
  const mapper = guest.mapper();
  const back = new VbdRing({
    frontendDomid: 1,
    handle: 0,
    abi: "x86_64",
    disk,
    grants: mapper,
    notifier: { notify: () => {} },
    maxIndirectSegments: opts.maxIndirect ?? 256,
    persistent: opts.back,
  });
  back.connect(sring);
  /** A command over fresh frames, holding `data` for a write. */
  const command = (op: number, sector: number, length: number, data?: Uint8Array) => {
    const n = Math.ceil(length / 4096);
    const c = new BlkCommand(n);
    for (let i = 0; i < n; i++) c.frames[i] = guest.allocFrame();
    c.frameCount = n;
    c.length = length;
    c.op = op;
    c.sector = sector;
    c.status = 99;
    if (data)
      for (let i = 0; i < n; i++) guest.frameBytes(c.frames[i]!).set(data.subarray(i * 4096, (i + 1) * 4096));
    return c;
  };
  const read = (c: BlkCommand) => {
    const out = new Uint8Array(c.length);
    for (let i = 0; i < c.frameCount; i++)
      out.set(guest.frameBytes(c.frames[i]!).subarray(0, Math.min(4096, c.length - i * 4096)), i * 4096);
    for (let i = 0; i < c.frameCount; i++) guest.freeFrame(c.frames[i]!);
    return out;
  };
  const run = () => {
    while (back.service()) {}
    front.onEvent();
  };
  /** Write `data` at `sector`, read it back through fresh frames; returns what was read. */
  const roundTrip = (sector: number, data: Uint8Array): Uint8Array => {
    const w = command(BLKIF_OP_WRITE, sector, data.length, data);
    expect(front.submit(w)).toBe("queued");
    run();
    expect(w.status).toBe(0);
    read(w);
    const r = command(BLKIF_OP_READ, sector, data.length);
    // Stale bytes in the read's frames must be overwritten, not kept.
    for (let i = 0; i < r.frameCount; i++) guest.frameBytes(r.frames[i]!).fill(0xee);
    expect(front.submit(r)).toBe("queued");
    run();
    expect(r.status).toBe(0);
    return read(r);
  };
  return { guest, front, back, sring, mapper, deferred, command, read, run, roundTrip };
}

/** Byte equality of two buffers (vitest's deep equality is slow on large typed arrays). */
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
const pattern = (n: number, seed: number) =>
  new Uint8Array(n).map((_, i) => (i * 31 + seed * 7 + (i >> 12)) & 255);

describe("blkfront's persistent grants (core against blkback's core)", () => {
  it("data goes through pool pages, every length and segment count, and the grants stay bounded", async () => {
    const p = await pair({ front: true, back: true });
    expect(p.front.persistent).toBe(true);
    // Direct (≤ 11 pages) and indirect (32 pages) requests, partial last pages included.
    const lengths = [512, 4096, 4096 + 512, 11 * 4096, 20 * 4096 - 1024, 32 * 4096];
    for (const [k, len] of lengths.entries())
      expect(same(p.roundTrip(k * 256, pattern(len, k)), pattern(len, k))).toBe(true);
    const warm = p.front.grantsIssued;
    for (let k = 0; k < 50; k++) {
      const len = lengths[k % lengths.length]!;
      expect(same(p.roundTrip((k % 12) * 256, pattern(len, k + 100)), pattern(len, k + 100))).toBe(true);
    }
    // 100 more requests, no new grant: the pool's pages stay granted and blkback keeps them mapped.
    expect(p.front.grantsIssued - warm).toBe(0);
    expect(p.front.poolPages).toBeLessThanOrEqual(33);
    expect(p.guest.grants.size).toBe(p.front.poolPages);
    expect(p.back.stats.persistentGrants).toBe(p.mapper.mapped());
    // The request's own frames were never granted: the backend saw only pool pages.
    for (const g of p.guest.grants.values()) expect(g.readonly).toBe(false);
  });

  it("many requests in flight grow the pool to what they use at once, never past Linux's cap", async () => {
    const p = await pair({ front: true, back: true, maxIndirect: 0 });
    // 32 requests of 11 pages at once: 352 data pages (the cap is (11 + 1) × 32 = 384).
    const cmds = Array.from({ length: 32 }, (_, k) =>
      p.command(BLKIF_OP_WRITE, k * 88, 11 * 4096, pattern(11 * 4096, k)),
    );
    for (const c of cmds) expect(p.front.submit(c, false)).toBe("queued");
    p.front.push();
    p.run();
    for (const c of cmds) expect(c.status).toBe(0);
    expect(p.front.poolPages).toBe(352);
    expect(p.front.poolPages).toBeLessThanOrEqual((11 + 1) * 32);
    // blkback keeps at most 1056 per ring; these 352 it keeps, so a second pass grants nothing.
    const before = p.front.grantsIssued;
    for (const [k, c] of cmds.entries()) {
      p.read(c);
      const r = p.command(BLKIF_OP_READ, k * 88, 11 * 4096);
      expect(p.front.submit(r)).toBe("queued");
      p.run();
      expect(same(p.read(r), pattern(11 * 4096, k))).toBe(true);
    }
    expect(p.front.grantsIssued).toBe(before);
  });

  it("the backend not keeping them (feature off at its end): every grant is ended at completion, data intact", async () => {
    const p = await pair({ front: true, back: false });
    for (let k = 0; k < 10; k++)
      expect(same(p.roundTrip(k * 64, pattern(20 * 4096, k)), pattern(20 * 4096, k))).toBe(true);
    expect(p.mapper.mapped()).toBe(0);
    expect(p.guest.grants.size).toBe(0); // pool pages are ungranted between requests
    expect(p.front.persistentGrants).toBe(0);
    expect(p.front.poolPages).toBeLessThanOrEqual(21);
  });

  it("off at the frontend's end (so blkback, seeing no feature-persistent, maps per request): a grant per page per request", async () => {
    const p = await pair({ front: false, back: false });
    expect(p.front.persistent).toBe(false);
    for (let k = 0; k < 10; k++)
      expect(same(p.roundTrip(k * 64, pattern(8 * 4096, k)), pattern(8 * 4096, k))).toBe(true);
    expect(p.front.poolPages).toBe(0);
    expect(p.front.grantsIssued).toBe(10 * 2 * 8);
    expect(p.guest.grants.size).toBe(0);
  });

  it("teardown: after blkback disconnects, the pool's grants end and its frames are freed", async () => {
    const p = await pair({ front: true, back: true });
    p.roundTrip(0, pattern(32 * 4096, 1));
    expect(p.guest.grants.size).toBeGreaterThan(0);
    // Releasing while blkback still maps them defers the ends, naming the frames to free.
    const early = await pair({ front: true, back: true });
    early.roundTrip(0, pattern(4096, 2));
    early.front.releaseFrames();
    expect(early.deferred.length).toBe(1);
    expect(early.deferred[0]![1]).toBeGreaterThan(0);
    p.back.beginDrain();
    p.back.disconnect();
    expect(p.mapper.mapped()).toBe(0);
    p.front.releaseFrames();
    expect(p.deferred).toEqual([]);
    expect(p.guest.grants.size).toBe(0);
    expect(p.front.poolPages).toBe(0);
  });
});

describe("a multi-page ring, core against core", () => {
  it("4 pages: 128 entries at both ends; 128 requests fill it, the 129th waits, and indices wrap", async () => {
    const p = await pair({ front: true, back: true, pages: 4 });
    expect(p.sring.size).toBe(128);
    expect(p.front.size).toBe(128);
    const cmds = Array.from({ length: 128 }, (_, k) =>
      p.command(BLKIF_OP_WRITE, k * 8, 4096, pattern(4096, k)),
    );
    for (const c of cmds) expect(p.front.submit(c, false)).toBe("queued");
    const extra = p.command(BLKIF_OP_WRITE, 128 * 8, 4096, pattern(4096, 128));
    expect(p.front.submit(extra)).toBe("busy");
    p.front.push();
    p.run();
    for (const c of cmds) expect(c.status).toBe(0);
    // Three more rounds of 100: the private and shared indices pass 128 and wrap.
    for (let round = 0; round < 3; round++) {
      const rs = Array.from({ length: 100 }, (_, k) => p.command(BLKIF_OP_READ, k * 8, 4096));
      for (const r of rs) expect(p.front.submit(r, false)).toBe("queued");
      p.front.push();
      p.run();
      for (const [k, r] of rs.entries()) {
        expect(r.status).toBe(0);
        expect(same(p.read(r), pattern(4096, k))).toBe(true);
      }
    }
    expect(p.sring.reqProd).toBe(428);
    expect(p.sring.rspProd).toBe(428);
  });
});
