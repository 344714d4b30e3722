import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalSystem } from "../../src/system/single-thread.js";
import { Host } from "../../src/toolstack/host.js";

/**
 * libxl's `libxl__device_destroy` removes a device's backend and frontend paths together with
 * their parents left empty (`libxl__xs_path_cleanup`), and `libxl__destroy_domid` removes
 * `/libxl/<domid>`: after any number of creates and destroys — and creates that fail half-way —
 * the store is exactly as it was.
 */
const DOM0_CONFIG = "[disk 1:0:0:0]\nsize = 8M\nshareable = yes\n[disk 1:0:0:1]\nfile = missing.img\n";
const DD_HOST = "[disk 3:0:0:0]\nsize = 8M\n";

let dir: string;
let sys: LocalSystem;
let host: Host;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "pvscsi-xs-clean-"));
  writeFileSync(join(dir, "dd.conf"), DD_HOST);
  sys = await LocalSystem.start({ hostConfig: { text: DOM0_CONFIG, source: "dom0.conf", baseDir: dir } });
  host = new Host(sys, { stateTimeoutMs: 2000 });
});
afterAll(async () => {
  if (sys) await sys.run(host.shutdown());
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const dump = () => JSON.stringify(host.xenstored.db.dump());
const create = (text: string) => sys.run(host.create(text, join(dir, "d.cfg")));

describe("xenstore after destroys and failed creates", () => {
  it("is exactly as before 20 create/destroy cycles, failing creates and a driver domain", async () => {
    const before = dump();
    for (let i = 0; i < 20; i++) {
      await create(`name = "g${i}"\nvscsi = [ '/dev/sda,0:0:0:0', '1:0:0:0,1:0:0:1' ]\n`);
      await sys.run(host.destroy(`g${i}`));
    }
    // A create whose device cannot be opened fails after its controller was written.
    await expect(create(`name = "bad"\nvscsi = [ '1:0:0:1,0:0:0:0' ]\n`)).rejects.toThrow(/missing\.img/);
    // Refused attaches, to a running controller and as a new one, then the guest destroyed.
    await create(`name = "h"\nvscsi = [ '/dev/sda,0:0:0:0' ]\n`);
    const mid = dump();
    await expect(sys.run(host.scsiAttach("h", "1:0:0:1", "0:0:0:1"))).rejects.toThrow(/missing\.img/);
    await expect(sys.run(host.scsiAttach("h", "1:0:0:1", "2:0:0:0"))).rejects.toThrow(/missing\.img/);
    expect(dump()).toBe(mid);
    await sys.run(host.destroy("h"));
    // A driver domain serving a guest, both destroyed.
    await create(`name = "dd"\ndriver_domain = 1\nscsi_host_config = "dd.conf"\n`);
    await create(`name = "g"\nvscsi = [ '/dev/sda,0:0:0:0,backend=dd' ]\n`);
    await sys.run(host.destroy("g"));
    await sys.run(host.destroy("dd"));
    expect(host.list().map((d) => d.name)).toEqual(["Domain-0"]);
    expect(dump()).toBe(before);
  });
});
