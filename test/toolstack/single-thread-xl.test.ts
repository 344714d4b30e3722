import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalSystem } from "../../src/system/single-thread.js";
import { Host } from "../../src/toolstack/host.js";

/**
 * The toolstack over the single-thread system: `xl create` from a config file with two vscsi
 * controllers, one served by dom0 and one by a driver domain created from its own config file,
 * I/O through the guest's `dd`, then destroy with nothing left behind — every kernel in this
 * thread, each operation driven by `system.run`.
 */
const DOM0_CONFIG = "[disk 1:0:0:0]\nsize = 8M\n";
const DD_HOST_CONFIG = "[disk 3:0:0:0]\nsize = 8M\nvendor = DDVENDOR\n";
const DD_CFG = `name = "scsidd"\ndriver_domain = 1\nmemory = 16\nscsi_host_config = "dd-host.conf"\n`;
const VM_CFG = `name = "vm1"\nvscsi = [ '/dev/sda,0:0:0:0,backend=scsidd', '/dev/sda,1:0:0:0' ]\n`;

let dir: string;
let sys: LocalSystem;
let host: Host;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "pvscsi-local-xl-"));
  writeFileSync(join(dir, "dd-host.conf"), DD_HOST_CONFIG);
  writeFileSync(join(dir, "scsidd.cfg"), DD_CFG);
  writeFileSync(join(dir, "vm1.cfg"), VM_CFG);
  sys = await LocalSystem.start({ hostConfig: { text: DOM0_CONFIG, source: "dom0.conf", baseDir: dir } });
  host = new Host(sys);
});
afterAll(async () => {
  if (sys) await sys.run(host.shutdown());
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const hash = (s: string) => /sha256 ([0-9a-f]{64})/.exec(s)?.[1];
const create = (file: string) => sys.run(host.create(readFileSync(file, "utf8"), file));

describe("the toolstack in one thread", () => {
  it("creates a driver domain and a guest from config files, moves data, and destroys both cleanly", async () => {
    const dd = (await create(join(dir, "scsidd.cfg"))).domid;
    const vm = (await create(join(dir, "vm1.cfg"))).domid;
    expect(host.list().map((d) => [d.name, d.domid])).toEqual([
      ["Domain-0", 0],
      ["scsidd", dd],
      ["vm1", vm],
    ]);
    expect(await sys.run(sys.xs.read(`/local/domain/${dd}/backend/vscsi/${vm}/0/state`))).toBe("4");
    expect(await sys.run(sys.xs.read(`/local/domain/0/backend/vscsi/${vm}/1/state`))).toBe("4");
    const rows = await sys.run(host.scsiList(["vm1"]));
    expect(rows.map((r) => [r.idx, r.backendId, r.phyHctl, r.virHctl, r.devstate])).toEqual([
      [0, dd, "3:0:0:0", "0:0:0:0", 4],
      [1, 0, "1:0:0:0", "1:0:0:0", 4],
    ]);
    const ls = (await sys.run(host.guestCommand("vm1", ["lsscsi"]))).stdout;
    expect(ls).toMatch(
      /^\[0:0:0:0\]\s+disk\s+DDVENDOR.*\/dev\/sda\n\[1:0:0:0\]\s+disk\s+(?!DDVENDOR).*\/dev\/sdb\n$/,
    );

    // Through the driver domain's disk and back; dom0's disk does not have it.
    const w = await sys.run(
      host.guestCommand("vm1", ["dd", "of=/dev/sda", "if=pattern:5", "bs=64k", "count=4", "status=hash"]),
    );
    expect(w.exitCode).toBe(0);
    const r = await sys.run(
      host.guestCommand("vm1", ["dd", "if=/dev/sda", "bs=64k", "count=4", "status=hash"]),
    );
    expect(hash(r.stdout)).toBeDefined();
    expect(hash(r.stdout)).toBe(hash(w.stdout));
    const other = await sys.run(
      host.guestCommand("vm1", ["dd", "if=/dev/sdb", "bs=64k", "count=4", "status=hash"]),
    );
    expect(hash(other.stdout)).not.toBe(hash(w.stdout));
    const stats = (await sys.run(host.backendReport())).find((v) => v.backendDomid === dd)!.stats;
    expect(stats.bytesOut).toBeGreaterThanOrEqual(4 * 65536);
    expect(stats.bytesIn).toBeGreaterThanOrEqual(4 * 65536);

    const clean = { clean: true, mappedGrants: [], heldMappings: [], liveGrants: [], boundPorts: [] };
    expect(await sys.run(host.destroy("vm1"))).toMatchObject(clean);
    expect(await sys.run(host.destroy("scsidd"))).toMatchObject(clean);
    expect(host.list().map((d) => d.name)).toEqual(["Domain-0"]);
    expect(await sys.run(host.backendReport())).toEqual([]);
    expect(sys.hv.report(0).heldMappings).toEqual([]);
  });
});
