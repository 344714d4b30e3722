import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalSystem } from "../../src/system/single-thread.js";
import { Host } from "../../src/toolstack/host.js";

/**
 * A guest with a vscsi disk and a VBD over the same kind of dom0 unit, in one thread: `disk = [...]`
 * in the config, `lsblk`, `dd` over xvda (data checked through the sd path of the same image),
 * hot-plug with `xl block-attach` (a CD-ROM, read-only), `xl block-list`, hot-unplug, destroy
 * with nothing left behind.
 */
const HOST = "[disk 0:0:0:0]\nsize = 8M\n[disk 0:0:0:1]\nsize = 4M\nthin = yes\n[cdrom 0:0:1:0]\n";
const CFG = `name = "both"\nvscsi = [ '0:0:0:0,0:0:0:0' ]\ndisk = [ 'format=raw, vdev=xvda, access=rw, target=0:0:0:0', '/dev/sdb,,xvdb' ]\n`;

let dir: string;
let sys: LocalSystem;
let host: Host;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "pvscsi-blk-"));
  writeFileSync(join(dir, "both.cfg"), CFG);
  sys = await LocalSystem.start({ hostConfig: { text: HOST, source: "host.conf", baseDir: dir } });
  host = new Host(sys);
});
afterAll(async () => {
  if (sys) await sys.run(host.shutdown());
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const hash = (s: string) => /sha256 ([0-9a-f]{64})/.exec(s)?.[1];
const cmd = (argv: string[]) => sys.run(host.guestCommand("both", argv));

describe("Xen virtual block devices end to end", () => {
  it("connects disk = [...], moves data on xvda that sda reads back, hot-plugs and unplugs, destroys cleanly", async () => {
    const { domid } = await sys.run(host.create(CFG, join(dir, "both.cfg")));
    const be = `/local/domain/0/backend/vbd/${domid}/51712`;
    expect(await sys.run(sys.xs.read(`${be}/state`))).toBe("4");
    expect(await sys.run(sys.xs.read(`${be}/sectors`))).toBe(String((8 << 20) / 512));
    expect(await sys.run(sys.xs.read(`${be}/feature-max-indirect-segments`))).toBe("256");
    expect(await sys.run(sys.xs.read(`/local/domain/${domid}/device/vbd/51712/protocol`))).toBe("x86_64-abi");
    expect(await sys.run(sys.xs.read(`/local/domain/0/backend/vbd/${domid}/51728/feature-discard`))).toBe(
      "1",
    );
    const ls = (await cmd(["lsblk"])).stdout;
    expect(ls).toMatch(
      /^NAME +MAJ:MIN RM SIZE RO TYPE\nxvda +202:0 +0 +8M +0 disk\nxvdb +202:16 +0 +4M +0 disk\n$/,
    );

    const w = await cmd([
      "dd",
      "of=/dev/xvda",
      "if=pattern:5",
      "bs=128k",
      "count=8",
      "seek=3",
      "status=hash",
    ]);
    expect(w.exitCode, w.stderr).toBe(0);
    const rx = await cmd(["dd", "if=/dev/xvda", "bs=128k", "count=8", "skip=3", "status=hash"]);
    const rs = await cmd(["dd", "if=/dev/sda", "bs=128k", "count=8", "skip=3", "status=hash"]);
    expect(hash(rx.stdout)).toBe(hash(w.stdout));
    expect(hash(rs.stdout)).toBe(hash(w.stdout));
    const end = await cmd(["dd", "of=/dev/xvdb", "bs=1M", "count=5"]);
    expect(end.exitCode).toBe(1);
    expect(end.stderr).toMatch(/No space left on device/);

    await sys.run(host.blockAttach("both", ["/dev/sr0", "raw", "xvdc", "ro", "devtype=cdrom"]));
    const rows = await sys.run(host.blockList("both"));
    expect(rows.map((r) => [r.vdev, r.name, r.backendId, r.state, r.target, r.mode])).toEqual([
      [51712, "xvda", 0, 4, "0:0:0:0", "w"],
      [51728, "xvdb", 0, 4, "0:0:0:1", "w"],
      [51744, "xvdc", 0, 4, "0:0:1:0", "r"],
    ]);
    expect((await cmd(["lsblk"])).stdout).toMatch(/xvdc +202:32 +1 +0B +1 rom\n$/);
    const ro = await cmd(["dd", "of=/dev/xvdc", "bs=4k", "count=1"]);
    expect(ro.stderr).toMatch(/Read-only file system/);

    await sys.run(host.blockDetach("both", "xvdc"));
    expect((await sys.run(host.blockList("both"))).map((r) => r.name)).toEqual(["xvda", "xvdb"]);
    expect((await cmd(["lsblk"])).stdout).not.toMatch(/xvdc/);
    await expect(sys.run(host.blockDetach("both", "xvdq"))).rejects.toThrow(/Device xvdq not connected/);

    const fio = await cmd([
      "fio",
      "--rw=randrw",
      "--bs=8k",
      "--numjobs=2",
      "--number_ios=20",
      "--json",
      "--filename=/dev/sda:/dev/xvda",
    ]);
    expect(fio.exitCode, fio.stderr).toBe(0);
    const r = JSON.parse(fio.stdout) as { errors: number; devices: Array<{ reads: number; writes: number }> };
    expect(r.errors).toBe(0);
    for (const d of r.devices) expect(d.reads + d.writes).toBeGreaterThanOrEqual(40);

    const report = await sys.run(host.destroy("both"));
    expect(report.clean).toBe(true);
    expect(await sys.run(sys.xs.tryRead(`/local/domain/0/backend/vbd/${domid}`))).toBeUndefined();
    // dom0's blkback let go of every ring and data page it mapped.
    const dom0 = sys.hv.reports().find((r) => r.domid === 0)!;
    expect({ mapped: dom0.mappedGrants, held: dom0.heldMappings }).toEqual({ mapped: [], held: [] });
  });
});
