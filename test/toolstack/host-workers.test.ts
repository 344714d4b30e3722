import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Host } from "../../src/toolstack/host.js";

/**
 * The threaded host: xenstored and the toolstack here, dom0's scsiback in a worker, each guest's
 * scsifront in a worker. Only rings, grants, event channels and xenstore carry the protocol.
 */
const HOST_CONFIG = `
[disk 1:0:0:0]
size = 16M
[disk 1:0:1:0]
size = 16M
[disk 1:0:2:0]
size = 16M
shareable = yes
[disk 1:0:3:0]
size = 16M
`;

let host: Host;
beforeAll(async () => {
  host = await Host.start({ hostConfig: { text: HOST_CONFIG, source: "test-host.conf", baseDir: "/tmp" } });
});
afterAll(async () => {
  await host?.shutdown();
});

describe("threaded host with real workers", () => {
  it("creates a guest from an xl config; the guest scans, writes and reads its disks", async () => {
    const cfg = `name = "vm1"\nmemory = 16\nvscsi = [ '/dev/sda,0:0:0:0', '1:0:1:0,0:0:1:0' ]\n`;
    const { domid } = await host.create(cfg, "vm1.cfg");
    expect(domid).toBeGreaterThan(0);
    const ls = await host.guestCommand("vm1", ["lsscsi"]);
    expect(ls.stdout).toMatch(/^\[0:0:0:0\]\s+disk\s+.*\/dev\/sda\n\[0:0:1:0\]\s+disk\s+.*\/dev\/sdb\n$/);
    const proc = await host.guestCommand("vm1", ["cat", "/proc/scsi/scsi"]);
    expect(proc.stdout).toContain("Host: scsi0 Channel: 00 Id: 01 Lun: 00");

    const w = await host.guestCommand("vm1", [
      "dd",
      "of=/dev/sdb",
      "if=pattern:7",
      "bs=64k",
      "count=32",
      "status=hash",
    ]);
    expect(w.exitCode).toBe(0);
    const r = await host.guestCommand("vm1", ["dd", "if=/dev/sdb", "bs=64k", "count=32", "status=hash"]);
    expect(r.exitCode).toBe(0);
    const hash = (s: string) => /sha256 ([0-9a-f]{64})/.exec(s)?.[1];
    expect(hash(r.stdout)).toBe(hash(w.stdout));
    expect(r.stdout).toContain("32+0 records in");

    const rows = await host.scsiList(["vm1"]);
    expect(rows.map((x) => [x.idx, x.ctrl, x.phyHctl, x.virHctl, x.devstate])).toEqual([
      [0, 0, "1:0:0:0", "0:0:0:0", 4],
      [0, 0, "1:0:1:0", "0:0:1:0", 4],
    ]);
  });

  it("hot-attaches and detaches, and refuses what xl refuses", async () => {
    await host.scsiAttach("vm1", "/dev/sdc", "0:0:2:0");
    expect((await host.guestCommand("vm1", ["lsscsi"])).stdout).toContain("[0:0:2:0]");
    await expect(host.scsiAttach("vm1", "/dev/sdd", "0:0:2:0")).rejects.toThrow(
      /vdev '0:0:2:0' is already used/,
    );
    await expect(host.scsiAttach("vm1", "/dev/sdd", "0:0:3:0", "feature-host")).rejects.toThrow(
      /different feature-host/,
    );
    await expect(host.scsiAttach("vm1", "/dev/sdz", "0:0:3:0")).rejects.toThrow(
      /pdev '\/dev\/sdz' does not exist in dom0/,
    );
    await expect(host.scsiAttach("vm1", "/dev/sda", "0:0:4:0")).rejects.toThrow(
      /\/dev\/sda \(1:0:0:0\) is already assigned to vm1 and is not shareable/,
    );
    // A second controller (vHOST 1) with feature-host.
    await host.scsiAttach("vm1", "1:0:3:0", "1:0:0:0", "feature-host");
    const rows = await host.scsiList(["vm1"]);
    expect(rows.map((x) => `${x.idx}/${x.ctrl} ${x.virHctl} ${x.devstate}`)).toEqual([
      "0/0 0:0:0:0 4",
      "0/0 0:0:1:0 4",
      "0/0 0:0:2:0 4",
      "1/1 1:0:0:0 4",
    ]);
    await host.scsiDetach("vm1", "0:0:1:0");
    await host.scsiDetach("vm1", "1:0:0:0");
    expect((await host.scsiList(["vm1"])).map((x) => x.virHctl)).toEqual(["0:0:0:0", "0:0:2:0"]);
    await expect(host.scsiDetach("vm1", "0:0:9:0")).rejects.toThrow(
      /detach failed: 0:0:9:0 does not exist in domid/,
    );
  });

  it("a second guest cannot take a non-shareable disk the first holds, but may share a shareable one", async () => {
    await expect(host.create(`name = "vm2"\nvscsi = [ '/dev/sda,0:0:0:0' ]\n`, "vm2.cfg")).rejects.toThrow(
      /^vm2\.cfg:2: \/dev\/sda \(1:0:0:0\) is already assigned to vm1 and is not shareable/,
    );
    expect(host.list().map((d) => d.name)).toEqual(["Domain-0", "vm1"]);
    await host.create(`name = "vm2"\nvscsi = [ '/dev/sdc,0:0:0:0' ]\n`, "vm2.cfg");
    const other = await host.guestCommand("vm2", ["lsscsi"]);
    expect(other.stdout).toMatch(/\[0:0:0:0\]\s+disk/);
    // Isolation: vm2 reaches nothing it was not given, whatever address it sends to.
    const probe = await host.guestCommand("vm2", ["sg_inq", "0:0:1:0"]);
    expect(probe.exitCode).not.toBe(0);
  });

  it("--force gives a device that is not shareable to another guest anyway, at create and at attach", async () => {
    await host.create(`name = "vm3"\nvscsi = [ '/dev/sda,0:0:0:0' ]\n`, "vm3.cfg", { force: true });
    await host.scsiAttach("vm3", "/dev/sdb", "0:0:1:0", undefined, { force: true });
    expect((await host.scsiList(["vm3"])).map((r) => [r.phyHctl, r.devstate])).toEqual([
      ["1:0:0:0", 4],
      ["1:0:1:0", 4],
    ]);
    expect((await host.guestCommand("vm3", ["sg_inq", "/dev/sda"])).exitCode).toBe(0);
    expect(await host.destroy("vm3")).toMatchObject({ clean: true });
  });

  it("destroys guests with nothing left behind", async () => {
    for (const name of ["vm2", "vm1"]) {
      const report = await host.destroy(name);
      expect(report).toMatchObject({
        clean: true,
        mappedGrants: [],
        heldMappings: [],
        liveGrants: [],
        boundPorts: [],
      });
    }
    expect(host.list().map((d) => d.name)).toEqual(["Domain-0"]);
    expect(await host.backendReport()).toEqual([]);
  });
});
