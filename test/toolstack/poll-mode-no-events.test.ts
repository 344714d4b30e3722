import { afterAll, describe, expect, it } from "vitest";
import { Host } from "../../src/toolstack/host.js";

/**
 * Poll mode means nobody sleeps, so nobody asks for events: the guest's frontend must know it
 * polls and never re-arm `rsp_event`, or the backend keeps notifying (about one event per ring's
 * worth of responses) although nothing waits for them. With workers, since a polling kernel
 * never settles in one thread.
 */
let host: Host | undefined;
afterAll(async () => {
  await host?.shutdown();
});

describe("poll mode", () => {
  it("a polling guest gets at most the first response's event from scsiback, whatever the I/O", async () => {
    host = await Host.start({
      pollMode: true,
      // Room for dom0's and the guest's kernels to poll whatever the machine's cores (the
      // default budget on two cores lets only dom0 poll: poll-mode-budget.test.ts).
      pollThreads: 2,
      hostConfig: { text: "[disk 0:0:0:0]\nsize = 8M\n", source: "poll.conf", baseDir: "/tmp" },
    });
    await host.create(`name = "p1"\nvscsi = [ '/dev/sda,0:0:0:0' ]\n`, "p1.cfg");
    const w = await host.guestCommand("p1", ["dd", "of=/dev/sda", "if=pattern:3", "bs=4k", "count=256"]);
    expect(w.exitCode, w.stderr).toBe(0);
    const r = await host.guestCommand("p1", ["dd", "if=/dev/sda", "bs=4k", "count=256"]);
    expect(r.exitCode, r.stderr).toBe(0);
    const [vhost] = await host.backendReport();
    expect(vhost!.stats.responses).toBeGreaterThanOrEqual(512);
    expect(vhost!.stats.notifies).toBeLessThanOrEqual(1);
  });
});
