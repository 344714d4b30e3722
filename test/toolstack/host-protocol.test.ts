import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Host } from "../../src/toolstack/host.js";

/**
 * The protocol through real workers: indirect segments, REPORT LUNS munged or passed through,
 * hot-unplug under I/O, task management, isolation between guests, and a guest that misbehaves
 * on its own ring (vscsiif-send) without disturbing another.
 */
const CONFIG = `
[disk 3:0:0:0]
size = 32M
[disk 3:0:0:2]
size = 8M
[disk 3:0:1:0]
size = 8M
[disk 3:0:2:0]
size = 8M
`;

let host: Host;
beforeAll(async () => {
  host = await Host.start({ hostConfig: { text: CONFIG, source: "proto.conf", baseDir: "/tmp" } });
  await host.create(
    `name = "a"\nvscsi = [ '3:0:0:0,0:0:0:0', '3:0:0:2,0:0:0:5', '3:0:1:0,1:0:0:0,feature-host' ]\n`,
    "a.cfg",
  );
  await host.create(`name = "b"\nvscsi = [ '3:0:2:0,0:0:0:0' ]\n`, "b.cfg");
});
afterAll(async () => {
  await host?.shutdown();
});

const sha = (s: string) => /sha256 (\w{64})/.exec(s)?.[1];

describe("PVSCSI through workers", () => {
  it("moves 512 KiB commands (128 pages) through indirect segments intact", async () => {
    const w = await host.guestCommand("a", [
      "dd",
      "of=/dev/sda",
      "if=pattern:99",
      "bs=512k",
      "count=8",
      "status=hash",
    ]);
    const r = await host.guestCommand("a", ["dd", "if=/dev/sda", "bs=512k", "count=8", "status=hash"]);
    expect([w.exitCode, r.exitCode]).toEqual([0, 0]);
    expect(sha(r.stdout)).toBe(sha(w.stdout));
  });

  it("REPORT LUNS lists the guest's LUNs without feature-host, and the physical target's with it", async () => {
    const munged = await host.guestCommand("a", ["sg_luns", "0:0:0:0"]);
    expect(munged.stdout).toBe(
      "Lun list length = 16 which imples 2 lun entries\nReport luns [select_report=0x00]:\n    0000000000000000\n    0005000000000000\n",
    );
    // The feature-host controller (vHOST 1 is the guest's scsi1) passes the CDB to dom0's target 3:0:1.
    const passed = await host.guestCommand("a", ["sg_luns", "1:0:0:0"]);
    expect(passed.stdout).toContain("1 lun entry");
    expect(passed.stdout).toContain("    0000000000000000");
  });

  it("a guest reaches no device it was not given, whatever address it sends", async () => {
    for (const addr of ["0:0:0:1", "0:0:1:0", "0:0:0:2", "0:1:0:0", "0:0:63:0"]) {
      const r = await host.guestCommand("b", ["sg_inq", addr]);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain("DID_NO_CONNECT");
    }
    expect((await host.guestCommand("b", ["sg_inq", "0:0:0:0"])).exitCode).toBe(0);
  });

  it("answers a malformed request per the protocol and carries on (vscsiif-send)", async () => {
    const send = async (...f: string[]) =>
      (await host.guestCommand("b", ["vscsiif-send", "0:0:0:0", ...f])).stdout;
    expect(await send("sc_data_direction=4")).toMatch(/^rslt=0x00070000 \(host 7 DID_ERROR/);
    expect(await send("cmd_len=17")).toMatch(/^rslt=0x00070000/);
    expect(await send("act=4")).toMatch(/^rslt=0x00070000/);
    expect(await send("nr_segments=27")).toMatch(/^rslt=0x00070000/);
    expect(await send("cdb=28000000000000000100", "dir=2", "nr_segments=1", "seg0=4000:0:512")).toMatch(
      /^rslt=0x00070000/,
    );
    expect(await send("cdb=000000000000")).toMatch(/^rslt=0x00000000/);
    const reports = await host.backendReport();
    const vb = reports.find((v) => v.luns.some((l) => l.pdev === "3:0:2:0"))!;
    expect(vb.stats.rejected).toMatchObject({
      "bad-direction": 1,
      "bad-cmd-len": 1,
      "invalid-act": 1,
      "bad-segments": 1,
      "grant-map-failed": 1,
    });
  });

  it("an ABORT for a command not in flight answers 0x2003, as Linux's TMR_TASK_DOES_NOT_EXIST does", async () => {
    const r = await host.guestCommand("b", [
      "vscsiif-send",
      "0:0:0:0",
      "act=2",
      "ref_rqid=7",
      "cdb=000000000000",
    ]);
    expect(r.stdout).toMatch(/^rslt=0x00002003/);
    // The ring carries on.
    expect((await host.guestCommand("b", ["vscsiif-send", "0:0:0:0", "cdb=000000000000"])).stdout).toMatch(
      /^rslt=0x00000000/,
    );
  });

  it("a device reset through the ring answers 0x2002", async () => {
    expect(await host.guestCommand("a", ["sg_reset", "-d", "/dev/sda"])).toMatchObject({
      exitCode: 0,
      stdout: expect.stringContaining("completed device reset"),
    });
  });

  it("hot-unplug under I/O: nothing lost or answered twice, the guest carries on", async () => {
    const io = host.guestCommand("a", ["dd", "if=/dev/sdb", "bs=64k", "count=128"]);
    await host.scsiDetach("a", "0:0:0:5");
    const r = await io;
    // The read either finished first or met the removed device; either way it ended cleanly.
    expect(r.exitCode === 0 || /DID_NO_CONNECT|does not name|must be one of/.test(r.stderr)).toBe(true);
    const [va] = (await host.backendReport()).filter((v) => v.frontendDomid === 1 && v.devid === 0);
    expect(va!.inFlight).toBe(0);
    expect(va!.stats.requests).toBe(va!.stats.responses);
    expect((await host.guestCommand("a", ["dd", "if=/dev/sda", "bs=64k", "count=4"])).exitCode).toBe(0);
  });

  it("a guest overflowing its ring halts only its own vhost", async () => {
    expect((await host.guestCommand("b", ["vscsiif-send", "0:0:0:0", "--overflow=17"])).stdout).toContain(
      "past the ring",
    );
    const start = Date.now();
    let halted = false;
    while (!halted && Date.now() - start < 5000) {
      halted = (await host.backendReport()).some((v) => v.frontendDomid === 2 && v.ring === "halted");
    }
    expect(halted).toBe(true);
    // The other guest is untouched.
    expect((await host.guestCommand("a", ["dd", "if=/dev/sda", "bs=64k", "count=4"])).exitCode).toBe(0);
  });
});
