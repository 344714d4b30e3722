import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { GCC, XEN_HEADERS } from "../_support/cc.js";
import { requireSystem } from "../_support/system.js";
import { CRingDriver } from "./vectors/c-driver.js";
import { TsRingDriver } from "./vectors/ts-driver.js";

/**
 * Cross-implementation vectors, as MirageOS's shared-memory-ring does: each scenario runs with
 * Xen's io/ring.h macros (ring-driver.c, compiled here by gcc) and with pvscsi's ring; the
 * transcripts (every notify decision, work flag, consumed entry and page image) must be identical.
 * Mixed runs put one end in C and the other in TypeScript on the same page, handing the page
 * bytes across at every step, so each side consumes what the other produced.
 */

const dir = fileURLToPath(new URL("./vectors/", import.meta.url));
const scenarios = readdirSync(dir)
  .filter((f) => f.endsWith(".ring"))
  .map((f) => ({ name: f, lines: scriptLines(readFileSync(`${dir}${f}`, "utf8")) }));

function scriptLines(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}

type Impl = "c" | "ts";
const SHARED_ONLY = new Set(["poke", "dump", "sindices", "load"]);
const BOTH = new Set(["init", "start"]);

function endOf(cmd: string): "front" | "back" | "shared" | "both" {
  if (BOTH.has(cmd)) return "both";
  if (SHARED_ONLY.has(cmd)) return "shared";
  return cmd.startsWith("f") ? "front" : "back";
}

async function run(lines: readonly string[], front: Impl, back: Impl, c: CRingDriver): Promise<string[]> {
  const ts = new TsRingDriver();
  const transcript: string[] = [];
  // The canonical page is TypeScript's; C gets it before and returns it after each step it runs.
  const inC = async (line: string): Promise<string[]> => {
    await c.exec(`load ${ts.exec("dump")[0]!.slice(5)}`);
    const out = await c.exec(line);
    const [dump] = await c.exec("dump");
    ts.exec(`load ${dump!.slice(5)}`);
    return out;
  };
  for (const line of lines) {
    const cmd = line.split(/\s+/)[0]!;
    const end = endOf(cmd);
    let out: string[];
    if (end === "both") {
      out = ts.exec(line);
      if (front === "c" || back === "c") await inC(line);
    } else if (end === "shared") {
      out = front === "c" && back === "c" ? await inC(line) : ts.exec(line);
    } else {
      out = (end === "front" ? front : back) === "c" ? await inC(line) : ts.exec(line);
    }
    transcript.push(`> ${line}`, ...out);
  }
  return transcript;
}

describe.runIf(requireSystem(XEN_HEADERS, GCC))("ring vectors: pvscsi against Xen's ring.h macros", () => {
  const c = new CRingDriver();
  afterAll(() => c.close());

  for (const { name, lines } of scenarios) {
    it(`${name}: identical bytes and decisions in all four front/back pairings`, async () => {
      const reference = await run(lines, "c", "c", c);
      expect(reference.some((l) => l.startsWith("error"))).toBe(false);
      expect(await run(lines, "ts", "ts", c)).toEqual(reference);
      expect(await run(lines, "c", "ts", c)).toEqual(reference);
      expect(await run(lines, "ts", "c", c)).toEqual(reference);
    });
  }

  it("the worked example of the reference gives notify 1, 0, work 0 with req_event 3, then notify 1", async () => {
    const t = await run(
      ["init", "freq 1", "fpushn", "freq 2", "fpushn", "bconsume", "bfinal", "sindices", "freq 3", "fpushn"],
      "c",
      "c",
      c,
    );
    const decisions = t.filter((l) => /^(notify|work|req_prod)/.test(l));
    expect(decisions).toEqual([
      "notify 1",
      "notify 0",
      "work 0",
      "req_prod 2 req_event 3 rsp_prod 0 rsp_event 1",
      "notify 1",
    ]);
  });
});
