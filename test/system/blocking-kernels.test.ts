import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ThreadedSystem } from "../../src/system/threaded-system.js";
import { Host } from "../../src/toolstack/host.js";

/**
 * Kernels whose loops block their threads in Atomics.wait, given an idle timeout far longer than
 * the toolstack's own (10 s): anything that only moved because a loop woke on its own — a control
 * call, xenstore traffic, a file-backed disk's I/O, a promise a response resolved — would now
 * stall until a toolstack timeout fails the operation. Every operation must finish by wake-ups.
 */
let dir: string;
let host: Host;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "pvscsi-blocking-"));
  const sys = await ThreadedSystem.start({
    hostConfig: {
      text: "[disk 0:0:0:0]\nsize = 8M\n[disk 0:0:1:0]\nfile = file.img\nsize = 8M\ncreate = yes\n[disk 0:0:2:0]\nsize = 4M\n",
      source: "blocking.conf",
      baseDir: dir,
    },
    kernelIdleWaitMs: 10 * 60_000,
  });
  host = new Host(sys);
}, 30_000);
afterAll(async () => {
  await host?.shutdown();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("kernels that block, with no idle wake-up to fall back on", () => {
  it("create, scan, I/O on a RAM and a file-backed disk, hot-plug, unplug, destroy and create again", {
    timeout: 120_000,
  }, async () => {
    await host.create(`name = "b1"\nvscsi = [ '/dev/sda,0:0:0:0', '/dev/sdb,0:0:1:0' ]\n`, "b1.cfg");
    expect((await host.guestCommand("b1", ["lsscsi"])).stdout).toMatch(/\[0:0:1:0\]/);
    for (const dev of ["/dev/sda", "/dev/sdb"]) {
      const w = await host.guestCommand("b1", ["dd", `of=${dev}`, "if=pattern:9", "bs=4k", "count=128"]);
      expect(w.exitCode, w.stderr).toBe(0);
      const r = await host.guestCommand("b1", ["dd", `if=${dev}`, "bs=4k", "count=128", "status=hash"]);
      expect(r.exitCode, r.stderr).toBe(0);
    }
    await host.scsiAttach("b1", "/dev/sdc", "0:0:2:0");
    expect((await host.guestCommand("b1", ["lsscsi"])).stdout).toContain("[0:0:2:0]");
    await host.scsiDetach("b1", "0:0:2:0");
    expect((await host.guestCommand("b1", ["lsscsi"])).stdout).not.toContain("[0:0:2:0]");
    const [vhost] = await host.backendReport();
    expect(vhost!.stats.responses).toBeGreaterThanOrEqual(512);
    await host.destroy("b1");
    await host.create(`name = "b2"\nvscsi = [ '/dev/sdb,0:0:0:0' ]\n`, "b2.cfg");
    const r = await host.guestCommand("b2", ["dd", "if=/dev/sda", "bs=4k", "count=16"]);
    expect(r.exitCode, r.stderr).toBe(0);
    await host.destroy("b2");
  });
});
