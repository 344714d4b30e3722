import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LESSON } from "../../src/ui/lesson.js";
import { LiveView } from "../../src/ui/live-view.js";
import { parseControl, serveLiveView, type UiServer } from "../../src/ui/server.js";

/**
 * The guided lesson reaches, for each step, the state its text explains (checked on the
 * observer's snapshot, not on the page); the controls' faults do what they say; and the server
 * answers bad controls with a message, never a crash.
 */
let view: LiveView;
let server: UiServer;
beforeAll(async () => {
  view = await LiveView.start({ lesson: true });
  server = await serveLiveView(view, 0);
}, 60_000);
afterAll(async () => {
  await server?.close();
  await view?.close();
});

describe("the guided lesson", () => {
  it("walks handshake, one request, completion, suppression, wrap-around and hot-plug", async () => {
    let s = view.snapshot();
    expect(s.lesson).toMatchObject({ index: 0, count: LESSON.length });
    expect(s.xenbus.some((e) => e.lane === "frontend" && e.state === 4)).toBe(true);
    expect(s.xenbus.some((e) => e.lane === "backend" && e.kind === "watch")).toBe(true);

    await view.control({ action: "lesson", index: 1 });
    s = view.snapshot();
    expect(s.ring!.slots.filter((x) => x.state === "published")).toHaveLength(1);
    expect(s.notify.at(-1)).toMatchObject({ side: "requests", sent: true });
    expect(s.ring!.lastRequest!.fields.find((f) => f.name === "cmd_len")!.value).toBe("10");
    expect(s.ring!.lastRequest!.hex[4]).toBe("28"); // READ(10)

    await view.control({ action: "lesson", index: 2 });
    s = view.snapshot();
    expect(s.ring!.front.rspCons).toBe(s.ring!.front.reqProdPvt);
    expect(s.ring!.shared.rspEvent).toBe((s.ring!.front.rspCons + 1) >>> 0);

    await view.control({ action: "lesson", index: 3 });
    s = view.snapshot();
    expect(s.notifyCounts.requests.suppressed + s.notifyCounts.responses.suppressed).toBeGreaterThan(0);

    await view.control({ action: "lesson", index: 4 });
    s = view.snapshot();
    expect(s.ring!.front.rspCons).toBeLessThan(1000); // wrapped past 0
    expect(s.ring!.invariant.holds).toBe(true);
    expect(s.notify.some((n) => n.oldIdx > 0xfffffff0)).toBe(true);

    await view.control({ action: "lesson", index: 5 });
    s = view.snapshot();
    const backend = s.xenbus.filter((e) => e.lane === "backend" && e.state !== null).map((e) => e.state);
    expect(backend).toContain(7);
    expect(backend).toContain(8);
    expect(s.log.some((l) => /scsi-attach .*: done/.test(l))).toBe(true);
  }, 60_000);
});

describe("controls", () => {
  it("revoking a mapped grant is refused (XSA-396), and a stalled backend does not run", async () => {
    await view.control({ action: "stall", on: true });
    await view.control({ action: "reads", count: 2, depth: 2 });
    const before = view.snapshot().ring!;
    await view.control({ action: "step", count: 5 });
    expect(view.snapshot().ring!.back!.reqCons).toBe(before.back!.reqCons);
    await view.control({ action: "stall", on: false });
    // Step until dom0 holds a data grant mapped, then try to revoke it.
    for (
      let i = 0;
      i < 20 && !view.snapshot().grants.some((g) => g.pins > 0 && g.owner.startsWith("rqid"));
      i++
    )
      await view.stepOnce();
    // A RAM disk completes within the step, so no data grant stays mapped between steps; the ring
    // page always is: ending access to it is refused, and the grant stays.
    await view.control({ action: "revoke" });
    expect(view.snapshot().log.at(-1)).toMatch(/revoke: gnttab_end_foreign_access_ref\(\d+\) refused/);
    expect(view.snapshot().grants.find((g) => g.owner === "ring page")?.pins).toBe(1);
    await view.control({ action: "step", count: 20 });
    const r = view.snapshot().ring!;
    expect(r.front.rspCons).toBe(r.front.reqProdPvt);
  });

  it("moves indices near 2^32 only when the ring is idle", async () => {
    await view.control({ action: "stall", on: true });
    await view.control({ action: "reads", count: 1, depth: 1 });
    await view.control({ action: "wrap" });
    expect(view.snapshot().log.at(-1)).toMatch(/must be idle/);
    await view.control({ action: "stall", on: false });
    await view.control({ action: "step", count: 10 });
  });

  it("rejects malformed controls with a message", async () => {
    expect(parseControl("{")).toBe("the body is not JSON");
    expect(parseControl("[]")).toBe("the body is not a JSON object");
    expect(parseControl('{"action":"explode"}')).toMatch(/unknown action "explode"/);
    expect(parseControl('{"action":"step","count":-1}')).toMatch(/count must be a non-negative integer/);
    expect(parseControl('{"action":"abort"}')).toBe("abort needs rqid");
    const post = (body: string) => fetch(`${server.url}api/control`, { method: "POST", body });
    const bad = await post('{"action":"select"}');
    expect(bad.status).toBe(400);
    expect(await bad.text()).toMatch(/select needs domid and devid/);
    const big = await post(`{"action":"step","pad":"${"x".repeat(5000)}"}`);
    expect(big.status).toBe(413);
    expect((await fetch(`${server.url}nope`)).status).toBe(404);
    const ok = await post('{"action":"step"}');
    expect(ok.status).toBe(200);
  });
});
