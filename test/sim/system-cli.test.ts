/**
 * `pvscsi sim --scenario system-…`: one seed prints the same summary every time (run twice,
 * identical), a system mutant's violation is shrunk and written as a replay file that
 * `--replay` reproduces, and `--list` names the system scenarios, fault classes and mutants.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { parseSystemReplay } from "../../src/sim/system-replay.js";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (s: string) => out.push(s), err: (s: string) => err.push(s) }, out, err };
}

describe("pvscsi sim over the whole system", () => {
  it("prints a deterministic summary for one seed (run twice, identical)", { timeout: 120_000 }, async () => {
    const a = capture();
    const b = capture();
    expect(await main(["sim", "--scenario", "system-hotplug", "--seed", "42"], a.io)).toBe(0);
    expect(await main(["sim", "--scenario", "system-hotplug", "--seed", "42"], b.io)).toBe(0);
    expect(a.out.join("")).toMatch(
      /^scenario system-hotplug, seed 42: \d+ steps.*\nno invariant violated\ntrace sha256 [0-9a-f]{64}\n$/s,
    );
    expect(b.out.join("")).toBe(a.out.join(""));
    const j = capture();
    expect(await main(["sim", "--scenario", "system-hotplug", "--seed", "42", "--json"], j.io)).toBe(0);
    const summary = JSON.parse(j.out.join("")) as { ok: boolean; traceDigest: string };
    expect(summary.ok).toBe(true);
    expect(a.out.join("")).toContain(summary.traceDigest);
  });

  it("shrinks a mutant's violation into a replay file that --replay reproduces", {
    timeout: 120_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "pvscsi-syssim-"));
    try {
      const c = capture();
      const code = await main(
        [
          "sim",
          "--scenario",
          "system-xs-conflicts",
          "--mutant",
          "no-eagain-retry",
          "--seed",
          "1",
          "--out",
          dir,
        ],
        c.io,
      );
      expect(code).toBe(1);
      const text = c.out.join("");
      expect(text).toMatch(/VIOLATION of toolstack at step \d+: xl [a-z-]+ g\d.* failed: .*EAGAIN/);
      expect(text).toMatch(/shrunk: seed 1 reproduces in \d+ steps/);
      const file = join(dir, "sim-system-xs-conflicts-1.replay.json");
      const replay = parseSystemReplay(readFileSync(file, "utf8"), file);
      expect(replay.invariant).toBe("toolstack");
      expect(replay.scenario.mutation).toBe("no-eagain-retry");
      const r = capture();
      expect(await main(["sim", "--replay", file], r.io)).toBe(1);
      expect(r.out.join("")).toContain("VIOLATION of toolstack");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("lists the system scenarios, fault classes and mutants; refuses an unknown mutant", async () => {
    const c = capture();
    expect(await main(["sim", "--list"], c.io)).toBe(0);
    const text = c.out.join("");
    for (const w of [
      "system-io",
      "system-all-faults",
      "xs-eagain",
      "hostile-xenstore-back",
      "destroy-leaves-nodes",
    ])
      expect(text).toContain(w);
    const e = capture();
    expect(await main(["sim", "--scenario", "system-io", "--mutant", "nope"], e.io)).toBe(2);
  });
});
