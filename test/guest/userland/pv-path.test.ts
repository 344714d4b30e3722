import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GuestScsi } from "../../../src/guest/midlayer.js";
import { bindScsiHost, type ScsiExec } from "../../../src/guest/sg.js";
import { newStState } from "../../../src/guest/st.js";
import { runMt } from "../../../src/guest/userland/mt.js";
import { runMtx } from "../../../src/guest/userland/mtx.js";
import { runTar } from "../../../src/guest/userland/tar.js";
import { GuestScsiHost } from "../../../src/scsifront/scsi-host.js";
import { Pair } from "../../../src/testing/index.js";
import { autoloader } from "../../targets/_support/tape.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pvscsi-pvtools-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("the tools over the PV path", () => {
  it("a guest scans the autoloader, loads a cartridge with mtx, and backs up and restores with tar", async () => {
    const { changer, drive } = autoloader(["A00001L6", "A00002L6"]);
    const p = new Pair();
    p.attach(0, 0, 0, drive);
    p.attach(0, 0, 1, changer);
    const host = new GuestScsiHost(0, p.front, p.guest);
    // The fake hypervisor delivers nothing by itself: pump the ring after each submission.
    const pumped =
      (exec: ScsiExec): ScsiExec =>
      (req) => {
        const r = exec(req);
        p.pump();
        return r;
      };
    const scsi = new GuestScsi();
    for (const lun of [0, 1]) {
      await p.settle(scsi.addDevice(host, 0, 0, lun));
    }
    expect(scsi.lsscsi()).toBe(
      "[0:0:0:0]    tape    HP       Ultrium 6-SCSI   35GD  /dev/st0\n" +
        "[0:0:0:1]    mediumx HP       1x8 G2 AUTOLDR   1.70  /dev/sch0\n",
    );
    const sch = scsi.resolve("/dev/sch0");
    const nst = scsi.resolve("/dev/nst0");
    const mtx = pumped(bindScsiHost(host, sch));
    const tape = pumped(bindScsiHost(host, nst));
    // The guest's first command to each unit meets the power-on unit attention; mtx copes.
    await runMtx(["inventory"], mtx);
    const load = await runMtx(["-f", "/dev/sch0", "load", "2"], mtx);
    expect(load).toMatchObject({
      exitCode: 0,
      stdout: "Loading media from Storage Element 2 into drive 0...done\n",
    });
    const state = newStState();
    const status = await runMt(["status"], tape, { state });
    expect(status.stdout).toContain("File number=0, block number=0, partition=0.");
    expect(status.data.status?.flags).toEqual(["BOT", "ONLINE", "IM_REP_EN"]);
    await writeFile(
      join(dir, "data.bin"),
      new Uint8Array(50_000).map((_, i) => i & 0xff),
    );
    expect((await runTar(["-c", "-C", dir, "data.bin"], tape, { state })).exitCode).toBe(0);
    expect((await runMt(["rewind"], tape, { state })).exitCode).toBe(0);
    const x = await runTar(["-x", "-C", join(dir, "out")], tape, { state });
    expect(x).toMatchObject({ exitCode: 0, stdout: "data.bin: OK\n" });
    expect(new Uint8Array(await readFile(join(dir, "out", "data.bin")))).toEqual(
      new Uint8Array(50_000).map((_, i) => i & 0xff),
    );
    const st = await runMtx(["status"], mtx, { device: "/dev/sch0" });
    expect(st.stdout.split("\n")[1]).toBe(
      `Data Transfer Element 0:Full (Storage Element 2 Loaded):VolumeTag = ${"A00002L6".padEnd(32)}`,
    );
  });
});
