import { afterEach, describe, expect, it } from "vitest";
import { Host } from "../../src/toolstack/host.js";

/**
 * Poll mode spins a thread per polling kernel; on too few cores they take turns by time slice
 * and I/O collapses. The host lets at most `pollThreads` kernels poll (dom0's backend first);
 * a guest beyond runs event-driven, `xl create` warns, and its I/O still works, since a polling
 * end never re-arms its event index and a sleeping end does. Whether a guest polls shows in
 * scsiback's report: a polling guest asks for no response events (at most the first), a
 * sleeping one is notified as its responses arrive.
 */
let host: Host | undefined;
afterEach(async () => {
  await host?.shutdown();
  host = undefined;
});

const HOST_CONFIG = { text: "[disk 0:0:0:0]\nsize = 8M\n", source: "budget.conf", baseDir: "/tmp" };

async function ddThrough(h: Host, name: string): Promise<void> {
  const w = await h.guestCommand(name, ["dd", "of=/dev/sda", "if=pattern:5", "bs=4k", "count=64"]);
  expect(w.exitCode, w.stderr).toBe(0);
  const r = await h.guestCommand(name, ["dd", "if=/dev/sda", "bs=4k", "count=64", "status=hash"]);
  expect(r.exitCode, r.stderr).toBe(0);
}

describe("poll mode's thread budget", () => {
  it("with room for one polling kernel, dom0 polls and a guest waits on events, with a warning, and its I/O works", async () => {
    host = await Host.start({ pollMode: true, pollThreads: 1, hostConfig: HOST_CONFIG });
    expect(host.pollThreads).toBe(1);
    expect(host.system.dom0Kernel?.pollMode).toBe(true);
    const created = await host.create(`name = "e1"\nvscsi = [ '/dev/sda,0:0:0:0' ]\n`, "e1.cfg");
    expect(created.warnings).toHaveLength(1);
    expect(created.warnings[0]).toMatch(/poll mode: e1's kernel waits on events/);
    expect(created.warnings[0]).toMatch(/1 kernel thread\(s\)/);
    expect(created.warnings[0]).toMatch(/held by Domain-0/);
    await ddThrough(host, "e1");
    const [vhost] = await host.backendReport();
    expect(vhost!.stats.responses).toBeGreaterThanOrEqual(128);
    expect(vhost!.stats.notifies).toBeGreaterThan(1);
  });

  it("with room for two, the guest polls too and no warning is given", async () => {
    host = await Host.start({ pollMode: true, pollThreads: 2, hostConfig: HOST_CONFIG });
    const created = await host.create(`name = "p2"\nvscsi = [ '/dev/sda,0:0:0:0' ]\n`, "p2.cfg");
    expect(created.warnings).toEqual([]);
    await ddThrough(host, "p2");
    const [vhost] = await host.backendReport();
    expect(vhost!.stats.responses).toBeGreaterThanOrEqual(128);
    expect(vhost!.stats.notifies).toBeLessThanOrEqual(1);
  });

  it("a destroyed polling guest gives its place back to the next one", async () => {
    host = await Host.start({ pollMode: true, pollThreads: 2, hostConfig: HOST_CONFIG });
    expect((await host.create(`name = "a"\n`, "a.cfg")).warnings).toEqual([]);
    expect((await host.create(`name = "b"\n`, "b.cfg")).warnings).toHaveLength(1);
    await host.destroy("a");
    expect((await host.create(`name = "c"\n`, "c.cfg")).warnings).toEqual([]);
  });

  it("refuses a budget that is not a whole number of threads", async () => {
    await expect(Host.start({ pollMode: true, pollThreads: 1.5 })).rejects.toThrow(/pollThreads/);
  });
});
