import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Host } from "../../src/toolstack/host.js";

/**
 * A driver domain (`driver_domain = 1`): its own kernel runs scsiback in its own worker over its
 * own SCSI inventory, and a guest's controller names it with `backend=`. The guest's rings,
 * grants and event channels then go to that domain, not to dom0.
 */
const DOM0_CONFIG = "[disk 1:0:0:0]\nsize = 8M\n";
const DD_CONFIG = "[disk 3:0:0:0]\nsize = 8M\nvendor = DDVENDOR\n[disk 3:0:1:0]\nsize = 8M\n";
const DD_CFG = `name = "scsidd"\ndriver_domain = 1\nmemory = 16\nscsi_host_config = "dd-host.conf"\n`;

let host: Host;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "pvscsi-dd-"));
  writeFileSync(join(dir, "dd-host.conf"), DD_CONFIG);
  host = await Host.start({ hostConfig: { text: DOM0_CONFIG, source: "dom0.conf", baseDir: dir } });
});
afterAll(async () => {
  await host?.shutdown();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const hash = (s: string) => /sha256 ([0-9a-f]{64})/.exec(s)?.[1];

describe("a driver domain serving a guest's controller", () => {
  it("boots with its own inventory and shows in xl list", async () => {
    const { domid } = await host.create(DD_CFG, join(dir, "dd.cfg"));
    expect(domid).toBeGreaterThan(0);
    expect(host.list().map((d) => [d.name, d.domid])).toEqual([
      ["Domain-0", 0],
      ["scsidd", domid],
    ]);
    await expect(host.guestCommand("scsidd", ["lsscsi"])).rejects.toThrow(/scsidd.*driver domain/);
  });

  it("a guest takes one device from the driver domain and one from dom0, each its own", async () => {
    const dd = host.list().find((d) => d.name === "scsidd")!.domid;
    const cfg = `name = "vm1"\nvscsi = [ '/dev/sda,0:0:0:0,backend=scsidd', '/dev/sda,1:0:0:0' ]\n`;
    const { domid } = await host.create(cfg, "vm1.cfg");

    // Xenstore as libxl lays it out for a driver domain: the backend under the driver domain's home,
    // owned by it and readable by the guest; the frontend names it.
    const be = `/local/domain/${dd}/backend/vscsi/${domid}/0`;
    expect(await host.xs.read(`${be}/state`)).toBe("4");
    expect(await host.xs.getPerms(be)).toEqual([
      { id: dd, perms: 0 }, // n<dd>: owned by the driver domain, nobody else by default
      { id: domid, perms: 1 }, // r<guest>
    ]);
    expect(await host.xs.read(`/local/domain/${domid}/device/vscsi/0/backend-id`)).toBe(String(dd));
    expect(await host.xs.read(`/local/domain/${domid}/device/vscsi/0/backend`)).toBe(be);
    expect(await host.xs.read(`/local/domain/0/backend/vscsi/${domid}/1/state`)).toBe("4");

    const rows = await host.scsiList(["vm1"]);
    expect(rows.map((r) => [r.idx, r.backendId, r.ctrl, r.phyHctl, r.virHctl, r.devstate])).toEqual([
      [0, dd, 0, "3:0:0:0", "0:0:0:0", 4],
      [1, 0, 1, "1:0:0:0", "1:0:0:0", 4],
    ]);
    const ls = (await host.guestCommand("vm1", ["lsscsi"])).stdout;
    expect(ls).toMatch(
      /^\[0:0:0:0\]\s+disk\s+DDVENDOR.*\/dev\/sda\n\[1:0:0:0\]\s+disk\s+(?!DDVENDOR).*\/dev\/sdb\n$/,
    );

    // Data goes to the driver domain's disk and comes back; dom0's disk is untouched.
    const w = await host.guestCommand("vm1", [
      "dd",
      "of=/dev/sda",
      "if=pattern:9",
      "bs=64k",
      "count=16",
      "status=hash",
    ]);
    expect(w.exitCode).toBe(0);
    const r = await host.guestCommand("vm1", ["dd", "if=/dev/sda", "bs=64k", "count=16", "status=hash"]);
    expect(hash(r.stdout)).toBe(hash(w.stdout));
    const other = await host.guestCommand("vm1", ["dd", "if=/dev/sdb", "bs=64k", "count=16", "status=hash"]);
    expect(hash(other.stdout)).not.toBe(hash(w.stdout));

    const report = await host.backendReport();
    expect(report.map((v) => [v.backendDomid, v.frontendDomid, v.devid])).toEqual([
      [0, domid, 1],
      [dd, domid, 0],
    ]);
    // The driver domain's vhost carried the 1 MiB each way (64 KiB x 16, plus the scan's bytes).
    const stats = report.find((v) => v.backendDomid === dd)!.stats;
    expect(stats.bytesOut).toBeGreaterThanOrEqual(1 << 20);
    expect(stats.bytesIn).toBeGreaterThanOrEqual(1 << 20);
    expect(Object.values(stats.rejected).every((n) => n === 0)).toBe(true);
  });

  it("hot-attaches through the driver domain, and refuses what cannot be", async () => {
    await host.scsiAttach("vm1", "/dev/sdb", "0:0:1:0", ["backend=scsidd"]);
    expect((await host.guestCommand("vm1", ["lsscsi"])).stdout).toContain("[0:0:1:0]");
    await expect(host.scsiAttach("vm1", "/dev/sda", "0:0:2:0", [], { force: true })).rejects.toThrow(
      /^xl scsi-attach: vHOST 0 is served by driver domain 'scsidd'; a controller has one backend domain/,
    );
    await expect(host.scsiAttach("vm1", "/dev/sdc", "2:0:0:0", ["backend=scsidd"])).rejects.toThrow(
      /pdev '\/dev\/sdc' does not exist in driver domain 'scsidd' \(devices: \/dev\/sda \(3:0:0:0\), \/dev\/sdb \(3:0:1:0\)\)/,
    );
    await expect(host.scsiAttach("vm1", "/dev/sda", "2:0:0:0", ["backend=vm1"])).rejects.toThrow(
      /backend 'vm1' is not a driver domain \(its config needs driver_domain = 1\)/,
    );
    await expect(host.scsiAttach("vm1", "/dev/sda", "2:0:0:0", ["backend=nosuch"])).rejects.toThrow(
      /backend 'nosuch' does not exist \(backend domains: Domain-0, scsidd\)/,
    );
    // A second guest may not take the driver domain's disk vm1 holds; dom0's 1:0:0:0 is another device.
    await expect(
      host.create(`name = "vm2"\nvscsi = [ '3:0:0:0,0:0:0:0,backend=scsidd' ]\n`, "vm2.cfg"),
    ).rejects.toThrow(/^vm2\.cfg:2: \/dev\/sda \(3:0:0:0\) is already assigned to vm1 and is not shareable/);
    await expect(
      host.create(
        `name = "vm2"\nvscsi = [ '/dev/sda,0:0:0:0,backend=scsidd',\n  '/dev/sda,0:0:1:0' ]\n`,
        "vm2.cfg",
        {
          force: true, // past the sharing check, to the mixed backends
        },
      ),
    ).rejects.toThrow(
      /^vm2\.cfg:3: vHOST 0 is served by driver domain 'scsidd' \(vm2\.cfg:2\); a controller has one backend domain/,
    );
    expect(host.list().map((d) => d.name)).toEqual(["Domain-0", "scsidd", "vm1"]);
  });

  it("is not destroyed while it serves a guest; afterwards everything goes, nothing left behind", async () => {
    await expect(host.destroy("scsidd")).rejects.toThrow(
      /driver domain 'scsidd' still serves the vscsi controllers of vm1 \(vHOST 0\): detach them or destroy those guests first/,
    );
    expect((await host.guestCommand("vm1", ["lsscsi"])).stdout).toContain("[0:0:0:0]");
    const clean = { clean: true, mappedGrants: [], heldMappings: [], liveGrants: [], boundPorts: [] };
    expect(await host.destroy("vm1")).toMatchObject(clean);
    expect(await host.destroy("scsidd")).toMatchObject(clean);
    expect(host.list().map((d) => d.name)).toEqual(["Domain-0"]);
    expect(await host.backendReport()).toEqual([]);
    expect(await host.xs.tryRead("/local/domain/1/name")).toBeUndefined();
  });
});

describe("driver domain configs", () => {
  const bad: Array<[string, RegExp]> = [
    [
      `name = "d"\nscsi_host_config = "x.conf"\n`,
      /^d\.cfg:2: 'scsi_host_config' is the SCSI inventory of a driver domain; add driver_domain = 1/,
    ],
    [`name = "d"\ndriver_domain = 2\n`, /^d\.cfg:2: 'driver_domain' must be 0 or 1/],
    [
      `name = "d"\ndriver_domain = 1\nvscsi = [ '/dev/sda,0:0:0:0' ]\n`,
      /^d\.cfg:3: a driver domain runs scsiback, not scsifront/,
    ],
    [
      `name = "d"\ndriver_domain = 1\nscsi_host_config = "missing.conf"\n`,
      /^d\.cfg:3: scsi_host_config 'missing\.conf' cannot be read/,
    ],
    [`name = "d"\ndriver_domain = 1\nscsi_host_config = "bad.conf"\n`, /^bad\.conf:1: /],
  ];
  for (const [text, message] of bad) {
    it(`refuses ${JSON.stringify(text)} before creating anything`, async () => {
      writeFileSync(join(dir, "bad.conf"), "[floppy 0:0:0:0]\n");
      await expect(host.create(text, "d.cfg", { baseDir: dir })).rejects.toThrow(message);
      expect(host.list().map((d) => d.name)).toEqual(["Domain-0"]);
    });
  }
});
