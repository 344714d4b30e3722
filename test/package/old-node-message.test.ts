import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * On a Node.js older than `engines`, the bin says so in one line and exits 1, instead of dying of
 * a SyntaxError inside the CLI. The old Node is simulated: a preload reports another version to
 * the bin, which is what the bin reads.
 */
const bin = fileURLToPath(new URL("../../bin/pvscsi.cjs", import.meta.url));

function runAs(version: string) {
  const dir = mkdtempSync(join(tmpdir(), "pvscsi-oldnode-"));
  try {
    const preload = join(dir, "version.cjs");
    writeFileSync(
      preload,
      `Object.defineProperty(process, "versions", { value: { ...process.versions, node: ${JSON.stringify(version)} } });\n`,
    );
    return spawnSync(process.execPath, ["--require", preload, bin, "--help"], { encoding: "utf8" });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("the pvscsi bin on an old Node.js", () => {
  it.each(["18.19.0", "20.14.1", "16.20.2"])(
    "names the version it needs on Node %s, in one line, exit 1",
    (v) => {
      const r = runAs(v);
      expect(r.status).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).toBe(`pvscsi: needs Node.js >= 20.15 (this is ${v})\n`);
    },
  );
});
