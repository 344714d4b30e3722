import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { XenstoreDb } from "../../src/xenstore/database.js";
import { dbLsSource, lsJson } from "../../src/xenstore/ls.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), "pvscsi-cfg-"));
  dirs.push(d);
  return d;
}

describe("errors say what is wrong, where the user looks", () => {
  it.each([
    ["a bad size", "[disk 0:0:0:0]\nsize = 12Q\n", /host\.conf:2: /],
    ["an unknown section", "[tapes 0:0:0:0]\n", /host\.conf:1: unknown section kind "tapes"/],
    ["a key outside a section", "size = 1M\n", /host\.conf:1: "size" is outside any section/],
  ])(
    "pvscsi up with %s in the host config prints file:line: message and exits 2, booting nothing",
    async (_, text, re) => {
      const dir = scratch();
      const conf = join(dir, "host.conf");
      writeFileSync(conf, text);
      const sock = join(dir, "h.sock");
      let err = "";
      const code = await main(["up", "--config", conf, "--socket", sock], {
        out: () => undefined,
        err: (t) => (err += t),
      });
      expect(code).toBe(2);
      expect(err).toMatch(re);
      expect(err).not.toMatch(/internal error|PvscsiError|\n\s+at /);
      expect(existsSync(sock)).toBe(false);
    },
  );

  it("xenstore-ls --from reads what xenstore-ls --json / writes, and refuses a subtree with a hint", async () => {
    const db = new XenstoreDb();
    const c = db.connect(0);
    c.write("/local/domain/0/name", "Domain-0");
    const dir = scratch();
    const whole = join(dir, "store.json");
    writeFileSync(whole, JSON.stringify(await lsJson(dbLsSource(c), "/")));
    let out = "";
    let err = "";
    const io = { out: (t: string) => (out += t), err: (t: string) => (err += t) };
    expect(await main(["xenstore-ls", "--from", whole, "/local/domain/0"], io)).toBe(0);
    expect(out).toContain('name = "Domain-0"');
    const sub = join(dir, "sub.json");
    writeFileSync(sub, JSON.stringify(await lsJson(dbLsSource(c), "/local")));
    expect(await main(["xenstore-ls", "--from", sub], io)).toBe(2);
    expect(err).toMatch(
      /holds the subtree 'local', not a whole store; write one with 'pvscsi xenstore-ls --json \/ > FILE'/,
    );
  });
});
