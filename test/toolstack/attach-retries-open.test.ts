import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalSystem } from "../../src/system/single-thread.js";
import { Host } from "../../src/toolstack/host.js";

/**
 * A device that could not be opened at boot is listed with its cause, an attach of it says why it
 * was refused, and a later attach opens it again (after the image was made) without a restart.
 */
let dir: string;
let sys: LocalSystem;
let host: Host;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "pvscsi-retry-open-"));
  sys = await LocalSystem.start({
    hostConfig: { text: "[disk 1:0:0:0]\nfile = later.img\n", source: "dom0.conf", baseDir: dir },
  });
  host = new Host(sys, { stateTimeoutMs: 2000 });
});
afterAll(async () => {
  if (sys) await sys.run(host.shutdown());
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("a device that cannot be opened at boot", () => {
  it("is reported with its cause, refused with it on attach, and opened by a later attach", async () => {
    const img = join(dir, "later.img");
    expect(host.inventory[0]!.fault).toBe(`image ${img}: does not exist`);
    // xl create returns the config's warnings with its result (printed on stderr by the CLI).
    const created = await sys.run(host.create(`name = "g"\nvscsii = []\n`, join(dir, "g.cfg")));
    expect(created.warnings).toEqual([expect.stringMatching(/g\.cfg:2: unknown setting 'vscsii' ignored/)]);
    await expect(sys.run(host.scsiAttach("g", "1:0:0:0", "0:0:0:0"))).rejects.toThrow(
      `1:0:0:0: the backend refused the device: not ready: image ${img}: does not exist`,
    );
    writeFileSync(img, Buffer.alloc(1 << 20));
    await sys.run(host.scsiAttach("g", "1:0:0:0", "0:0:0:0"));
    const rows = await sys.run(host.scsiList(["g"]));
    expect(rows.map((r) => [r.phyHctl, r.devstate])).toEqual([["1:0:0:0", 4]]);
    const ls = (await sys.run(host.guestCommand("g", ["lsscsi"]))).stdout;
    expect(ls).toMatch(/\[0:0:0:0\]\s+disk/);
  });
});
