import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { controlRequest } from "../../src/toolstack/control-client.js";
import { ControlServer } from "../../src/toolstack/control-server.js";
import { PvscsiError } from "../../src/xen/errors.js";

const servers: ControlServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

function socketPath(): string {
  return join(tmpdir(), `pvscsi-test-${process.pid}-${Math.random().toString(36).slice(2)}.sock`);
}

async function start(path: string) {
  const s = new ControlServer(path, {
    async handle(op, args) {
      if (op === "echo") return args;
      if (op === "fail") throw new PvscsiError("ESTATE", "domain 'x' does not exist");
      throw new Error(`unknown op ${op}`);
    },
  });
  await s.listen();
  servers.push(s);
  return s;
}

function raw(path: string, text: string): Promise<string> {
  return new Promise((resolve) => {
    const c = createConnection(path);
    let out = "";
    c.on("data", (d) => {
      out += d;
      if (out.includes("\n")) c.end();
    });
    c.on("close", () => resolve(out));
    c.write(text);
  });
}

describe("control socket", () => {
  it("carries a request and its result, and the host's errors verbatim", async () => {
    const path = socketPath();
    await start(path);
    expect(await controlRequest(path, "echo", { a: 1 })).toEqual({ a: 1 });
    await expect(controlRequest(path, "fail")).rejects.toThrow("domain 'x' does not exist");
  });

  it("a malformed line gets an error response and the server keeps serving", async () => {
    const path = socketPath();
    await start(path);
    expect(JSON.parse(await raw(path, "{nope\n"))).toMatchObject({
      ok: false,
      error: expect.stringMatching(/malformed control request/),
    });
    expect(JSON.parse(await raw(path, '{"id":4}\n'))).toEqual({
      id: 4,
      ok: false,
      error: "control request without an 'op'",
    });
    expect(await controlRequest(path, "echo", {})).toEqual({});
  });

  it("no host running: the error names the socket and how to start one", async () => {
    await expect(controlRequest(socketPath(), "echo")).rejects.toThrow(
      /no pvscsi host is running there \(start one with 'pvscsi up'\)/,
    );
  });

  it("refuses to start a second host on a live socket", async () => {
    const path = socketPath();
    await start(path);
    await expect(start(path)).rejects.toThrow(/another pvscsi host is already running/);
  });

  it("replaces the stale socket of a host that was killed", async () => {
    const path = socketPath();
    // A host killed with SIGKILL leaves its socket file behind with nobody listening.
    spawnSync(process.execPath, [
      "-e",
      `require("net").createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, "SIGKILL"))`,
    ]);
    expect(existsSync(path)).toBe(true);
    await start(path);
    expect(await controlRequest(path, "echo", { b: 2 })).toEqual({ b: 2 });
  });
});
