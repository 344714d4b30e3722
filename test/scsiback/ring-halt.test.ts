import { describe, expect, it } from "vitest";
import { RawFront } from "../../src/testing/index.js";
import { TestDisk } from "../_support/test-disk.js";

describe("a frontend whose req_prod overflows the ring halts that ring for good", () => {
  it("nothing more is consumed or answered, even after the index is put right", () => {
    const f = new RawFront();
    f.attach(0, 0, 0, new TestDisk());
    expect(f.send((q) => q.setCdb(Uint8Array.of(0, 0, 0, 0, 0, 0)))).toHaveLength(1);
    f.sring.reqProd = (f.front.reqProdPvt + 17) >>> 0; // claims 17 outstanding on a 16-slot ring
    expect(f.back.service()).toBe(false);
    expect(f.back.state).toBe("halted");
    expect(f.responses()).toEqual([]);
    f.sring.reqProd = f.front.reqProdPvt;
    f.send((q) => q.setCdb(Uint8Array.of(0, 0, 0, 0, 0, 0)));
    expect(f.responses()).toEqual([]);
    expect(f.back.service()).toBe(false);
  });

  it("an index that runs backwards is an overflow too", () => {
    const f = new RawFront();
    f.attach(0, 0, 0, new TestDisk());
    f.sring.reqProd = 0xfffffff0;
    f.back.service();
    expect(f.back.state).toBe("halted");
  });

  it("one halted vhost does not affect another guest's vhost", () => {
    const bad = new RawFront();
    const good = new RawFront();
    const disk = new TestDisk();
    bad.attach(0, 0, 0, disk);
    good.attach(0, 0, 0, disk);
    bad.sring.reqProd = 1000;
    bad.back.service();
    const [r] = good.send((q) => q.setCdb(Uint8Array.of(0, 0, 0, 0, 0, 0)));
    expect(bad.back.state).toBe("halted");
    expect(r!.rslt).toBe(0);
  });
});

describe("fairness: service() consumes at most its budget per call", () => {
  it("returns true with work left, and finishes on later calls", () => {
    const f = new RawFront({ budget: 4 });
    f.attach(0, 0, 0, new TestDisk());
    for (let i = 0; i < 16; i++)
      f.queue((q) => Object.assign(q, { rqid: i }).setCdb(Uint8Array.of(0, 0, 0, 0, 0, 0)));
    f.front.pushRequests();
    expect(f.back.service()).toBe(true);
    expect(f.responses()).toHaveLength(4);
    let calls = 1;
    for (let more = true; more; calls++) more = f.back.service();
    expect(calls).toBe(4); // 16 requests, 4 per call; the last call also re-arms req_event
    expect(f.responses().map((r) => r.rqid)).toEqual([4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
  });
});
