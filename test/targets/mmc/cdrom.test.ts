import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SAM_STAT_CHECK_CONDITION, SAM_STAT_GOOD } from "../../../src/scsi/device.js";
import { bufferMedium, Cdrom } from "../../../src/targets/mmc/cdrom.js";
import { CD_INFO, cdImage, cdrom, hex } from "../_support/devices.js";
import { cdb10, clearUas, exec, execSync, I2 } from "../_support/task.js";

function ready(blocks = 100) {
  const cd = cdrom(blocks);
  clearUas(cd);
  return cd;
}
const TUR = [0, 0, 0, 0, 0, 0];
const toc = (msf: boolean, format: number, track = 0, alloc = 512) => [
  0x43,
  msf ? 2 : 0,
  format,
  0,
  0,
  0,
  track,
  alloc >>> 8,
  alloc & 0xff,
  0,
];
const getConfig = (rt: number, start = 0, alloc = 512) => [
  0x46,
  rt,
  start >>> 8,
  start & 0xff,
  0,
  0,
  0,
  alloc >>> 8,
  alloc & 0xff,
  0,
];
const eject = [0x1b, 0, 0, 0, 0x02, 0];
const load = [0x1b, 0, 0, 0, 0x03, 0];

describe("CD-ROM", () => {
  it("READ CAPACITY: last LBA and 2048", () => {
    expect(hex(execSync(ready(), [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], { dataIn: 8 }).bytes)).toBe(
      "0000006300000800",
    );
  });

  it("READ(10)/(12) return the image's blocks; past the end → 05/21/00", () => {
    const cd = ready();
    const r = execSync(cd, cdb10(0x28, 42, 2), { dataIn: 4096 }).bytes;
    expect([r[1], r[2], r[2049], r[2050]]).toEqual([42, 0xcd, 43, 0xcd]);
    const r12 = execSync(cd, [0xa8, 0, 0, 0, 0, 99, 0, 0, 0, 1, 0, 0], { dataIn: 2048 });
    expect(r12.bytes[1]).toBe(99);
    expect(execSync(cd, cdb10(0x28, 99, 2), { dataIn: 4096 }).senseString).toBe("05/21/00");
  });

  it("writes are unsupported operation codes (05/20/00): a reader has no write features", () => {
    const cd = ready();
    expect(execSync(cd, cdb10(0x2a, 0, 1), { dataOut: new Uint8Array(2048) }).senseString).toBe("05/20/00");
    expect(execSync(cd, [0x0a, 0, 0, 0, 1, 0], { dataOut: new Uint8Array(2048) }).senseString).toBe(
      "05/20/00",
    );
  });

  it("READ TOC format 0 (LBA and MSF), track AAh only, bad track → 05/24/00", () => {
    const cd = ready();
    expect(hex(execSync(cd, toc(false, 0), { dataIn: 512 }).bytes)).toBe(
      "00120101" + "0014010000000000" + "0014aa0000000064",
    );
    expect(hex(execSync(cd, toc(true, 0), { dataIn: 512 }).bytes)).toBe(
      "00120101" + "0014010000000200" + "0014aa0000000319",
    );
    expect(hex(execSync(cd, toc(false, 0, 0xaa), { dataIn: 512 }).bytes)).toBe(
      "000a0101" + "0014aa0000000064",
    );
    expect(execSync(cd, toc(false, 0, 2), { dataIn: 512 }).decoded.sks).toBe(0xcf0006);
  });

  it("READ TOC format 1 (session info) and 2 (raw TOC)", () => {
    const cd = ready();
    expect(hex(execSync(cd, toc(false, 1), { dataIn: 512 }).bytes)).toBe("000a010100140100" + "00000000");
    const raw = execSync(cd, toc(true, 2), { dataIn: 512 }).bytes;
    expect(hex(raw.subarray(0, 4))).toBe("002e0101");
    expect(hex(raw.subarray(4 + 22, 4 + 33))).toBe("011400a200000000000319");
    expect(execSync(cd, toc(false, 4), { dataIn: 512 }).senseString).toBe("05/24/00");
  });

  it("GET CONFIGURATION: CD-ROM profile current, features in order; RT=1 current only; RT=2 one feature", () => {
    const cd = ready();
    const all = execSync(cd, getConfig(0), { dataIn: 512 }).bytes;
    expect(hex(all.subarray(0, 8))).toBe(`${(all.length - 4).toString(16).padStart(8, "0")}00000008`);
    expect(hex(all.subarray(8, 20))).toBe("0000030800100000" + "00080100");
    const codes: number[] = [];
    for (let p = 8; p < all.length; p += 4 + all[p + 3]!) codes.push((all[p]! << 8) | all[p + 1]!);
    expect(codes).toEqual([0x0000, 0x0001, 0x0002, 0x0003, 0x0010, 0x001e, 0x001f]);
    const cur = execSync(cd, getConfig(1), { dataIn: 512 }).bytes;
    const curCodes: number[] = [];
    for (let p = 8; p < cur.length; p += 4 + cur[p + 3]!) curCodes.push((cur[p]! << 8) | cur[p + 1]!);
    expect(curCodes).toEqual([0x0000, 0x0001, 0x0002, 0x0003, 0x0010, 0x001e]);
    expect(hex(execSync(cd, getConfig(2, 0x0003), { dataIn: 512 }).bytes.subarray(8))).toBe(
      "0003030439000000",
    );
    expect(execSync(cd, getConfig(3), { dataIn: 512 }).senseString).toBe("05/24/00");
  });

  it("a large image is a DVD-ROM", () => {
    const dvd = Cdrom.buffer(CD_INFO, new Uint8Array(400_000 * 2048));
    clearUas(dvd);
    expect(hex(execSync(dvd, getConfig(0, 0, 8), { dataIn: 8 }).bytes.subarray(6, 8))).toBe("0010");
  });

  it("no medium: 02/3A/00 for medium commands, the exempt ones work, profile 0", () => {
    const cd = new Cdrom(CD_INFO);
    clearUas(cd);
    expect(execSync(cd, TUR).senseString).toBe("02/3A/00");
    expect(execSync(cd, [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], { dataIn: 8 }).senseString).toBe("02/3A/00");
    expect(execSync(cd, cdb10(0x28, 0, 1), { dataIn: 2048 }).senseString).toBe("02/3A/00");
    expect(execSync(cd, toc(false, 0), { dataIn: 512 }).senseString).toBe("02/3A/00");
    for (const cdb of [
      [0x12, 0, 0, 0, 36, 0],
      [0x5a, 0, 0x3f, 0, 0, 0, 0, 1, 0, 0],
      getConfig(0),
      [0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8, 0],
      [0xbd, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0],
      [0x1e, 0, 0, 0, 0, 0],
      [0x16, 0, 0, 0, 0, 0],
      [0x17, 0, 0, 0, 0, 0],
    ]) {
      expect(execSync(cd, cdb, { dataIn: 512 }).status).toBe(SAM_STAT_GOOD);
    }
    expect(hex(execSync(cd, getConfig(0, 0, 8), { dataIn: 8 }).bytes.subarray(6, 8))).toBe("0000");
    expect(hex(execSync(cd, [0x03, 0, 0, 0, 18, 0], { dataIn: 18 }).bytes.subarray(12, 14))).toBe("3a00");
  });

  it("eject and load through START STOP UNIT; PREVENT blocks eject (05/53/02) from any initiator", () => {
    const cd = ready();
    clearUas(cd, I2);
    expect(execSync(cd, [0x1e, 0, 0, 0, 1, 0], { initiator: I2 }).status).toBe(SAM_STAT_GOOD);
    const refused = execSync(cd, eject);
    expect([refused.status, refused.senseString]).toEqual([SAM_STAT_CHECK_CONDITION, "05/53/02"]);
    expect(execSync(cd, [0x1e, 0, 0, 0, 0, 0], { initiator: I2 }).status).toBe(SAM_STAT_GOOD);
    expect(execSync(cd, eject).status).toBe(SAM_STAT_GOOD);
    expect(execSync(cd, TUR).senseString).toBe("02/3A/02");
    expect(hex(execSync(cd, [0xbd, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0], { dataIn: 8 }).bytes)).toBe(
      "0010000000000000",
    );
    expect(execSync(cd, load).status).toBe(SAM_STAT_GOOD);
    expect(execSync(cd, TUR).status).toBe(SAM_STAT_GOOD);
    expect(execSync(cd, TUR, { initiator: I2 }).senseString).toBe("06/28/00");
  });

  it("PREVENT with no medium: eject → 02/53/02", () => {
    const cd = new Cdrom(CD_INFO);
    clearUas(cd);
    execSync(cd, [0x1e, 0, 0, 0, 1, 0]);
    expect(execSync(cd, eject).senseString).toBe("02/53/02");
  });

  it("GET EVENT STATUS NOTIFICATION reports media events once; asynchronous mode → 05/24/00", () => {
    const cd = new Cdrom(CD_INFO);
    clearUas(cd);
    cd.insert(bufferMedium(cdImage(10)));
    const gesn = [0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8, 0];
    expect(hex(execSync(cd, gesn, { dataIn: 8 }).bytes)).toBe("0006041002020000");
    expect(hex(execSync(cd, gesn, { dataIn: 8 }).bytes)).toBe("0006041000020000");
    expect(hex(execSync(cd, [0x4a, 1, 0, 0, 0x02, 0, 0, 0, 8, 0], { dataIn: 8 }).bytes)).toBe("00028010");
    expect(execSync(cd, [0x4a, 0, 0, 0, 0x10, 0, 0, 0, 8, 0], { dataIn: 8 }).senseString).toBe("05/24/00");
  });

  it("a medium that is not whole 2048-byte blocks reads as no medium, with the reason", () => {
    const cd = Cdrom.buffer(CD_INFO, new Uint8Array(3000));
    clearUas(cd);
    expect(cd.fault).toMatch(/not a whole number of 2048-byte blocks/);
    expect(execSync(cd, TUR).senseString).toBe("02/3A/00");
  });

  it("an ISO file is served asynchronously; a missing ISO is no medium", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pvscsi-iso-"));
    try {
      const path = join(dir, "disc.iso");
      await writeFile(path, cdImage(20));
      const cd = await Cdrom.iso(CD_INFO, path);
      await exec(cd, [0x03, 0, 0, 0, 18, 0], { dataIn: 18 });
      const r = await exec(cd, cdb10(0x28, 19, 1), { dataIn: 2048 });
      expect([r.status, r.bytes[1]]).toEqual([SAM_STAT_GOOD, 19]);
      await cd.close();
      const none = await Cdrom.iso(CD_INFO, join(dir, "nope.iso"));
      expect(none.fault).toMatch(/nope\.iso: does not exist/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("host-side removal: the guest sees no medium next", async () => {
    const cd = ready();
    await cd.remove();
    expect(execSync(cd, TUR).senseString).toBe("02/3A/00");
  });
});
