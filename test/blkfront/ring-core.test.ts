import { describe, expect, it } from "vitest";
import { queryVbdDisk } from "../../src/blkback/disk-query.js";
import { VbdRing } from "../../src/blkback/vbd-ring.js";
import { BlkCommand, BlkfrontRing } from "../../src/blkfront/blkfront-ring.js";
import { BLKIF_OP_READ, BLKIF_OP_WRITE, BLKIF_RSP_ERROR } from "../../src/blkif/constants.js";
import { BlkifResponse } from "../../src/blkif/response.js";
import { BackRing } from "../../src/ring/back-ring.js";
import { SharedRing } from "../../src/ring/shared-ring.js";
import { Disk } from "../../src/targets/sbc/disk.js";
import { FakeGuest } from "../../src/testing/fake-guest.js";
import { INFO } from "../blkback/_raw-blkfront.js";

/** blkfront's core against blkback's core over one ring page, and against a hostile backend. */
async function pair(maxIndirect: number) {
  const guest = new FakeGuest(1024);
  const frame = guest.allocFrame();
  const sring = new SharedRing(guest.bytes.buffer, frame * 4096, 4096, 112);
  let kicks = 0;
  const front = new BlkfrontRing({ memory: guest, grants: guest, notifier: { notify: () => kicks++ } });
  front.connect(sring);
  front.negotiate(maxIndirect);
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
    maxIndirectSegments: maxIndirect,
    persistent: false,
  });
  back.connect(sring);
  const io = async (op: number, sector: number, data: Uint8Array): Promise<number> => {
    const pages = Math.ceil(data.length / 4096);
    const c = new BlkCommand(pages);
    for (let i = 0; i < pages; i++) c.frames[i] = guest.allocFrame();
    c.frameCount = pages;
    c.length = data.length;
    c.op = op;
    c.sector = sector;
    if (op === BLKIF_OP_WRITE)
      for (let i = 0; i < pages; i++)
        guest.frameBytes(c.frames[i]!).set(data.subarray(i * 4096, (i + 1) * 4096));
    let status = 99;
    c.onComplete = (d) => {
      status = d.status;
    };
    expect(front.submit(c)).toBe("queued");
    while (back.service()) {}
    front.onEvent();
    if (op === BLKIF_OP_READ)
      for (let i = 0; i < pages; i++) data.set(guest.frameBytes(c.frames[i]!), i * 4096);
    return status;
  };
  return { guest, front, back, sring, io, mapper, kicks: () => kicks };
}

describe("blkfront's ring core", () => {
  it("splits nothing itself: 11 pages direct, 32 through an indirect page when offered, more is refused", async () => {
    const p = await pair(256);
    expect(p.front.maxSegments).toBe(32);
    const data = new Uint8Array(32 * 4096).map((_, i) => (i * 7) & 255);
    expect(await p.io(BLKIF_OP_WRITE, 64, data)).toBe(0);
    const back = new Uint8Array(32 * 4096);
    expect(await p.io(BLKIF_OP_READ, 64, back)).toBe(0);
    expect(back).toEqual(data);
    expect(p.back.stats.indirect).toBe(2);
    expect(p.mapper.mapped()).toBe(0);
    expect([...p.guest.grants.keys()]).toEqual([]); // every grant ended at completion
    const big = new BlkCommand(33);
    big.frameCount = 33;
    big.length = 33 * 4096;
    expect(p.front.submit(big)).toBe("error");
    const q = await pair(0);
    expect(q.front.maxSegments).toBe(11);
    expect(q.front.maxTransfer).toBe(44 * 1024);
  });

  it("a response with an id not in flight puts the ring in error and fails what is in flight", async () => {
    const p = await pair(0);
    const c = new BlkCommand(1);
    c.frames[0] = p.guest.allocFrame();
    c.frameCount = 1;
    c.length = 4096;
    let status = 99;
    c.onComplete = (d) => {
      status = d.status;
    };
    expect(p.front.submit(c)).toBe("queued");
    // A hostile backend answers id 17, which was never sent.
    const hostile = BackRing.init(p.sring);
    hostile.reqCons = 1;
    new BlkifResponse("x86_64").set(17, 0, BLKIF_OP_READ, 0).writeTo(hostile);
    hostile.pushResponses();
    p.front.onEvent();
    expect(p.front.state).toBe("error");
    expect(p.front.errorReason).toMatch(/incorrect id \(17\)/);
    expect(status).toBe(BLKIF_RSP_ERROR);
    expect(p.front.submit(c)).toBe("error");
  });

  it("a response producer more than a ring ahead is refused the same way", async () => {
    const p = await pair(0);
    p.sring.rspProd = 100;
    p.front.onEvent();
    expect(p.front.state).toBe("error");
    expect(p.front.errorReason).toMatch(/illegal number of responses/);
  });
});
