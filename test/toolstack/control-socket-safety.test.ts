import {
  lstatSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { controlRequest, controlTimeoutMs } from "../../src/toolstack/control-client.js";
import { ControlServer, MAX_SOCKET_PATH_BYTES } from "../../src/toolstack/control-server.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), "pvscsi-sock-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const handler = { handle: async (op: string) => op };

/** A peer that accepts connections and then does `behave` with each: the host's failure modes. */
async function peer(path: string, behave: "close" | "silent"): Promise<Server> {
  const server = createServer((s) => {
    s.on("error", () => undefined);
    if (behave === "close") s.once("data", () => s.destroy());
    else s.resume(); // reads and ignores, so it still sees the client's end
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return server;
}

describe("the control socket never touches what is not its own socket", () => {
  it("refuses a path that holds a regular file, and leaves the file as it was", async () => {
    const path = join(scratch(), "victim.conf");
    writeFileSync(path, "precious\n");
    await expect(new ControlServer(path, handler).listen()).rejects.toThrow(/exists and is not a socket/);
    expect(readFileSync(path, "utf8")).toBe("precious\n");
  });

  it("refuses a symbolic link and a folder at the path", async () => {
    const dir = scratch();
    const target = join(dir, "target");
    writeFileSync(target, "x");
    const link = join(dir, "link.sock");
    symlinkSync(target, link);
    await expect(new ControlServer(link, handler).listen()).rejects.toThrow(/symbolic link/);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    await expect(new ControlServer(dir, handler).listen()).rejects.toThrow(/a folder/);
  });

  it("says the folder is missing, and refuses a path longer than sun_path before creating anything", async () => {
    const dir = scratch();
    await expect(new ControlServer(join(dir, "no", "such", "h.sock"), handler).listen()).rejects.toThrow(
      `the folder ${join(dir, "no", "such")} does not exist`,
    );
    const long = join(dir, `${"x".repeat(MAX_SOCKET_PATH_BYTES)}.sock`);
    await expect(new ControlServer(long, handler).listen()).rejects.toThrow(/at most 107 bytes/);
  });

  it("on close removes only the socket it created", async () => {
    const path = join(scratch(), "h.sock");
    const s = new ControlServer(path, handler);
    await s.listen();
    expect(await controlRequest(path, "ping")).toBe("ping");
    // Someone replaces the socket with a file of theirs while the host runs: close leaves it.
    unlinkSync(path);
    writeFileSync(path, "theirs");
    await s.close();
    expect(readFileSync(path, "utf8")).toBe("theirs");
  });
});

describe("a client that loses its host fails loudly", () => {
  it("rejects when the host closes the connection before answering", async () => {
    const path = join(scratch(), "h.sock");
    await peer(path, "close");
    await expect(controlRequest(path, "xl.list")).rejects.toThrow(
      /closed the connection before answering 'xl.list'/,
    );
  });

  it("rejects when the host never answers, after the timeout", async () => {
    const path = join(scratch(), "h.sock");
    await peer(path, "silent");
    await expect(controlRequest(path, "guest", {}, 50)).rejects.toThrow(/did not answer 'guest' within/);
  });

  it("exits non-zero with the message from xl, guest and xenstore-ls", async () => {
    const path = join(scratch(), "h.sock");
    await peer(path, "close");
    for (const [command, ...rest] of [["xl", "list"], ["guest", "g1", "lsscsi"], ["xenstore-ls"]]) {
      const argv = [command!, "--socket", path, ...rest];
      let err = "";
      const code = await main(argv, { out: () => undefined, err: (t) => (err += t) });
      expect(code, argv.join(" ")).toBe(1);
      expect(err).toMatch(/closed the connection before answering/);
    }
  });

  it("reads PVSCSI_TIMEOUT in seconds and refuses nonsense", () => {
    expect(controlTimeoutMs({ PVSCSI_TIMEOUT: "2.5" })).toBe(2500);
    expect(controlTimeoutMs({})).toBeGreaterThan(0);
    expect(() => controlTimeoutMs({ PVSCSI_TIMEOUT: "soon" })).toThrow(/positive number of seconds/);
  });
});
