import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { type ChromeTrace, checkChromeTrace } from "../../src/trace/chrome-trace.js";

/**
 * `pvscsi demo --trace FILE` with real workers: each kernel thread records into its own buffer
 * and the export merges them on one clock. The file loads back as a well-formed trace with both
 * domains named, every request's flow crossing from the guest to dom0 and back, and xenbus states.
 */
const dir = mkdtempSync(join(tmpdir(), "pvscsi-demo-trace-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (s: string) => out.push(s), err: (s: string) => err.push(s) }, out, err };
}

describe("pvscsi demo --trace", () => {
  it("writes a Perfetto-loadable trace of the whole demo across threads", async () => {
    const file = join(dir, "demo.json");
    const c = capture();
    expect(await main(["demo", "--trace", file], c.io)).toBe(0);
    expect(c.err.join("")).toMatch(/trace: \d+ events \(\d+ requests, \d+ flows/);
    const trace = JSON.parse(readFileSync(file, "utf8")) as ChromeTrace;
    const sum = checkChromeTrace(trace);
    expect(sum.problems).toEqual([]);
    expect(sum.requests).toBeGreaterThan(100);
    expect(sum.flows).toBe(sum.requests);
    const names = trace.traceEvents
      .filter((e) => e.name === "process_name")
      .map((e) => (e.args as { name: string }).name);
    expect(names).toEqual(["dom0 (Domain-0)", "dom1 (backup)"]);
    // A request's hops are in two processes: submitted by the guest, dispatched by dom0.
    const hops = trace.traceEvents.filter((e) => e.bind_id === "0x1");
    expect(new Set(hops.map((e) => e.pid))).toEqual(new Set([1, 2]));
    expect(trace.traceEvents.some((e) => e.cat === "xenbus" && e.name === "xenbus Connected (4)")).toBe(true);
    expect(trace.traceEvents.some((e) => e.cat === "notify" && /suppressed/.test(e.name))).toBe(true);
  });

  it("refuses a trace file in a folder that does not exist, before doing anything", async () => {
    const c = capture();
    expect(await main(["demo", "--trace", join(dir, "no/such/dir/t.json")], c.io)).toBe(2);
    expect(c.err.join("")).toMatch(/--trace .*does not exist/);
  });
});
