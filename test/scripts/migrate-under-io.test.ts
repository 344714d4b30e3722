import { describe, expect, it } from "vitest";
import { runMigrateDemo } from "../../scripts/migrate-under-io.js";

/**
 * `npm run demo:migrate` (scripts/migrate-under-io.ts) with short settings: its checks all hold
 * (live migration under I/O between hosts that number the disks differently, DID_RESET retries,
 * the writer's blocks verified on the target, a refused migration with the guest left running),
 * and what it reports agrees with them.
 */
describe("scripts/migrate-under-io.ts", () => {
  it("migrates under I/O, verifies the data, and shows a refused migration", async () => {
    const lines: string[] = [];
    const r = await runMigrateDemo({ warmupRequests: 100, blocksAfter: 5, out: (l) => lines.push(l) });
    const text = lines.join("\n");
    expect(r.failures, text).toEqual([]);
    expect(r.resumed).not.toBeNull();
    expect(r.resumed!.carried).toBeGreaterThan(0);
    expect(r.resumed!.resetRetries).toBe(r.resumed!.resetCompletions);
    expect(r.blocksOnTarget).toBeGreaterThanOrEqual(5);
    expect(r.blocks).toBeGreaterThan(r.blocksOnTarget);
    expect(text).toMatch(/was 0:0:0:0 on the source, is 2:0:0:7 on the target/);
    expect(text).toMatch(/was 0:0:1:0 on the source, is 1:0:3:0 on the target/);
    expect(text).toMatch(/memory rounds .* downtime [\d.]+ ms, total [\d.]+ ms/);
    expect(text).toMatch(/requests retried after DID_RESET: \d+/);
    expect(text).toMatch(/data verified: true/);
    expect(text).toMatch(/refused before the guest was suspended: .*pinned keeps running on this host/);
    expect(text).toMatch(/pinned: listed on A true, on B false; a write on A exits 0/);
  }, 90_000);
});
