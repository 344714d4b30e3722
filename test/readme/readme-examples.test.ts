import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { startUp, type UpProcess } from "../_support/pvscsi-up.js";

/**
 * The README's examples run as written. Blocks marked `<!-- readme-test: file NAME -->` are
 * written to a scratch folder; blocks marked `<!-- readme-test: run -->` are run line by line
 * there: `npx pvscsi up …` starts a host in a child process (as in "one terminal"), every other
 * `npx pvscsi …` runs the CLI (as in "a second terminal") and must exit 0, and `cat > F <<'EOF'`
 * writes F. Anything else in a marked block fails the test, so the README cannot say more than
 * is checked.
 */
const root = fileURLToPath(new URL("../../", import.meta.url));
const readme = readFileSync(join(root, "README.md"), "utf8");

type Step = { kind: "file"; name: string; text: string } | { kind: "run"; text: string };

function steps(md: string): Step[] {
  const out: Step[] = [];
  const re = /<!-- readme-test: (file (\S+)|run) -->\s*\n\s*```[a-z]*\n([\s\S]*?)```/g;
  for (const m of md.matchAll(re)) {
    if (m[2] !== undefined) out.push({ kind: "file", name: m[2], text: m[3]! });
    else out.push({ kind: "run", text: m[3]! });
  }
  return out;
}

const dir = mkdtempSync(join(tmpdir(), "pvscsi-readme-"));
const socket = join(dir, "h.sock");
const env = {
  ...process.env,
  PVSCSI_SOCKET: socket,
  PVSCSI_STATE_DIR: join(dir, "state"),
  PVSCSI_LOCK_DIR: join(dir, "locks"),
};
let host: UpProcess | null = null;
const hostOut = () => host?.output() ?? "";

afterAll(async () => {
  await host?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function pvscsi(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const saved = { cwd: process.cwd(), env: { ...process.env } };
  process.chdir(dir);
  Object.assign(process.env, env);
  try {
    const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t) });
    return { code, out, err };
  } finally {
    process.chdir(saved.cwd);
    for (const k of ["PVSCSI_SOCKET", "PVSCSI_STATE_DIR", "PVSCSI_LOCK_DIR"]) {
      if (saved.env[k] === undefined) delete process.env[k];
      else process.env[k] = saved.env[k];
    }
  }
}

/** Run one marked shell block; returns the commands it ran. */
async function run(block: string): Promise<string[]> {
  const ran: string[] = [];
  const lines = block.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\s+#.*$/, "").trim();
    if (line === "") continue;
    const heredoc = /^cat > (\S+) <<'EOF'$/.exec(line);
    if (heredoc) {
      const body: string[] = [];
      for (i++; i < lines.length && lines[i] !== "EOF"; i++) body.push(lines[i]!);
      expect(lines[i], `here-document for ${heredoc[1]} ends with EOF`).toBe("EOF");
      writeFileSync(join(dir, heredoc[1]!), `${body.join("\n")}\n`);
      continue;
    }
    expect(line.startsWith("npx pvscsi "), `a README command this test knows how to run: ${line}`).toBe(true);
    const argv = line.slice("npx pvscsi ".length).split(/\s+/);
    ran.push(line);
    if (argv[0] === "up") {
      expect(host, "one 'pvscsi up' per README").toBeNull();
      host = await startUp(argv.slice(1), { cwd: dir, env });
      continue;
    }
    const r = await pvscsi(argv);
    expect(r.code, `${line}\nstdout:\n${r.out}\nstderr:\n${r.err}\nhost:\n${hostOut()}`).toBe(0);
  }
  return ran;
}

describe("the README runs as written", () => {
  const all = steps(readme);

  it("marks its host config, domain configs and command blocks for this test", () => {
    expect(all.filter((s) => s.kind === "file").map((s) => (s as { name: string }).name)).toEqual(
      expect.arrayContaining(["host.conf", "backup.cfg", "scsidd.cfg", "app.cfg", "dd-host.conf"]),
    );
    expect(all.filter((s) => s.kind === "run").length).toBeGreaterThanOrEqual(4);
  });

  it("every marked block, in order, against a real pvscsi up", async () => {
    const ran: string[] = [];
    for (const s of all) {
      if (s.kind === "file") writeFileSync(join(dir, s.name), s.text);
      else ran.push(...(await run(s.text)));
    }
    expect(ran).toContain("npx pvscsi xl create web.cfg");
    expect(ran).toContain("npx pvscsi xl destroy scsidd");
    // The file that went into a guest, to tape and back out is the same file.
    expect(readFileSync(join(dir, "copy.txt"), "utf8")).toBe(readFileSync(join(dir, "notes.txt"), "utf8"));
    // Everything the README created it also destroyed: only dom0 is left.
    const list = await pvscsi(["xl", "list"]);
    expect(
      list.out
        .trim()
        .split("\n")
        .slice(1)
        .map((l) => l.split(/\s+/)[0]),
    ).toEqual(["Domain-0"]);
  }, 180_000);
});
