import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalSystem } from "../../src/system/single-thread.js";
import { Host } from "../../src/toolstack/host.js";

/**
 * A hostile blkfront's xenstore: garbage in the nodes blkback reads at connect (an unknown
 * `protocol`, a `ring-ref` that is not a number or not granted, too many queues, a multi-page ring
 * it did not offer). Each gets Linux blkback's answer — `xenbus_dev_fatal` with its message, the
 * VBD Closing — and a well-behaved guest on the same backend keeps working throughout.
 */
const HOST = "[disk 0:0:0:0]\nsize = 4M\n[disk 0:0:1:0]\nsize = 4M\n";
let sys: LocalSystem;
let host: Host;
let bad: number;
beforeAll(async () => {
  sys = await LocalSystem.start({ hostConfig: { text: HOST, source: "host.conf", baseDir: "/tmp" } });
  host = new Host(sys);
  await sys.run(host.create(`name = "good"\ndisk = [ '0:0:0:0,raw,xvda,rw' ]\n`, "good.cfg"));
  bad = (await sys.run(host.create(`name = "bad"\n`, "bad.cfg"))).domid;
});
afterAll(async () => {
  if (sys) await sys.run(host.shutdown());
});

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A VBD whose frontend directory (not one blkfront watches) holds what the test writes. */
async function hostileVbd(
  devid: number,
  frontend: Record<string, string>,
): Promise<{ state: string; error: string }> {
  const xs = sys.xs;
  const be = `/local/domain/0/backend/vbd/${bad}/${devid}`;
  const fe = `/local/domain/${bad}/hostile/${devid}`;
  await sys.run(
    xs.transaction(async (tx) => {
      for (const [k, v] of Object.entries(frontend)) await tx.write(`${fe}/${k}`, v);
      await tx.write(`${fe}/state`, "1");
      await tx.write(`${be}/frontend`, fe);
      await tx.write(`${be}/frontend-id`, String(bad));
      await tx.write(`${be}/online`, "1");
      await tx.write(`${be}/params`, "0:0:1:0");
      await tx.write(`${be}/mode`, "w");
      await tx.write(`${be}/state`, "1");
    }),
  );
  for (let i = 0; i < 200 && (await sys.run(xs.tryRead(`${be}/state`))) !== "2"; i++) await sys.run(sleep(2));
  await sys.run(xs.write(`${fe}/state`, "3")); // Initialised: the backend reads the garbage now
  let state = "";
  for (let i = 0; i < 200; i++) {
    state = (await sys.run(xs.tryRead(`${be}/state`))) ?? "";
    if (state === "5" || state === "4") break;
    await sys.run(sleep(2));
  }
  const error = (await sys.run(xs.tryRead(`/local/domain/0/error/backend/vbd/${bad}/${devid}/error`))) ?? "";
  return { state, error };
}

async function goodStillWorks(seed: number): Promise<void> {
  const w = await sys.run(
    host.guestCommand("good", [
      "dd",
      "of=/dev/xvda",
      `if=pattern:${seed}`,
      "bs=64k",
      "count=4",
      "status=hash",
    ]),
  );
  const r = await sys.run(
    host.guestCommand("good", ["dd", "if=/dev/xvda", "bs=64k", "count=4", "status=hash"]),
  );
  expect(w.exitCode, w.stderr).toBe(0);
  expect(r.stdout.slice(-72)).toBe(w.stdout.slice(-72));
}

describe("blkback against garbage in a frontend's xenstore", () => {
  it("an unknown protocol → fatal 'unknown fe protocol'", async () => {
    const r = await hostileVbd(51712, { protocol: "ia64-abi", "ring-ref": "8", "event-channel": "3" });
    expect(r).toEqual({ state: "5", error: "38 unknown fe protocol ia64-abi" });
    await goodStillWorks(1);
  });

  it("a ring-ref that is not a number → fatal, naming the nodes", async () => {
    const r = await hostileVbd(51728, { "ring-ref": "0x10; rm -rf", "event-channel": "3" });
    expect(r.state).toBe("5");
    expect(r.error).toMatch(/^22 reading \/local\/domain\/\d+\/hostile\/51728\/ring-ref$/);
    await goodStillWorks(2);
  });

  it("a ring-ref never granted → fatal mapping error (GNTST_general_error or bad_gntref)", async () => {
    const r = await hostileVbd(51744, { "ring-ref": "4000", "event-channel": "3" });
    expect(r.state).toBe("5");
    expect(r.error).toMatch(/mapping in shared page 4000 from domain \d+$/);
    await goodStillWorks(3);
  });

  it("more queues than offered, or a multi-page ring → fatal", async () => {
    const q = await hostileVbd(51760, { "multi-queue-num-queues": "99", "queue-0/ring-ref": "8" });
    expect(q.error).toMatch(/Invalid number of requested queues 99, max 4/);
    const o = await hostileVbd(51776, { "ring-page-order": "5", "ring-ref0": "8", "event-channel": "3" });
    expect(o.error).toMatch(/^22 requested ring page order 5 exceed max:4$/);
    await goodStillWorks(4);
  });

  it("a multi-page ring with a ref missing, a ref never granted, or scattered frames → fatal, nothing left mapped", async () => {
    const ctx = sys.hv.context(bad);
    // Four consecutive frames, granted to dom0: a valid order-2 ring but for what each case breaks.
    const first = ctx.frames.allocContiguous(4);
    expect(first).toBeGreaterThanOrEqual(0);
    const refs = [0, 1, 2, 3].map((i) => ctx.grants.grantAccess(0, first + i, false));
    const missing = await hostileVbd(51808, {
      "ring-page-order": "2",
      "ring-ref0": String(refs[0]),
      "ring-ref1": String(refs[1]),
      "ring-ref3": String(refs[3]),
      "event-channel": "3",
    });
    expect(missing).toEqual({
      state: "5",
      error: expect.stringMatching(/^22 reading .*\/51808\/ring-ref2$/),
    });
    const ungranted = await hostileVbd(51824, {
      "ring-page-order": "2",
      "ring-ref0": String(refs[0]),
      "ring-ref1": String(refs[1]),
      "ring-ref2": "4000",
      "ring-ref3": String(refs[3]),
      "event-channel": "3",
    });
    expect(ungranted.error).toMatch(/mapping in shared page 4000 from domain \d+$/);
    // Every page granted, but page 2 is not the frame after page 1 (pages 1 and 2 swapped).
    const scattered = await hostileVbd(51840, {
      "ring-page-order": "2",
      "ring-ref0": String(refs[0]),
      "ring-ref1": String(refs[2]),
      "ring-ref2": String(refs[1]),
      "ring-ref3": String(refs[3]),
      "event-channel": "3",
    });
    expect(scattered.error).toMatch(
      /^22 mapping in shared page \d+ from domain \d+: ring pages must be consecutive/,
    );
    // The same page twice is not a ring either.
    const twice = await hostileVbd(51856, {
      "ring-page-order": "1",
      "ring-ref0": String(refs[0]),
      "ring-ref1": String(refs[0]),
      "event-channel": "3",
    });
    expect(twice.error).toMatch(/ring pages must be consecutive/);
    // A readable ring-page-order, even 0, means ring-ref%u (Linux's multi_ref): a lone ring-ref is missing.
    const zero = await hostileVbd(51888, {
      "ring-page-order": "0",
      "ring-ref": String(refs[0]),
      "event-channel": "3",
    });
    expect(zero.error).toMatch(/^22 reading .*\/51888\/ring-ref0$/);
    // Each failed map was undone at once: the frontend can end every grant.
    for (const r of refs) expect(ctx.grants.endAccess(r)).toBe(true);
    for (let i = 0; i < 4; i++) ctx.frames.free(first + i);
    await goodStillWorks(6);
  });

  it("removing the hostile VBDs (libxl's cleanup after its timeout) leaves nothing of them mapped", async () => {
    for (const devid of [51712, 51728, 51744, 51760, 51776, 51808, 51824, 51840, 51856, 51888])
      await sys.run(sys.xs.rm(`/local/domain/0/backend/vbd/${bad}/${devid}`));
    await sys.run(sleep(20));
    const dom0 = sys.hv.reports().find((r) => r.domid === 0)!;
    // xenstored (dom0's vcpu 1) keeps the guest's xenstore page, reserved ref 1; nothing else.
    expect(dom0.heldMappings.filter((m) => m.granter === bad && m.ref >= 8)).toEqual([]);
    await goodStillWorks(5);
  });
});

describe("a hand-built multi-queue frontend", () => {
  it("two queues (queue-N/ring-ref, queue-N/event-channel) each get a ring; I/O on both", async () => {
    const { BlkfrontRing, BlkCommand } = await import("../../src/blkfront/blkfront-ring.js");
    const { SharedRing } = await import("../../src/ring/shared-ring.js");
    const ctx = sys.hv.context(bad);
    const xs = sys.xs;
    const devid = 51792;
    const be = `/local/domain/0/backend/vbd/${bad}/${devid}`;
    const fe = `/local/domain/${bad}/hostile/${devid}`;
    const rings: InstanceType<typeof BlkfrontRing>[] = [];
    const nodes: Record<string, string> = { "multi-queue-num-queues": "2", protocol: "x86_64-abi" };
    for (let q = 0; q < 2; q++) {
      const frame = ctx.frames.alloc();
      ctx.page(frame).fill(0);
      const ref = ctx.grants.grantAccess(0, frame, false);
      const port = ctx.evtchn.allocUnbound(0);
      const ring = new BlkfrontRing({
        memory: {
          bytes: ctx.memory,
          allocFrame: () => ctx.frames.alloc(),
          freeFrame: (f) => ctx.frames.free(f),
        },
        grants: {
          grantAccess: (f, ro) => ctx.grants.grantAccess(0, f, ro),
          endAccess: (r) => ctx.grants.endAccess(r),
        },
        notifier: { notify: () => ctx.evtchn.send(port) },
        polling: true,
      });
      ring.connect(new SharedRing(ctx.memory.buffer, ctx.memory.byteOffset + frame * 4096, 4096, 112));
      rings.push(ring);
      nodes[`queue-${q}/ring-ref`] = String(ref);
      nodes[`queue-${q}/event-channel`] = String(port);
    }
    await sys.run(
      xs.transaction(async (tx) => {
        for (const [k, v] of Object.entries(nodes)) await tx.write(`${fe}/${k}`, v);
        await tx.write(`${fe}/state`, "3");
        await tx.write(`${be}/frontend`, fe);
        await tx.write(`${be}/frontend-id`, String(bad));
        await tx.write(`${be}/online`, "1");
        await tx.write(`${be}/params`, "0:0:1:0");
        await tx.write(`${be}/mode`, "w");
        await tx.write(`${be}/state`, "1");
      }),
    );
    let state = "";
    for (let i = 0; i < 300 && state !== "4"; i++) {
      state = (await sys.run(xs.tryRead(`${be}/state`))) ?? "";
      if (state !== "4") await sys.run(sleep(2));
    }
    expect(state).toBe("4");
    const report = (await sys.run(host.vbdReport())).find(
      (r) => r.frontendDomid === bad && r.devid === devid,
    )!;
    expect(report.rings).toBe(2);
    for (const [q, ring] of rings.entries()) {
      const c = new BlkCommand(1);
      c.frames[0] = ctx.frames.alloc();
      c.frameCount = 1;
      c.length = 4096;
      c.op = 1;
      c.sector = q * 8;
      let status = 99;
      c.onComplete = (d) => {
        status = d.status;
      };
      expect(ring.submit(c)).toBe("queued");
      for (let i = 0; i < 200 && status === 99; i++) {
        await sys.run(sleep(2));
        ring.onEvent();
      }
      expect(status).toBe(0);
    }
    await sys.run(xs.rm(be));
  });
});

describe("a hand-built multi-queue frontend with multi-page rings", () => {
  it("two queues of order 1 (queue-N/ring-ref0, ring-ref1): both mapped as 64-entry rings; I/O on both past a wrap", async () => {
    const { BlkfrontRing, BlkCommand } = await import("../../src/blkfront/blkfront-ring.js");
    const { SharedRing } = await import("../../src/ring/shared-ring.js");
    const ctx = sys.hv.context(bad);
    const xs = sys.xs;
    const devid = 51872;
    const be = `/local/domain/0/backend/vbd/${bad}/${devid}`;
    const fe = `/local/domain/${bad}/hostile/${devid}`;
    const rings: InstanceType<typeof BlkfrontRing>[] = [];
    const nodes: Record<string, string> = {
      "multi-queue-num-queues": "2",
      "ring-page-order": "1",
      protocol: "x86_64-abi",
    };
    for (let q = 0; q < 2; q++) {
      const frame = ctx.frames.allocContiguous(2);
      ctx.page(frame).fill(0);
      ctx.page(frame + 1).fill(0);
      const port = ctx.evtchn.allocUnbound(0);
      const ring = new BlkfrontRing({
        memory: {
          bytes: ctx.memory,
          allocFrame: () => ctx.frames.alloc(),
          freeFrame: (f) => ctx.frames.free(f),
        },
        grants: {
          grantAccess: (f, ro) => ctx.grants.grantAccess(0, f, ro),
          endAccess: (r) => ctx.grants.endAccess(r),
        },
        notifier: { notify: () => ctx.evtchn.send(port) },
        polling: true,
      });
      ring.connect(new SharedRing(ctx.memory.buffer, ctx.memory.byteOffset + frame * 4096, 8192, 112));
      expect(ring.size).toBe(64);
      rings.push(ring);
      for (let i = 0; i < 2; i++)
        nodes[`queue-${q}/ring-ref${i}`] = String(ctx.grants.grantAccess(0, frame + i, false));
      nodes[`queue-${q}/event-channel`] = String(port);
    }
    await sys.run(
      xs.transaction(async (tx) => {
        for (const [k, v] of Object.entries(nodes)) await tx.write(`${fe}/${k}`, v);
        await tx.write(`${fe}/state`, "3");
        await tx.write(`${be}/frontend`, fe);
        await tx.write(`${be}/frontend-id`, String(bad));
        await tx.write(`${be}/online`, "1");
        await tx.write(`${be}/params`, "0:0:1:0");
        await tx.write(`${be}/mode`, "w");
        await tx.write(`${be}/state`, "1");
      }),
    );
    let state = "";
    for (let i = 0; i < 300 && state !== "4"; i++) {
      state = (await sys.run(xs.tryRead(`${be}/state`))) ?? "";
      if (state !== "4") await sys.run(sleep(2));
    }
    expect(state).toBe("4");
    const report = (await sys.run(host.vbdReport())).find(
      (r) => r.frontendDomid === bad && r.devid === devid,
    )!;
    expect(report).toMatchObject({ rings: 2, ringPages: 2 });
    // 80 one-page reads on each ring (more than its 64 entries), in batches of 20.
    const data = ctx.frames.alloc();
    for (const ring of rings) {
      for (let batch = 0; batch < 4; batch++) {
        let done = 0;
        for (let k = 0; k < 20; k++) {
          const c = new BlkCommand(1);
          c.frames[0] = data;
          c.frameCount = 1;
          c.length = 4096;
          c.op = 0;
          c.sector = k * 8;
          c.onComplete = (d) => {
            if (d.status === 0) done++;
          };
          expect(ring.submit(c, false)).toBe("queued");
        }
        ring.push();
        for (let i = 0; i < 300 && done < 20; i++) {
          await sys.run(sleep(2));
          ring.onEvent();
        }
        expect(done).toBe(20);
      }
    }
    const after = (await sys.run(host.vbdReport())).find(
      (r) => r.frontendDomid === bad && r.devid === devid,
    )!;
    // vbdReport adds up both rings.
    expect(after.stats.reads).toBe(160);
    await sys.run(xs.rm(be));
  });
});
