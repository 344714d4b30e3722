/**
 * `pvscsi sim --out DIR` writes replay files and traces into DIR: a folder that does not exist, or
 * a file, is a usage error (exit 2, naming the option) before anything runs, not an internal error
 * after a violation was found.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (s: string) => out.push(s), err: (s: string) => err.push(s) }, out, err };
}

describe("pvscsi sim --out", () => {
  it("refuses a missing folder and a file, naming the option", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pvscsi-sim-out-"));
    const file = join(dir, "f");
    writeFileSync(file, "keep");
    for (const [out, why] of [
      [join(dir, "missing"), "folder does not exist"],
      [file, "is not a folder"],
    ] as const) {
      const c = capture();
      const args = ["sim", "--scenario", "abort-reset", "--mutant", "no-unmap-on-abort", "--seed", "1"];
      expect(await main([...args, "--out", out], c.io)).toBe(2);
      expect(c.err.join("")).toContain(`--out ${out}: ${why}`);
      expect(c.out.join("")).toBe("");
    }
  });
});
