import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseHostConfig } from "../../../src/targets/inventory/host-config.js";
import { formatLsscsi, Inventory } from "../../../src/targets/inventory/inventory.js";

/**
 * Two hosts on one host config: every file a unit writes — a writable disk image, a loaded tape
 * cartridge, a changer's state file — is locked by the first, and the second host's unit is a
 * fault naming the file and the holder (as QEMU refuses a second writer of an image). Read-only
 * images and `shareable = yes` units are not locked; closing the first host lets the second
 * reopen its units.
 */
let dir: string;
let locks: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pvscsi-locking-"));
  locks = join(dir, "locks");
  await writeFile(join(dir, "disk.img"), Buffer.alloc(1 << 20));
  await writeFile(join(dir, "shared.img"), Buffer.alloc(1 << 20));
  await writeFile(join(dir, "ro.img"), Buffer.alloc(1 << 20));
  await writeFile(join(dir, "cd.iso"), Buffer.alloc(4 * 2048));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const CONFIG = `[disk 0:0:0:0]
file = disk.img
[disk 0:0:0:1]
file = shared.img
shareable = yes
[disk 0:0:0:2]
file = ro.img
read-only = yes
[cdrom 0:0:1:0]
file = cd.iso
[tape 0:0:2:0]
cartridges = loose
load = L00001L5
capacity = 2M
[tape 0:0:3:0]
[changer 0:0:3:1]
cartridges = vault
slots = 2
drives = 0:0:3:0
barcodes = V00001L6
capacity = 2M
`;

const open = (name: string) =>
  Inventory.open(parseHostConfig(CONFIG, `${name}.conf`, dir), { lockOwner: name, lockDir: locks });

describe("image locking between hosts", () => {
  it("the second host faults the locked units, naming file and holder, and reopens them once released", async () => {
    const a = await open("hostA");
    expect(a.entries.map((e) => e.fault)).toEqual([null, null, null, null, null, null, null]);
    const b = await open("hostB");
    const faults = b.entries.map((e) => e.fault);
    expect(faults[0]).toMatch(/disk\.img: in use by another pvscsi host \(hostA, pid \d+/);
    expect(faults.slice(1, 4)).toEqual([null, null, null]); // shareable, read-only, CD-ROM
    expect(faults[4]).toMatch(/loose\/L00001L5\.pvtape: in use by another pvscsi host \(hostA/);
    expect(faults[5]).toBeNull(); // the changer's drive holds nothing yet
    expect(faults[6]).toMatch(/changer-0-0-3-1\.json: in use by another pvscsi host \(hostA/);
    expect(formatLsscsi(b.list())).toMatch(/\n {4}\^ not ready: .*disk\.img: in use by another pvscsi host/);
    // Still held: a reopen fails the same way.
    expect(await b.reopen(b.entries[0]!)).toMatch(/in use by another pvscsi host \(hostA/);
    await a.close();
    expect(await b.reopen(b.entries[0]!)).toBeNull();
    expect(await b.reopen(b.entries[4]!)).toBeNull();
    expect(b.entries[0]!.fault).toBeNull();
    expect(b.find("0:0:0:0")!.device).toBe(b.entries[0]!.target.unit(0));
    // Now b holds them: a third host is refused with b as the holder.
    const c = await open("hostC");
    expect(c.entries[0]!.fault).toMatch(/\(hostB, pid/);
    await c.close();
    await b.close();
    // All released: a fresh host opens everything.
    const d = await open("hostD");
    expect(d.entries.filter((e) => e.fault !== null)).toEqual([]);
    await d.close();
  });

  it("a host in another process is refused too", async () => {
    const a = await open("hostA");
    const script = `
      const { parseHostConfig } = await import(${JSON.stringify(join(process.cwd(), "src/targets/inventory/host-config.ts"))});
      const { Inventory } = await import(${JSON.stringify(join(process.cwd(), "src/targets/inventory/inventory.ts"))});
      const inv = await Inventory.open(parseHostConfig(${JSON.stringify(CONFIG)}, "p.conf", ${JSON.stringify(dir)}), { lockOwner: "other", lockDir: ${JSON.stringify(locks)} });
      console.log(JSON.stringify(inv.entries.map((e) => e.fault)));
      await inv.close();`;
    const out = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      encoding: "utf8",
    });
    const faults = JSON.parse(out.trim().split("\n").pop()!) as Array<string | null>;
    expect(faults[0]).toMatch(new RegExp(`in use by another pvscsi host \\(hostA, pid ${process.pid}`));
    await a.close();
  });
});
