import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { controlRequest } from "../../src/toolstack/control-client.js";
import { hostControlHandler } from "../../src/toolstack/control-handler.js";
import { ControlServer } from "../../src/toolstack/control-server.js";
import { Host } from "../../src/toolstack/host.js";
import { migrateOut } from "../../src/toolstack/migrate.js";
import {
  migrationOnlyHandler,
  newMigrationToken,
  parseLoopbackAddress,
} from "../../src/toolstack/migrate-tcp.js";

/**
 * `xl migrate` to a TCP address on loopback: the target's migration listener serves only the
 * receiving side of a migration, only to a client with its token; a wrong token is refused
 * before the guest is suspended; non-loopback addresses are refused outright.
 */
const dir = mkdtempSync(join(tmpdir(), "pvscsi-migtcp-"));
const img = join(dir, "shared.img");
let a: Host;
let b: Host;
let listener: ControlServer;
const token = newMigrationToken();
let target = "";

beforeAll(async () => {
  a = await Host.start({
    hostConfig: {
      text: `[disk 0:0:0:0]\nfile = ${img}\nsize = 4M\ncreate = yes\nshareable = yes\n`,
      source: "a.conf",
      baseDir: dir,
    },
    guestRoots: join(dir, "ra"),
  });
  b = await Host.start({
    hostConfig: {
      text: `[disk 4:0:2:0]\nfile = ${img}\nsize = 4M\ncreate = yes\nshareable = yes\n`,
      source: "b.conf",
      baseDir: dir,
    },
    guestRoots: join(dir, "rb"),
  });
  listener = new ControlServer(
    { host: "127.0.0.1", port: 0 },
    migrationOnlyHandler(hostControlHandler(b), token),
  );
  await listener.listen();
  target = `tcp://127.0.0.1:${listener.port}`;
}, 60_000);

afterAll(async () => {
  await listener?.close();
  await a?.shutdown();
  await b?.shutdown();
});

const names = (h: Host) => h.list().map((r) => r.name);

describe("xl migrate over loopback TCP", () => {
  it("refuses addresses that are not loopback", () => {
    expect(() => parseLoopbackAddress("tcp://10.0.0.1:7000")).toThrow(/only loopback addresses/);
    expect(() => parseLoopbackAddress("tcp://0.0.0.0:7000")).toThrow(/only loopback addresses/);
    expect(() => parseLoopbackAddress("tcp://127.0.0.1:99999")).toThrow(
      /expected tcp:\/\/127\.0\.0\.1:<port>/,
    );
    expect(parseLoopbackAddress("tcp://[::1]:7000")).toEqual({ host: "::1", port: 7000 });
    expect(() => new ControlServer({ host: "0.0.0.0", port: 0 }, hostControlHandler(b))).toThrow(/loopback/);
  });

  it("a wrong or missing token is refused before the guest is suspended; other operations are not served", async () => {
    await a.create(`name = "t"\nmemory = 16\nvscsi = [ '/dev/sda,0:0:0:0' ]\n`, "t.cfg");
    await expect(migrateOut(a, "t", target, "0".repeat(64))).rejects.toThrow(
      /refused before the guest was suspended: migration refused: authentication failed .*; t keeps running on this host/,
    );
    await expect(migrateOut(a, "t", target)).rejects.toThrow(/authentication failed/);
    await expect(controlRequest(target, "xl.list", { token })).rejects.toThrow(
      /'xl\.list' is not served on a migration listener/,
    );
    expect(names(a)).toContain("t");
    expect(names(b)).not.toContain("t");
    expect((await a.resumeStats(a.resolveDomain("t").handle.domid)).resumes).toBe(0);
  }, 60_000);

  it("with the token, the guest moves; its device is renumbered and its data is there", async () => {
    const w = await a.guestCommand("t", [
      "dd",
      "if=pattern:8",
      "of=/dev/sda",
      "bs=64k",
      "count=4",
      "status=hash",
    ]);
    expect(w.exitCode).toBe(0);
    const m = await migrateOut(a, "t", target, token);
    expect(m.target).toBe(target);
    expect(m.devices).toEqual([{ vdev: "0:0:0:0", pdevname: "/dev/sda", from: "0:0:0:0", to: "4:0:2:0" }]);
    expect(m.resumed).not.toBeNull();
    expect(names(a)).not.toContain("t");
    expect(names(b)).toContain("t");
    const r = await b.guestCommand("t", ["dd", "if=/dev/sda", "bs=64k", "count=4", "status=hash"]);
    expect(/sha256 (\w+)/.exec(r.stdout)?.[1]).toBe(/sha256 (\w+)/.exec(w.stdout)?.[1]);
  }, 60_000);
});
