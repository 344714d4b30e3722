import { describe, expect, it } from "vitest";
import { runVbdDemo } from "../../src/toolstack/vbd-demo.js";

describe("pvscsi demo --vbd", () => {
  it("passes every check: one image through vscsiif and blkif, hot-unplug, clean destroy", async () => {
    const report = await runVbdDemo();
    expect(Object.entries(report.checks).filter(([, ok]) => !ok)).toEqual([]);
    expect(Object.keys(report.checks).length).toBeGreaterThanOrEqual(7);
  }, 60_000);
});
