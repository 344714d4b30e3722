import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalSystem } from "../../src/system/single-thread.js";
import { Host } from "../../src/toolstack/host.js";

/**
 * `iobench --lat`, which the goal-table bench reads for pvscsi's QD1 latency percentiles:
 * one sample per command, percentiles in order, and no latency block without the flag.
 */
let dir: string;
let sys: LocalSystem;
let host: Host;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "pvscsi-iobench-lat-"));
  sys = await LocalSystem.start({
    hostConfig: { text: "[null 0:0:0:0]\n", source: "dom0.conf", baseDir: dir },
  });
  host = new Host(sys, { guestRoots: join(dir, "guests") });
  await sys.run(host.create(`name = "vm1"\nvscsi = [ '0:0:0:0,0:0:0:0' ]\n`, join(dir, "vm1.cfg")));
});
afterAll(async () => {
  if (sys) await sys.run(host.shutdown());
  if (dir) rmSync(dir, { recursive: true, force: true });
});
const g = (...argv: string[]) => sys.run(host.guestCommand("vm1", argv));

describe("iobench --lat", () => {
  it("reports one completion latency per command, as fio's clat percentiles (ns)", async () => {
    const r = await g("iobench", "--iodepth=1", "--count=200", "--lat", "--json", "/dev/sda");
    expect([r.exitCode, r.stderr]).toEqual([0, ""]);
    const res = JSON.parse(r.stdout);
    expect(res).toMatchObject({ ops: 200, errors: 0, clat: { samples: 200 } });
    const c = res.clat;
    expect(c.p50).toBeGreaterThan(0);
    expect(c.p50).toBeLessThanOrEqual(c.p99);
    expect(c.p99).toBeLessThanOrEqual(c.p99_9);
    expect(c.p99_9).toBeLessThanOrEqual(c.max);
  });

  it("at depth 16 too, and prints fio's clat line without --json; nothing without --lat", async () => {
    const r = await g("iobench", "--count=64", "--lat", "--json", "/dev/sda");
    expect(JSON.parse(r.stdout).clat.samples).toBe(64);
    const text = await g("iobench", "--count=16", "--lat", "/dev/sda");
    expect(text.stdout).toMatch(/\n {2}clat \(usec\): p50=[\d.]+, p99=[\d.]+, p99\.9=[\d.]+, max=/);
    const plain = await g("iobench", "--count=16", "--json", "/dev/sda");
    expect(JSON.parse(plain.stdout).clat).toBeUndefined();
  });
});
