import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BlkfrontDiskReport } from "../../src/blkfront/frontend-driver.js";
import type { GuestKernel } from "../../src/system/guest-kernel.js";
import type { PvLimits } from "../../src/system/kernel-api.js";
import { LocalSystem } from "../../src/system/single-thread.js";
import { Host } from "../../src/toolstack/host.js";

/**
 * Multi-page rings and blkfront's persistent grants, end to end through xl: a guest's command line
 * (`extra = "xen_blkfront.max_ring_page_order=N"`) picks the order as Linux's module parameter
 * does, capped by blkback's `max-ring-page-order`; the frontend's nodes, both ends' ring sizes and
 * data moved over more requests than the ring holds (so its indices wrap) are checked. Persistent
 * grants: the frontend's grants stay bounded over many requests when both ends offer them, and it
 * falls back to a grant per page when either end does not.
 */
const HOST = "[disk 0:0:0:0]\nsize = 8M\n";
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const tail = (s: string) => /sha256 ([0-9a-f]{64})/.exec(s)?.[1];

async function start(pvLimits?: PvLimits): Promise<{ sys: LocalSystem; host: Host }> {
  const sys = await LocalSystem.start({
    hostConfig: { text: HOST, source: "host.conf", baseDir: "/tmp" },
    ...(pvLimits ? { pvLimits } : {}),
  });
  return { sys, host: new Host(sys) };
}

/** Create a guest with xvda over the one dom0 disk; wait until its blkfront has the disk. */
async function guest(
  sys: LocalSystem,
  host: Host,
  name: string,
  extra: string,
): Promise<{ domid: number; disk: () => BlkfrontDiskReport }> {
  const cfg = `name = "${name}"\nextra = "${extra}"\ndisk = [ '0:0:0:0,raw,xvda,rw' ]\n`;
  const { domid } = await sys.run(host.create(cfg, `${name}.cfg`));
  const kernel = sys.kernelOf(domid) as GuestKernel;
  const disk = () => kernel.blkfront.disks()[0]!;
  for (let i = 0; i < 500 && disk()?.name !== "xvda"; i++) await sys.run(sleep(2));
  expect(disk().name).toBe("xvda");
  return { domid, disk };
}

/** Write `count` blocks of `bs` with a pattern, read them back; both hashes must agree. */
async function roundTrip(
  sys: LocalSystem,
  host: Host,
  name: string,
  bs: string,
  count: number,
  seed: number,
) {
  const w = await sys.run(
    host.guestCommand(name, [
      "dd",
      "of=/dev/xvda",
      `if=pattern:${seed}`,
      `bs=${bs}`,
      `count=${count}`,
      "status=hash",
    ]),
  );
  expect(w.exitCode, w.stderr).toBe(0);
  const r = await sys.run(
    host.guestCommand(name, ["dd", "if=/dev/xvda", `bs=${bs}`, `count=${count}`, "status=hash"]),
  );
  expect(r.exitCode, r.stderr).toBe(0);
  expect(tail(r.stdout)).toBeDefined();
  expect(tail(r.stdout)).toBe(tail(w.stdout));
}

describe("multi-page rings through xl (blkback offers max-ring-page-order 4)", () => {
  let sys: LocalSystem;
  let host: Host;
  beforeAll(async () => {
    ({ sys, host } = await start());
  });
  afterAll(async () => {
    if (sys) await sys.run(host.shutdown());
  });

  it("blkback advertises max-ring-page-order 4; a guest with no parameter uses one page (Linux's default)", async () => {
    const { domid, disk } = await guest(sys, host, "plain", "console=hvc0");
    const be = `/local/domain/0/backend/vbd/${domid}/51712`;
    const fe = `/local/domain/${domid}/device/vbd/51712`;
    expect(await sys.run(sys.xs.read(`${be}/max-ring-page-order`))).toBe("4");
    expect(await sys.run(sys.xs.tryRead(`${fe}/ring-page-order`))).toBeUndefined();
    expect(await sys.run(sys.xs.tryRead(`${fe}/ring-ref`))).toMatch(/^\d+$/);
    expect(disk().rings[0]).toMatchObject({ pages: 1, size: 32 });
    await sys.run(host.destroy("plain"));
  });

  for (const order of [0, 1, 2, 3, 4]) {
    it(`order ${order}: ring-ref0..${(1 << order) - 1}, ${32 << order} entries at both ends, data intact past a wrap`, async () => {
      const name = `order${order}`;
      const { domid, disk } = await guest(sys, host, name, `xen_blkfront.max_ring_page_order=${order}`);
      const fe = `/local/domain/${domid}/device/vbd/51712`;
      const pages = 1 << order;
      if (order === 0) {
        // One page: Linux blkfront writes neither ring-page-order nor ring-ref%u.
        expect(await sys.run(sys.xs.tryRead(`${fe}/ring-page-order`))).toBeUndefined();
        expect(await sys.run(sys.xs.tryRead(`${fe}/ring-ref`))).toMatch(/^\d+$/);
      } else {
        expect(await sys.run(sys.xs.read(`${fe}/ring-page-order`))).toBe(String(order));
        for (let i = 0; i < pages; i++)
          expect(await sys.run(sys.xs.tryRead(`${fe}/ring-ref${i}`))).toMatch(/^\d+$/);
        expect(await sys.run(sys.xs.tryRead(`${fe}/ring-ref${pages}`))).toBeUndefined();
        expect(await sys.run(sys.xs.tryRead(`${fe}/ring-ref`))).toBeUndefined();
      }
      expect(disk().rings[0]).toMatchObject({ pages, size: 32 << order });
      const report = (await sys.run(host.vbdReport())).find((r) => r.frontendDomid === domid)!;
      expect(report.ringPages).toBe(pages);
      // More single-page requests than the ring has entries: every index wraps at least once.
      const count = (32 << order) + 40;
      await roundTrip(sys, host, name, "4k", count, order + 1);
      const after = (await sys.run(host.vbdReport())).find((r) => r.frontendDomid === domid)!;
      expect(after.stats.requests).toBeGreaterThanOrEqual(2 * count);
      await sys.run(host.destroy(name));
    });
  }

  it("persistent grants: the frontend's grants stay bounded over many requests, data intact", async () => {
    const { domid, disk } = await guest(sys, host, "pers", "xen_blkfront.max_ring_page_order=1");
    const fe = `/local/domain/${domid}/device/vbd/51712`;
    expect(await sys.run(sys.xs.read(`${fe}/feature-persistent`))).toBe("1");
    expect(disk().rings[0]!.persistent).toBe(true);
    await roundTrip(sys, host, "pers", "4k", 200, 11);
    // 128 KiB requests: 32 data pages and an indirect page each, all from the pool.
    await roundTrip(sys, host, "pers", "128k", 40, 12);
    const warm = disk().rings[0]!;
    await roundTrip(sys, host, "pers", "128k", 40, 13);
    await roundTrip(sys, host, "pers", "4k", 300, 14);
    const r = disk().rings[0]!;
    // One request at a time: the pool is one request's pages (32 data + 1 indirect), each granted
    // once and kept mapped by blkback (indirect pages too, as Linux's); 680 more requests after
    // warm-up made no new grant.
    expect(r.poolPages).toBeGreaterThan(0);
    expect(r.poolPages).toBeLessThanOrEqual(33);
    expect(r.grantsIssued - warm.grantsIssued).toBe(0);
    expect(r.persistentGrants).toBe(r.poolPages);
    const report = (await sys.run(host.vbdReport())).find((x) => x.frontendDomid === domid)!;
    expect(report.stats.persistentGrants).toBeGreaterThan(0);
    expect(report.stats.requests).toBeGreaterThanOrEqual(1160);
    await sys.run(host.destroy("pers"));
  });

  it("persistent grants off in the guest (xen_blkfront.feature_persistent=0): a grant per page, none kept", async () => {
    const { domid, disk } = await guest(sys, host, "nopers", "xen_blkfront.feature_persistent=0");
    const fe = `/local/domain/${domid}/device/vbd/51712`;
    expect(await sys.run(sys.xs.read(`${fe}/feature-persistent`))).toBe("0");
    await roundTrip(sys, host, "nopers", "4k", 200, 21);
    const r = disk().rings[0]!;
    expect(r).toMatchObject({ persistent: false, poolPages: 0, persistentGrants: 0 });
    expect(r.grantsIssued).toBeGreaterThanOrEqual(400);
    const report = (await sys.run(host.vbdReport())).find((x) => x.frontendDomid === domid)!;
    expect(report.stats.persistentGrants).toBe(0);
    await sys.run(host.destroy("nopers"));
  });
});

describe("a backend with 2007's limits, and one offering order 2", () => {
  it("2007 (order 0, no persistent grants, no indirect): a guest asking for order 4 gets one page and a grant per page", async () => {
    const { sys, host } = await start({
      blkifRingPageOrder: 0,
      blkifPersistent: false,
      blkifIndirectSegments: 0,
    });
    try {
      const { domid, disk } = await guest(sys, host, "old", "xen_blkfront.max_ring_page_order=4");
      const be = `/local/domain/0/backend/vbd/${domid}/51712`;
      const fe = `/local/domain/${domid}/device/vbd/51712`;
      expect(await sys.run(sys.xs.read(`${be}/max-ring-page-order`))).toBe("0");
      expect(await sys.run(sys.xs.read(`${be}/feature-persistent`))).toBe("0");
      expect(await sys.run(sys.xs.tryRead(`${be}/feature-max-indirect-segments`))).toBeUndefined();
      // The guest offered persistent grants; the backend did not, so none are used.
      expect(await sys.run(sys.xs.read(`${fe}/feature-persistent`))).toBe("1");
      expect(await sys.run(sys.xs.tryRead(`${fe}/ring-page-order`))).toBeUndefined();
      expect(disk().rings[0]).toMatchObject({ pages: 1, size: 32, persistent: false, poolPages: 0 });
      await roundTrip(sys, host, "old", "4k", 100, 31);
      expect(disk().rings[0]!.grantsIssued).toBeGreaterThanOrEqual(200);
    } finally {
      await sys.run(host.shutdown());
    }
  });

  it("blkback offering order 2: a guest asking for 4 gets 4 pages (min of both)", async () => {
    const { sys, host } = await start({ blkifRingPageOrder: 2 });
    try {
      const { domid, disk } = await guest(sys, host, "mid", "xen_blkfront.max_ring_page_order=4");
      expect(await sys.run(sys.xs.read(`/local/domain/${domid}/device/vbd/51712/ring-page-order`))).toBe("2");
      expect(disk().rings[0]).toMatchObject({ pages: 4, size: 128 });
      await roundTrip(sys, host, "mid", "4k", 200, 41);
    } finally {
      await sys.run(host.shutdown());
    }
  });
});
