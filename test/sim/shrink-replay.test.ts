import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { parseReplay } from "../../src/sim/replay.js";
import { runSim, shrink } from "../../src/sim/run.js";
import { SCENARIOS } from "../../src/sim/scenario.js";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (s: string) => out.push(s), err: (s: string) => err.push(s) }, out, err };
}

describe("a violation is shrunk and replays exactly", () => {
  it("shrinking keeps the invariant and shortens the run", () => {
    const s = { ...SCENARIOS["abort-reset"]!, mutation: { backend: "no-unmap-on-abort" as const } };
    const failing = runSim(s, 1);
    expect(failing.violation?.invariant).toBe("grants-at-completion");
    const small = shrink(s, failing, { budget: 200 });
    expect(small.violation?.invariant).toBe("grants-at-completion");
    expect(small.choices.length).toBeLessThan(failing.choices.length);
    expect(small.stats.steps).toBeLessThanOrEqual(failing.stats.steps);
    // The shrunk sequence is itself a deterministic replay.
    expect(runSim(s, small.choices).trace).toEqual(small.trace);
  });

  it("pvscsi sim writes a replay file and a trace on a violation, and --replay reproduces it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pvscsi-sim-"));
    const c = capture();
    const code = await main(
      ["sim", "--scenario", "io-verify", "--mutant", "reuse-rqid", "--seed", "2", "--out", dir],
      c.io,
    );
    expect(code).toBe(1);
    const text = c.out.join("");
    expect(text).toContain("seed 2");
    expect(text).toMatch(/VIOLATION of rqid-unique at step \d+/);
    expect(text).toMatch(/shrunk: seed 2 reproduces in \d+ steps/);
    const file = join(dir, "sim-io-verify-2.replay.json");
    const replay = parseReplay(readFileSync(file, "utf8"), file);
    expect(replay.invariant).toBe("rqid-unique");
    expect(readFileSync(join(dir, "sim-io-verify-2.trace.txt"), "utf8")).toContain("VIOLATION rqid-unique");
    const r = capture();
    expect(await main(["sim", "--replay", file], r.io)).toBe(1);
    expect(r.out.join("")).toContain("VIOLATION of rqid-unique");
  });

  it("a malformed replay file is a clear error", () => {
    expect(() => parseReplay("{}", "x.json")).toThrow(/not a pvscsi sim replay file/);
    expect(() => parseReplay("nope", "x.json")).toThrow(/not JSON/);
  });
});
