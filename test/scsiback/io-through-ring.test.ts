import { describe, expect, it } from "vitest";
import { assertCleanedUp, Pair, rw10, sameBytes } from "../../src/testing/index.js";
import { DMA_FROM_DEVICE, DMA_TO_DEVICE } from "../../src/vscsiif/index.js";
import { TestDisk } from "../_support/test-disk.js";

function pattern(n: number, seed: number): Uint8Array {
  const a = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    a[i] = x & 0xff;
  }
  return a;
}

describe("I/O through the ring: front grants, back maps, device moves the data", () => {
  for (const [label, pages, offset] of [
    ["one page", 1, 0],
    ["26 pages, direct segments", 26, 0],
    ["27 pages, indirect segments", 27, 0],
    ["128 pages, indirect, the feature-sg-grant limit", 128, 0],
  ] as const) {
    it(`${label}: write then read back the same bytes, nothing left mapped`, () => {
      const p = new Pair();
      const disk = new TestDisk(4096);
      p.attach(0, 0, 0, disk);
      const len = pages * 4096 - offset;
      const blocks = len / 512;
      const data = pattern(len, pages);
      const wbuf = p.buffer(pages);
      p.write(wbuf, data, offset);
      const w = p.run(p.command([0, 0, 0], rw10(0x2a, 10, blocks), DMA_TO_DEVICE, wbuf, len, offset));
      expect([w.host, w.status, w.residual]).toEqual([0, 0, 0]);
      expect(sameBytes(disk.store.subarray(10 * 512, 10 * 512 + len), data)).toBe(true);

      const rbuf = p.buffer(pages);
      const r = p.run(p.command([0, 0, 0], rw10(0x28, 10, blocks), DMA_FROM_DEVICE, rbuf, len, offset));
      expect([r.host, r.status, r.residual]).toEqual([0, 0, 0]);
      expect(sameBytes(p.read(rbuf, len, offset), data)).toBe(true);
      expect(p.mapper.mapped()).toBe(0);
      expect(p.guest.grants.size).toBe(0);
      expect(p.back.inFlight).toBe(0);
      expect(p.front.inFlight).toBe(0);
      assertCleanedUp(p.guest);
    });
  }

  it("a buffer that starts mid-page spans one more page and still round-trips", () => {
    const p = new Pair();
    const disk = new TestDisk();
    p.attach(0, 0, 0, disk);
    const data = pattern(8192, 7);
    const buf = p.buffer(3);
    p.write(buf, data, 1000);
    expect(p.run(p.command([0, 0, 0], rw10(0x2a, 0, 16), DMA_TO_DEVICE, buf, 8192, 1000)).status).toBe(0);
    const out = p.buffer(3);
    expect(p.run(p.command([0, 0, 0], rw10(0x28, 0, 16), DMA_FROM_DEVICE, out, 8192, 1000)).status).toBe(0);
    expect(p.read(out, 8192, 1000)).toEqual(data);
  });

  it("data-out pages are granted read-only: the backend maps them read-only", () => {
    const p = new Pair();
    const disk = new TestDisk();
    p.attach(0, 0, 0, disk);
    const buf = p.buffer(1);
    const seen: boolean[] = [];
    const real = p.guest.grantAccess.bind(p.guest);
    p.guest.grantAccess = (frame, readonly) => {
      seen.push(readonly);
      return real(frame, readonly);
    };
    p.run(p.command([0, 0, 0], rw10(0x2a, 0, 8), DMA_TO_DEVICE, buf, 4096));
    p.run(p.command([0, 0, 0], rw10(0x28, 0, 8), DMA_FROM_DEVICE, buf, 4096));
    expect(seen).toEqual([true, false]);
  });

  it("a short transfer reports the residual", () => {
    const p = new Pair();
    p.attach(0, 0, 0, new TestDisk());
    const buf = p.buffer(1);
    const c = p.run(p.command([0, 0, 0], [0x12, 0, 0, 0, 96, 0], DMA_FROM_DEVICE, buf, 96));
    expect([c.status, c.residual]).toEqual([0, 60]);
  });

  it("CHECK CONDITION carries valid sense and no data", () => {
    const p = new Pair();
    p.attach(0, 0, 0, new TestDisk(16));
    const buf = p.buffer(1);
    const c = p.run(p.command([0, 0, 0], rw10(0x28, 100, 1), DMA_FROM_DEVICE, buf, 512));
    expect(c.status).toBe(2);
    expect(c.senseLength).toBe(18);
    expect([c.sense[2], c.sense[12], c.sense[13]]).toEqual([5, 0x21, 0]);
    expect(c.residual).toBe(512);
  });

  it("notification suppression: a burst of requests costs far fewer events than requests", () => {
    const p = new Pair();
    p.attach(0, 0, 0, new TestDisk());
    let completed = 0;
    const cmds = Array.from({ length: 16 }, () => {
      const c = p.command([0, 0, 0], [0, 0, 0, 0, 0, 0], 3);
      c.onComplete = () => completed++;
      return c;
    });
    for (let round = 0; round < 50; round++) {
      for (const c of cmds) expect(p.front.submit(c)).toBe("queued");
      p.front.flush();
      p.pump();
    }
    expect(completed).toBe(800);
    expect(p.frontNotifies).toBeLessThanOrEqual(50);
    expect(p.backNotifies).toBeLessThanOrEqual(50);
  });
});
