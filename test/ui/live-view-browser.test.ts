import { mkdirSync } from "node:fs";
import { join } from "node:path";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LiveView } from "../../src/ui/live-view.js";
import type { Snapshot } from "../../src/ui/observer.js";
import { serveLiveView, type UiServer } from "../../src/ui/server.js";
import { requireSystem } from "../_support/system.js";

/**
 * The live view in a real browser (Debian's Chromium, driven by puppeteer-core; never a
 * downloaded browser): the page loads and draws the connected ring; queued reads fill it as the
 * test clicks "step"; the indices and slot colours the page shows are the machine's real state
 * (read from /api/state); a fault (ABORT, a stalled backend) shows up; the lesson walks; and a
 * phone-sized screen still shows the ring. Screenshots go to artifacts/ui/.
 */
const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = join(process.cwd(), "artifacts", "ui");
const available = requireSystem({ pkg: "chromium", file: CHROMIUM });

let view: LiveView;
let server: UiServer;
let browser: Browser;
let page: Page;

async function state(): Promise<Snapshot> {
  const r = await fetch(`${server.url}api/state`);
  return (await r.json()) as Snapshot;
}

/** Wait until the page has drawn a snapshot at least as new as the machine's now. */
async function drawn(): Promise<Snapshot> {
  const s = await state();
  await page.waitForFunction(
    // Runs in the page; this file is compiled without DOM types.
    (seq: number) =>
      Number(
        (globalThis as unknown as { document: { body: { dataset: { seq?: string } } } }).document.body.dataset
          .seq ?? -1,
      ) >= seq,
    { timeout: 10_000 },
    s.seq,
  );
  return s;
}

/** Click a control and wait for the server's answer to its POST. */
async function click(id: string): Promise<void> {
  await Promise.all([page.waitForResponse((r) => r.url().endsWith("/api/control")), page.click(`#${id}`)]);
}

/** The page's indices table as { name: [raw, slot] }. */
async function shownIndices(): Promise<Record<string, [number, number]>> {
  return page.$$eval("#indices tr[data-index]", (rows) =>
    Object.fromEntries(
      rows.map((r) => [
        r.getAttribute("data-index"),
        [Number(r.querySelector(".raw")?.textContent), Number(r.querySelector(".slot")?.textContent)],
      ]),
    ),
  );
}

async function shownSlots(): Promise<string[]> {
  return page.$$eval("#ring g.slot", (gs) =>
    gs
      .sort((a, b) => Number(a.getAttribute("data-slot")) - Number(b.getAttribute("data-slot")))
      .map((g) => `${g.getAttribute("data-state")}:${g.querySelector("rect")?.getAttribute("class")}`),
  );
}

describe.runIf(available)("pvscsi ui in headless Chromium", () => {
  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    view = await LiveView.start();
    server = await serveLiveView(view, 0);
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-dev-shm-usage",
        "--no-first-run",
      ],
    });
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 1000 });
    await page.goto(server.url, { waitUntil: "domcontentloaded" });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await view?.close();
  });

  it("draws the connected ring with the machine's indices", async () => {
    const s = await drawn();
    expect(s.ring).not.toBeNull();
    const shown = await shownIndices();
    const ring = s.ring!;
    expect(shown.req_prod).toEqual([ring.shared.reqProd, ring.shared.reqProd & 15]);
    expect(shown.rsp_cons).toEqual([ring.front.rspCons, ring.front.rspCons & 15]);
    expect(await page.$eval("#invariant", (e) => e.className)).toBe("holds");
    expect(await page.$eval("#lanes", (e) => e.textContent)).toMatch(/4 Connected/);
  });

  it("fills the ring with queued reads and follows each step", async () => {
    await click("stall"); // keep dom0 from serving, so the requests stay on the ring
    await click("reads");
    let s = await drawn();
    expect(s.ring!.slots.filter((x) => x.state === "published").length).toBe(16);
    let slots = await shownSlots();
    expect(slots.filter((x) => x === "published:st-published")).toHaveLength(16);
    await page.screenshot({ path: join(ARTIFACTS, "ring-full.png"), fullPage: true });

    await click("stall"); // let the backend run again
    await drawn();
    for (let i = 0; i < 2; i++) {
      await click("step");
      s = await drawn();
    }
    // Whatever the steps did, the page shows exactly the machine's state.
    const shown = await shownIndices();
    const ring = s.ring!;
    expect(shown.req_cons).toEqual([ring.back!.reqCons, ring.back!.reqCons & 15]);
    expect(shown.rsp_prod).toEqual([ring.shared.rspProd, ring.shared.rspProd & 15]);
    slots = await shownSlots();
    expect(slots).toEqual(ring.slots.map((x) => `${x.state}:st-${x.state}`));
    expect(s.steps).toBeGreaterThanOrEqual(2);
    const notes = await page.$eval("#notify", (e) => e.textContent ?? "");
    expect(notes).toMatch(/\(new − event\) = \d+ [<≥] \(new − old\) = \d+/);
  });

  it("shows a fault: an ABORT of a request in flight gets its answer", async () => {
    // Drain what is left, then stall the backend with one read in flight and abort it.
    for (
      let i = 0;
      i < 50 && (await state()).ring!.front.reqProdPvt !== (await state()).ring!.front.rspCons;
      i++
    )
      await click("step");
    await click("stall");
    await click("read1");
    let s = await drawn();
    const inFlight = s.ring!.slots.find((x) => x.state === "published");
    expect(inFlight).toBeDefined();
    await page.$eval(
      "#abort-rqid",
      (e, v) => {
        (e as unknown as { value: string }).value = String(v);
      },
      inFlight!.rqid,
    );
    await click("abort");
    await click("stall");
    for (let i = 0; i < 10; i++) await click("step");
    s = await drawn();
    const log = await page.$eval("#log", (e) => e.textContent ?? "");
    expect(log).toMatch(new RegExp(`ABORT of rqid ${inFlight!.rqid}: rslt 0x`));
    expect(s.log.some((l) => /ABORT of rqid/.test(l))).toBe(true);
    await page.screenshot({ path: join(ARTIFACTS, "abort.png"), fullPage: true });
  });

  it("fits a phone-sized screen", async () => {
    await page.setViewport({ width: 390, height: 844, isMobile: true });
    await drawn();
    const box = await page.$eval("#ring", (e) => {
      const r = e.getBoundingClientRect();
      return { w: r.width, right: r.right };
    });
    expect(box.w).toBeGreaterThan(150);
    expect(box.right).toBeLessThanOrEqual(390);
    await page.screenshot({ path: join(ARTIFACTS, "phone.png"), fullPage: false });
    await page.setViewport({ width: 1280, height: 1000 });
  });
});
