import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseHostConfig } from "../../../src/targets/inventory/host-config.js";
import { formatLsscsi, Inventory } from "../../../src/targets/inventory/inventory.js";

/**
 * A unit that cannot be opened at boot does not fail the host: it is listed with its cause, and
 * {@link Inventory.reopen} (what an attach does) opens it once the cause is fixed. `create = yes`
 * makes a missing folder instead of failing.
 */
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pvscsi-unopenable-"));
  await mkdir(join(dir, "adir"));
  await writeFile(join(dir, "odd.iso"), Buffer.alloc(3000));
  await writeFile(join(dir, "notadir"), "x");
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const CONFIG = `[disk 0:0:0:0]
file = missing.img
[disk 0:0:0:1]
file = new/sub/made.img
create = yes
size = 1M
[disk 0:0:0:2]
file = adir
[cdrom 0:0:1:0]
file = odd.iso
[tape 0:0:2:0]
cartridges = notadir
load = A00001L6
capacity = 2M
[tape 0:0:3:0]
[changer 0:0:3:1]
cartridges = notadir
slots = 2
drives = 0:0:3:0
`;

describe("units that cannot be opened at boot", () => {
  it("are listed with their cause, a create = yes folder is made, and a fixed image reopens", async () => {
    const inv = await Inventory.open(parseHostConfig(CONFIG, "h.conf", dir), { lockDir: join(dir, "locks") });
    const f = inv.list().map((r) => r.fault);
    expect(f[0]).toBe(`image ${join(dir, "missing.img")}: does not exist`);
    expect(f[1]).toBeNull();
    expect(existsSync(join(dir, "new/sub/made.img"))).toBe(true);
    expect(f[2]).toBe(`image ${join(dir, "adir")}: is not a regular file`);
    expect(f[3]).toMatch(/odd\.iso: size 3000 is not a whole number of 2048-byte blocks/);
    expect(f[4]).toBe(`cartridge directory ${join(dir, "notadir")}: is not a directory`);
    expect(f[6]).toBe(`cartridges folder ${join(dir, "notadir")}: is not a directory`);
    const listing = formatLsscsi(inv.list());
    expect(listing).toContain(`    ^ not ready: image ${join(dir, "missing.img")}: does not exist\n`);
    // Still missing: the reopen says so again; once made, it opens and replaces the unit.
    const e = inv.entries[0]!;
    const before = e.device;
    expect(await inv.reopen(e)).toMatch(/does not exist/);
    await writeFile(join(dir, "missing.img"), Buffer.alloc(1 << 20));
    expect(await inv.reopen(e)).toBeNull();
    expect(e.fault).toBeNull();
    expect(e.device).not.toBe(before);
    expect(e.target.unit(0)).toBe(e.device);
    expect(inv.list()[0]!.fault).toBeNull();
    await inv.close();
  });
});
