import { execFile } from "node:child_process";
import { mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xenstoredSocketPath } from "../../src/cli/commands/up.js";
import { main } from "../../src/cli/main.js";
import { startUp, type UpProcess } from "../_support/pvscsi-up.js";
import { requireSystem } from "../_support/system.js";

/**
 * Xen's own xenstore tools (Debian's xenstore-utils, linked with libxenstore) against a running
 * `pvscsi up`, through `XENSTORED_PATH`: the socket speaks xenstored's wire protocol, as dom0.
 */
const haveTools = requireSystem(
  { pkg: "xenstore-utils", program: "xenstore-ls" },
  { pkg: "xenstore-utils", program: "xenstore-watch" },
);

const dir = mkdtempSync(join(tmpdir(), "pvscsi-xsock-"));
const socket = join(dir, "host.sock");
const xsSocket = xenstoredSocketPath(socket);
const conf = join(dir, "host.conf");
const vm = join(dir, "vm.cfg");
writeFileSync(conf, "[disk 0:0:0:0]\nsize = 4M\n");
writeFileSync(vm, `name = "web"\nmemory = 16\nvscsi = [ '/dev/sda,0:0:0:0' ]\n`);

let host: UpProcess | undefined;

/** Run one of Xen's tools against the host's socket (bounded by a timeout). */
function tool(
  name: string,
  args: readonly string[],
  timeoutMs = 10_000,
): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      name,
      [...args],
      { env: { ...process.env, XENSTORED_PATH: xsSocket }, timeout: timeoutMs },
      (e, out, err) => {
        const code = e === null ? 0 : typeof e.code === "number" ? e.code : -1;
        resolve({ code, out, err });
      },
    );
  });
}

async function pvscsi(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (s) => out.push(s), err: (s) => err.push(s) });
  return { code, out: out.join(""), err: err.join("") };
}

describe.runIf(haveTools)("xenstore-utils against pvscsi up's xenstored socket", () => {
  beforeAll(async () => {
    host = await startUp(["--config", conf, "--socket", socket]);
  }, 30_000);

  afterAll(async () => {
    await host?.stop();
  });

  it("prints the socket path and creates it owner-only (0600)", () => {
    expect(host!.output()).toContain(`xenstored socket: ${xsSocket}`);
    const st = statSync(xsSocket);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
  });

  it("xenstore-ls shows dom0's home, and a guest's vscsi nodes once it exists", async () => {
    const ls = await tool("xenstore-ls", ["/local/domain/0"]);
    expect(ls.code).toBe(0);
    expect(ls.out).toMatch(/^name = "Domain-0"$/m);
    expect((await pvscsi("xl", "--socket", socket, "create", vm)).code).toBe(0);
    const fe = await tool("xenstore-ls", ["/local/domain/1/device/vscsi/0"]);
    expect(fe.out).toMatch(/^backend = "\/local\/domain\/0\/backend\/vscsi\/1\/0"$/m);
    expect(fe.out).toMatch(/^state = "4"$/m);
    // -p: permissions as xenstored keeps them (the frontend's nodes belong to the guest).
    const perms = await tool("xenstore-ls", ["-p", "/local/domain/1/device/vscsi/0"]);
    expect(perms.out).toMatch(/^state = "4" .*\(n1,r0\)$/m);
    const be = await tool("xenstore-read", ["/local/domain/0/backend/vscsi/1/0/vscsi-devs/dev-0/p-dev"]);
    // A /dev pdev is stored as the LUN's NAA name, as libxl does with the pvops backend.
    expect(be.code).toBe(0);
    expect(be.out).toMatch(/^naa\.[0-9a-f]{16}:0\n$/);
    expect((await pvscsi("xl", "--socket", socket, "destroy", "web")).code).toBe(0);
    const gone = await tool("xenstore-read", ["/local/domain/1/name"]);
    expect(gone.code).toBe(1);
  }, 60_000);

  it("xenstore-write, -read, -rm with xenstore-read's exit code 1 for a missing node", async () => {
    expect((await tool("xenstore-write", ["/tool/test/a", "1", "/tool/test/b", "two words"])).code).toBe(0);
    expect(await tool("xenstore-read", ["/tool/test/a", "/tool/test/b"])).toMatchObject({
      code: 0,
      out: "1\ntwo words\n",
    });
    expect((await tool("xenstore-rm", ["/tool/test"])).code).toBe(0);
    const r = await tool("xenstore-read", ["/tool/test/a"]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("couldn't read path /tool/test/a");
  });

  it("xenstore-watch -n gets the initial event and the change (WATCH / WATCH_EVENT)", async () => {
    const watch = tool("xenstore-watch", ["-n", "2", "/tool/watched"], 10_000);
    // The initial event arrives as soon as the watch is registered; then change the node.
    for (let i = 0; i < 50; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const w = await tool("xenstore-write", [`/tool/watched/n${i}`, "x"]);
      expect(w.code).toBe(0);
      const done = await Promise.race([
        watch.then(() => true),
        new Promise((r) => setTimeout(() => r(false), 50)),
      ]);
      if (done) break;
    }
    const r = await watch;
    expect(r.code).toBe(0);
    const lines = r.out.trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe("/tool/watched");
    expect(lines[1]).toMatch(/^\/tool\/watched(\/n\d+)?$/);
    await tool("xenstore-rm", ["/tool/watched"]);
  }, 20_000);

  it("a client that breaks the protocol is dropped and the others go on", async () => {
    const { createConnection } = await import("node:net");
    const s = createConnection(xsSocket);
    await new Promise<void>((resolve) => s.once("connect", () => resolve()));
    const header = Buffer.alloc(16);
    header.writeUInt32LE(2, 0); // XS_READ
    header.writeUInt32LE(5000, 12); // len over XENSTORE_PAYLOAD_MAX
    s.write(header);
    await new Promise<void>((resolve) => s.once("close", () => resolve()));
    expect((await tool("xenstore-ls", ["/local/domain/0"])).code).toBe(0);
  });
});
