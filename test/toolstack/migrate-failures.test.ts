import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostControlHandler } from "../../src/toolstack/control-handler.js";
import { ControlServer } from "../../src/toolstack/control-server.js";
import { Host } from "../../src/toolstack/host.js";
import { migrateOut } from "../../src/toolstack/migrate.js";

/**
 * A migration that fails at any step leaves the guest running on exactly one host, and says
 * which: before the point of no return on the source; after it (the target failed to build the
 * guest) restored on the source from the image it sent.
 */
const dir = mkdtempSync(join(tmpdir(), "pvscsi-migfail-"));
const img = join(dir, "shared.img");
const bulk = join(dir, "bulk.img");
const CONF_A =
  `[disk 0:0:0:0]\nfile = ${img}\nsize = 4M\ncreate = yes\nshareable = yes\n` +
  `[disk 0:0:1:0]\nfile = ${bulk}\nsize = 4M\ncreate = yes\nshareable = yes\n`;
const CONF_B =
  `[disk 5:0:0:0]\nfile = ${img}\nsize = 4M\ncreate = yes\nshareable = yes\n` +
  `[disk 5:0:3:0]\nfile = ${bulk}\nsize = 4M\ncreate = yes\nshareable = yes\n`;

let a: Host;
let b: Host;
let server: ControlServer;
const sock = join(dir, "b.sock");
/** Which of the target's operations to fail, to break the migration at that step. */
let failOp: string | null = null;

beforeAll(async () => {
  a = await Host.start({
    hostConfig: { text: CONF_A, source: "a.conf", baseDir: dir },
    guestRoots: join(dir, "ra"),
  });
  b = await Host.start({
    hostConfig: { text: CONF_B, source: "b.conf", baseDir: dir },
    guestRoots: join(dir, "rb"),
  });
  const real = hostControlHandler(b);
  server = new ControlServer(sock, {
    handle: async (op, args) => {
      if (op === failOp) throw new Error(`injected failure of ${op}`);
      return real.handle(op, args);
    },
  });
  await server.listen();
}, 60_000);

afterAll(async () => {
  await server?.close();
  await a?.shutdown();
  await b?.shutdown();
});

const names = (h: Host) => h.list().map((r) => r.name);

describe("xl migrate failures", () => {
  it("a failure while copying memory leaves the guest on the source, saying so", async () => {
    await a.create(`name = "g"\nmemory = 16\nvscsi = [ '/dev/sda,0:0:0:0' ]\n`, "g.cfg");
    failOp = "migrate.memory";
    await expect(migrateOut(a, "g", sock)).rejects.toThrow(
      /migration of g to .* failed: injected failure of migrate\.memory; g keeps running on this host/,
    );
    expect(names(a)).toContain("g");
    expect(names(b)).not.toContain("g");
    expect((await a.guestCommand("g", ["lsscsi"])).stdout).toMatch(/\[0:0:0:0\]\s+disk/);
  }, 60_000);

  it("a failure after the guest was suspended cancels the suspend: it runs on, on the source", async () => {
    failOp = "migrate.image";
    await expect(migrateOut(a, "g", sock)).rejects.toThrow(
      /migration of g to .* failed: injected failure of migrate\.image; g keeps running on this host/,
    );
    expect(names(b)).not.toContain("g");
    // Thawed on its old ring: its I/O goes on.
    const w = await a.guestCommand("g", ["dd", "if=pattern:6", "of=/dev/sda", "bs=4k", "count=2"]);
    expect(w.exitCode).toBe(0);
    expect((await a.resumeStats(a.resolveDomain("g").handle.domid)).resumes).toBe(0);
  }, 60_000);

  it("a failure of the target after the source let go restores the guest on the source", async () => {
    await a.guestCommand("g", ["dd", "if=pattern:5", "of=/dev/sda", "bs=64k", "count=4"]);
    failOp = "migrate.commit";
    await expect(migrateOut(a, "g", sock)).rejects.toThrow(
      /migration of g to .* failed on the target: injected failure of migrate\.commit; g was restored on this host \(domid \d+\)/,
    );
    expect(names(a)).toContain("g");
    expect(names(b)).not.toContain("g");
    const r = await a.guestCommand("g", ["dd", "if=/dev/sda", "bs=64k", "count=4", "status=hash"]);
    const w = await a.guestCommand("g", [
      "dd",
      "if=pattern:5",
      "of=/dev/null",
      "bs=64k",
      "count=4",
      "status=hash",
    ]);
    expect(/sha256 (\w+)/.exec(r.stdout)?.[1]).toBe(/sha256 (\w+)/.exec(w.stdout)?.[1]);
    failOp = null;
    const ok = await migrateOut(a, "g", sock);
    expect(ok.devices).toEqual([{ vdev: "0:0:0:0", pdevname: "/dev/sda", from: "0:0:0:0", to: "5:0:0:0" }]);
    expect(ok.downtimeMs).toBeGreaterThan(0);
    expect(ok.totalMs).toBeGreaterThanOrEqual(ok.downtimeMs);
    expect(names(a)).not.toContain("g");
    expect(names(b)).toContain("g");
  }, 60_000);

  it("under I/O: every write the guest had acknowledged is there after the migration", async () => {
    // A guest writes block after block while it migrates from a to b; a write whose command
    // failed (the guest moved under it, its process stayed on the source) is written again
    // where the guest is. Meanwhile fio keeps 16 writes in flight on a second disk, so the
    // stop-and-copy finds commands on the ring: the resumed kernel on b completes them with
    // DID_RESET and its midlayer sends them again.
    await a.create(`name = "io"\nmemory = 16\nvscsi = [ '/dev/sda,0:0:0:0', '0:0:1:0,0:0:1:0' ]\n`, "io.cfg");
    const fio = a
      .guestCommand("io", [
        "fio",
        "--rw=randwrite",
        "--bs=4k",
        "--iodepth=16",
        "--runtime=60",
        "--filename=/dev/sdb",
      ])
      .catch((e: Error) => ({ exitCode: -1, stdout: "", stderr: e.message }));
    const acked: number[] = [];
    const failures: string[] = [];
    let stop = false;
    const writer = (async () => {
      // Bounded: at most 400 attempts; a failed one waits 20 ms and is tried again at the same block.
      for (let i = 0, attempts = 0; !stop && attempts < 400; attempts++) {
        const where = names(a).includes("io") ? a : b;
        const r = await where
          .guestCommand("io", ["dd", "if=pattern:7", "of=/dev/sda", "bs=4k", "count=1", `seek=${i}`])
          .catch((e: Error) => ({ exitCode: -1, stdout: "", stderr: e.message }));
        if (r.exitCode === 0) acked.push(i++);
        else {
          failures.push(r.stderr);
          await new Promise((res) => setTimeout(res, 20));
        }
      }
    })();
    // fio is writing once the vhost has served a few hundred requests (bounded: 30 s).
    const served = async () =>
      (await a.backendReport()).reduce((n, v) => n + (v.frontendDomid === io ? v.stats.requests : 0), 0);
    const io = a.resolveDomain("io").handle.domid;
    for (let i = 0; i < 300 && (await served()) < 500; i++) await new Promise((r) => setTimeout(r, 100));
    failOp = null;
    const m = await migrateOut(a, "io", sock);
    expect(m.devices).toMatchObject([
      { from: "0:0:0:0", to: "5:0:0:0" },
      { from: "0:0:1:0", to: "5:0:3:0" },
    ]);
    // fio's process stayed on a and ended with its kernel there; its writes in flight did not.
    expect((await fio).stderr).toMatch(/kernel exited/);
    expect(m.resumed).not.toBeNull();
    expect(m.resumed!.carried).toBeGreaterThan(0);
    expect(m.resumed!.resetCompletions).toBeLessThanOrEqual(m.resumed!.carried);
    expect(m.resumed!.resetRetries).toBe(m.resumed!.resetCompletions);
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await writer;
    const before = acked.filter((i) => i < 5);
    expect(before.length, failures.join("\n")).toBeGreaterThan(0);
    expect(names(b)).toContain("io");
    // Blocks were acknowledged in order, 0..n-1; the pattern is addressed by disk offset, so the
    // first n blocks read on the target must hash as the pattern's first n blocks.
    const n = acked.length;
    expect(acked).toEqual([...Array(n).keys()]);
    const r = await b.guestCommand("io", ["dd", "if=/dev/sda", "bs=4k", `count=${n}`, "status=hash"]);
    const w = await b.guestCommand("io", [
      "dd",
      "if=pattern:7",
      "of=/dev/null",
      "bs=4k",
      `count=${n}`,
      "status=hash",
    ]);
    expect(/sha256 (\w+)/.exec(r.stdout)?.[1]).toBe(/sha256 (\w+)/.exec(w.stdout)?.[1]);
    expect(r.stdout).toContain(`${n}+0 records in`);
    // Every carried command completed on b, once, GOOD (the retried writes landed).
    const io2 = b.resolveDomain("io").handle.domid;
    for (let i = 0; i < 100 && (await b.resumeStats(io2)).carriedCompletions < m.resumed!.carried; i++)
      await new Promise((res) => setTimeout(res, 100));
    const st = await b.resumeStats(io2);
    expect(st.carriedCompletions).toBe(m.resumed!.carried);
    expect(st.carriedFailures).toBe(0);
  }, 90_000);
});
