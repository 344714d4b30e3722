import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalSystem } from "../../src/system/single-thread.js";
import { Host } from "../../src/toolstack/host.js";
import { parseVscsiSpec } from "../../src/toolstack/vscsi-spec.js";

/**
 * The `munging=<policy>` option of a vscsi entry: parsed and checked per vHOST by the toolstack,
 * written to the controller's `munging` node, and applied by scsiback to that vhost only — a
 * REPORT SUPPORTED OPERATION CODES passes on vHOST 1 (no policy) and is refused 05/20/00 by the
 * xenlinux whitelist on vHOST 0, in the same guest.
 */
const DOM0_CONFIG = "[disk 1:0:0:0]\nsize = 8M\n[disk 1:0:1:0]\nsize = 8M\n[disk 1:0:2:0]\nsize = 8M\n";
const RSOC = "a30c00000000000000000000"; // REPORT SUPPORTED OPERATION CODES, allocation length 0

let dir: string;
let sys: LocalSystem;
let host: Host;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "pvscsi-munging-"));
  sys = await LocalSystem.start({ hostConfig: { text: DOM0_CONFIG, source: "dom0.conf", baseDir: dir } });
  host = new Host(sys);
});
afterAll(async () => {
  if (sys) await sys.run(host.shutdown());
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const create = (text: string) => sys.run(host.create(text, join(dir, "vm.cfg")));

describe("the munging=<policy> vscsi option", () => {
  it("parses the three built-in names and refuses others, naming the choices", () => {
    expect(parseVscsiSpec("1:0:0:0,0:0:0:0,munging=xenlinux", "t").munging).toBe("xenlinux");
    expect(parseVscsiSpec("1:0:0:0,0:0:0:0,feature-host,munging=raw,backend=dd", "t")).toMatchObject({
      featureHost: true,
      munging: "raw",
      backend: "dd",
    });
    expect(parseVscsiSpec("1:0:0:0,0:0:0:0", "t").munging).toBeUndefined();
    expect(() => parseVscsiSpec("1:0:0:0,0:0:0:0,munging=strict", "t")).toThrow(
      /munging policy 'strict' is not one of raw, pvops, xenlinux/,
    );
    expect(() => parseVscsiSpec("1:0:0:0,0:0:0:0,munging=raw,munging=raw", "t")).toThrow(/invalid option/);
  });

  it("refuses two settings on one vHOST", async () => {
    await expect(
      create(`name = "bad"\nvscsi = [ '1:0:0:0,0:0:0:0,munging=xenlinux', '1:0:1:0,0:0:1:0' ]\n`),
    ).rejects.toThrow(/different munging setting than the other devices of vHOST 0/);
    expect(host.list().map((d) => d.name)).toEqual(["Domain-0"]);
  });

  it("a whole HBA (vdev host) with a policy survives xl save / restore as one entry", async () => {
    const vm = (await create(`name = "hba"\nvscsi = [ '1:0:1:0,host,munging=xenlinux' ]\n`)).domid;
    const rows = await sys.run(host.scsiList(["hba"]));
    expect(rows.map((r) => r.virHctl)).toEqual(["1:0:0:0", "1:0:1:0", "1:0:2:0"]);
    expect(await sys.run(sys.xs.read(`/libxl/${vm}/vscsi/${rows[0]!.idx}/hba`))).toBe("1");
    const file = join(dir, "hba.save");
    await sys.run(host.save("hba", file));
    const back = (await sys.run(host.restore(file))).domid;
    const again = await sys.run(host.scsiList(["hba"]));
    expect(again.map((r) => `${r.virHctl}=${r.devstate}`)).toEqual(["1:0:0:0=4", "1:0:1:0=4", "1:0:2:0=4"]);
    expect(await sys.run(sys.xs.read(`/libxl/${back}/vscsi/${again[0]!.idx}/hba`))).toBe("1");
    expect(await sys.run(sys.xs.read(`/local/domain/0/backend/vscsi/${back}/${again[0]!.idx}/munging`))).toBe(
      "xenlinux",
    );
    await sys.run(host.destroy("hba"));
  });

  it("applies the policy to its own vhost only, and scsi-attach must agree with it", async () => {
    const vm = (
      await create(`name = "vm1"\nvscsi = [ '1:0:0:0,0:0:0:0,munging=xenlinux', '1:0:1:0,1:0:0:0' ]\n`)
    ).domid;
    expect(await sys.run(sys.xs.read(`/local/domain/0/backend/vscsi/${vm}/0/munging`))).toBe("xenlinux");
    expect(await sys.run(sys.xs.tryRead(`/local/domain/0/backend/vscsi/${vm}/1/munging`))).toBeUndefined();
    const send = (hctl: string) => sys.run(host.guestCommand("vm1", ["vscsiif-send", hctl, `cdb=${RSOC}`]));
    // Drain each LUN's power-on unit attention.
    for (const h of ["0:0:0:0", "1:0:0:0"]) for (let i = 0; i < 3; i++) await send(h);
    const munged = (await send("0:0:0:0")).stdout;
    const passed = (await send("1:0:0:0")).stdout;
    expect(munged).toMatch(/status 0x02\)/);
    expect(munged).toMatch(/sense=700005[0-9a-f]{8}0a[0-9a-f]{8}2000/);
    expect(passed).toMatch(/status 0x00\)/);
    await expect(sys.run(host.scsiAttach("vm1", "1:0:2:0", "0:0:2:0", []))).rejects.toThrow(
      /different munging setting than vHOST 0 \(munging=xenlinux\)/,
    );
    await sys.run(host.scsiAttach("vm1", "1:0:2:0", "0:0:2:0", ["munging=xenlinux"]));
    for (let i = 0; i < 3; i++) await send("0:0:2:0");
    expect((await send("0:0:2:0")).stdout).toMatch(/status 0x02\)/);
    await sys.run(host.destroy("vm1"));
  });
});
