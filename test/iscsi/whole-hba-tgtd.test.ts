import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalSystem } from "../../src/system/single-thread.js";
import { Host } from "../../src/toolstack/host.js";
import { requireSystem } from "../_support/system.js";
import { startTgtd, type Tgtd } from "./_tgtd.js";

/**
 * Whole-HBA passthrough (xm's vdev `host`) of an `[iscsi-target]` host: one vscsi entry gives the
 * guest every LUN tgtd reports, at dom0's own h:c:t:l with feature-host; a LU tgtadm adds later
 * is hot-plugged in by `xl scsi-rescan` (state 7 → 8), one it deletes is hot-plugged out, and
 * the controller stays when its last unit goes.
 */
const have = requireSystem({ pkg: "tgt", program: "tgtd" }, { pkg: "tgt", program: "tgtadm" });
const PORT = 27000 + (process.pid % 2000);
const IQN = "iqn.2026-12.test:whole-hba";
let tgtd: Tgtd | undefined;
let sys: LocalSystem | undefined;
let host: Host | undefined;
let dir = "";

describe.runIf(have)("whole-HBA passthrough of a tgtd target", () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "pvscsi-hba-"));
    tgtd = await startTgtd({
      port: PORT,
      control: 700 + (process.pid % 100),
      iqn: IQN,
      luns: [
        { lun: 1, size: 4 * 1024 * 1024 },
        { lun: 2, size: 8 * 1024 * 1024 },
      ],
      maxSeconds: 240,
    });
    const conf = `[disk 0:0:0:0]\nsize = 8M\n\n[iscsi-target 2:0:0]\nportal = 127.0.0.1:${PORT}\ntarget = ${IQN}\n`;
    sys = await LocalSystem.start({ hostConfig: { text: conf, source: "dom0.conf", baseDir: dir } });
    host = new Host(sys);
  }, 60_000);

  afterAll(async () => {
    if (sys && host) await sys.run(host.shutdown());
    await tgtd?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const run = <T>(p: Promise<T>) => sys!.run(p);
  const lsscsi = async () => (await run(host!.guestCommand("vm1", ["lsscsi"]))).stdout;
  const devstates = async () =>
    (await run(host!.scsiList(["vm1"]))).map((r) => `${r.virHctl}=${r.devstate}`).sort();

  it("gives the guest every LUN of the host, at dom0's h:c:t:l, with feature-host", async () => {
    const cfg = `name = "vm1"\nvscsi = [ '2:0:0:1,host', '0:0:0:0,0:0:0:0' ]\n`;
    const vm = (await run(host!.create(cfg, join(dir, "vm1.cfg")))).domid;
    expect(await devstates()).toEqual(["0:0:0:0=4", "2:0:0:1=4", "2:0:0:2=4"]);
    const devs = await run(host!.scsiList(["vm1"]));
    const hbaCtrl = devs.find((r) => r.virHctl === "2:0:0:1")!.idx;
    expect(await run(sys!.xs.read(`/local/domain/0/backend/vscsi/${vm}/${hbaCtrl}/feature-host`))).toBe("1");
    const ls = await lsscsi();
    expect(ls).toMatch(/^\[\d+:0:0:1\]\s+disk\s+IET\s+VIRTUAL-DISK/m);
    expect(ls).toMatch(/^\[\d+:0:0:2\]\s+disk\s+IET\s+VIRTUAL-DISK/m);
  }, 60_000);

  it("hot-plugs a LU that tgtadm adds, and out one it deletes, through a rescan", async () => {
    await tgtd!.addLun({ lun: 3, size: 2 * 1024 * 1024 });
    const r = await run(host!.scsiRescan({ host: 2 }));
    expect(r.added).toEqual(["2:0:0:3"]);
    expect(r.plugged).toEqual(["vm1 2:0:0:3"]);
    expect(await devstates()).toEqual(["0:0:0:0=4", "2:0:0:1=4", "2:0:0:2=4", "2:0:0:3=4"]);
    expect(await lsscsi()).toMatch(/^\[\d+:0:0:3\]\s+disk\s+IET/m);
    // The new LU carries data through the ring (its 2 MiB capacity from READ CAPACITY).
    const sd = /^\[\d+:0:0:3\].*\s(\/dev\/\S+)$/m.exec(await lsscsi())![1]!;
    expect((await run(host!.guestCommand("vm1", ["sg_readcap", sd]))).stdout).toMatch(/4096/);

    await tgtd!.tgtadm(
      "--lld",
      "iscsi",
      "--op",
      "delete",
      "--mode",
      "logicalunit",
      "--tid",
      "1",
      "--lun",
      "2",
    );
    const r2 = await run(host!.scsiRescan());
    expect(r2.removed).toEqual(["2:0:0:2"]);
    expect(r2.unplugged).toEqual(["vm1 2:0:0:2"]);
    expect(await devstates()).toEqual(["0:0:0:0=4", "2:0:0:1=4", "2:0:0:3=4"]);
    expect(await lsscsi()).not.toMatch(/^\[\d+:0:0:2\]/m);
  }, 90_000);

  it("keeps the controller when its last unit goes, and fills it again", async () => {
    for (const lun of ["1", "3"])
      await tgtd!.tgtadm(
        "--lld",
        "iscsi",
        "--op",
        "delete",
        "--mode",
        "logicalunit",
        "--tid",
        "1",
        "--lun",
        lun,
      );
    const r = await run(host!.scsiRescan({ host: 2 }));
    expect(r.unplugged.sort()).toEqual(["vm1 2:0:0:1", "vm1 2:0:0:3"]);
    expect(await devstates()).toEqual(["0:0:0:0=4"]);
    await tgtd!.addLun({ lun: 5, size: 1024 * 1024 });
    const r2 = await run(host!.scsiRescan({ host: 2 }));
    expect(r2.plugged).toEqual(["vm1 2:0:0:5"]);
    expect(await lsscsi()).toMatch(/^\[\d+:0:0:5\]\s+disk\s+IET/m);
  }, 90_000);

  it("follows by itself when a command meets 06/3F/0E REPORTED LUNS DATA HAS CHANGED", async () => {
    await tgtd!.addLun({ lun: 6, size: 1024 * 1024 });
    // The guest's next command to a unit of that target carries tgtd's unit attention (feature-host
    // passes it to the guest too); dom0 rescans and the toolstack hot-plugs, with no xl command.
    const at = /^\[(\d+:0:0:5)\]/m.exec(await lsscsi())![1]!; // the guest's own host number
    const tur = await run(host!.guestCommand("vm1", ["vscsiif-send", at]));
    expect(tur.stdout).toMatch(/sense=70000600000000[0-9a-f]{2}000000003f0e/);
    let states: string[] = [];
    // Bounded (30 s) for a loaded machine; it usually takes a few hundred milliseconds.
    for (let i = 0; i < 600; i++) {
      states = await devstates();
      if (states.includes("2:0:0:6=4")) break;
      await run(new Promise((r) => setTimeout(r, 50)));
    }
    expect(states).toEqual(["0:0:0:0=4", "2:0:0:5=4", "2:0:0:6=4"]);
    expect(await lsscsi()).toMatch(/^\[\d+:0:0:6\]\s+disk\s+IET/m);
  }, 90_000);

  it("does the same for a driver domain's [iscsi-target], and stops watching it when it goes", async () => {
    writeFileSync(
      join(dir, "dd-host.conf"),
      `[iscsi-target 4:0:0]\nportal = 127.0.0.1:${PORT}\ntarget = ${IQN}\ninitiator = iqn.2026-12.org.pvscsi:scsidd\n`,
    );
    const ddCfg = `name = "scsidd"\ndriver_domain = 1\nmemory = 16\nscsi_host_config = "dd-host.conf"\n`;
    await run(host!.create(ddCfg, join(dir, "scsidd.cfg")));
    await run(
      host!.create(`name = "vm2"\nvscsi = [ '4:0:0:5,host,backend=scsidd' ]\n`, join(dir, "vm2.cfg")),
    );
    const ls2 = async () => (await run(host!.guestCommand("vm2", ["lsscsi"]))).stdout;
    expect((await ls2()).match(/disk\s+IET/g)).toHaveLength(2); // LUNs 5 and 6
    await tgtd!.addLun({ lun: 7, size: 1024 * 1024 });
    const at = /^\[(\d+:0:0:5)\]/m.exec(await ls2())![1]!;
    await run(host!.guestCommand("vm2", ["vscsiif-send", at]));
    let n = 0;
    for (let i = 0; i < 600 && n < 3; i++) {
      n = (await ls2()).match(/disk\s+IET/g)?.length ?? 0;
      if (n < 3) await run(new Promise((r) => setTimeout(r, 50)));
    }
    expect(await ls2()).toMatch(/^\[\d+:0:0:7\]\s+disk\s+IET/m);
    const clean = { clean: true };
    expect(await run(host!.destroy("vm2"))).toMatchObject(clean);
    expect(await run(host!.destroy("scsidd"))).toMatchObject(clean);
  }, 120_000);
});
