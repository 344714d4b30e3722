import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { type ChromeTrace, checkChromeTrace } from "../../src/trace/chrome-trace.js";

/**
 * A simulated run exported for Perfetto: virtual time, so the same seed writes the same file
 * byte for byte, and the trace is well formed (every request's flow crosses guest → dom0 → guest).
 */
const dir = mkdtempSync(join(tmpdir(), "pvscsi-sim-perfetto-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const quiet = { out: () => {}, err: () => {} };

describe("pvscsi sim --perfetto", () => {
  it("writes the same well-formed trace for the same seed", async () => {
    const a = join(dir, "a.json");
    const b = join(dir, "b.json");
    expect(await main(["sim", "--seed", "7", "--scenario", "io-verify", "--perfetto", a], quiet)).toBe(0);
    expect(await main(["sim", "--seed", "7", "--scenario", "io-verify", "--perfetto", b], quiet)).toBe(0);
    const text = readFileSync(a, "utf8");
    expect(readFileSync(b, "utf8")).toBe(text);
    const trace = JSON.parse(text) as ChromeTrace;
    const sum = checkChromeTrace(trace);
    expect(sum.problems).toEqual([]);
    expect(sum.requests).toBeGreaterThan(10);
    expect(sum.flows).toBe(sum.requests);
    expect(trace.traceEvents.some((e) => e.pid === 1 && e.name.startsWith("dispatch"))).toBe(true);
  });
});
