import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Host } from "../../src/toolstack/host.js";
import { decodeSaveFile, encodeSaveFile, SAVE_FORMAT_VERSION } from "../../src/toolstack/save-file.js";

/**
 * xl save / xl restore: the guest's memory, filesystem, xenstore device nodes and vscsi
 * assignments by identity; restored on the same host and on another that numbers the same
 * (shared, shareable) image files differently; bad files refused before anything is created.
 */
const dir = mkdtempSync(join(tmpdir(), "pvscsi-save-"));
const img = (n: string) => join(dir, `${n}.img`);
// Host A: the images at 0:0:0:0 and 0:0:1:0, a RAM disk at 0:0:2:0.
const CONF_A = `[disk 0:0:0:0]\nfile = ${img("a")}\nsize = 4M\ncreate = yes\nshareable = yes\n[disk 0:0:1:0]\nfile = ${img("b")}\nsize = 4M\ncreate = yes\nshareable = yes\n[disk 0:0:2:0]\nsize = 4M\n`;
// Host B: the same two images, numbered the other way round on another host and target.
const CONF_B = `[disk 2:0:5:0]\nsize = 4M\n[disk 3:0:1:0]\nfile = ${img("b")}\nsize = 4M\ncreate = yes\nshareable = yes\n[disk 3:0:4:0]\nfile = ${img("a")}\nsize = 4M\ncreate = yes\nshareable = yes\n`;

let a: Host;
let b: Host;
const hash = (s: string) => /sha256 ([0-9a-f]{64})/.exec(s)?.[1];

beforeAll(async () => {
  a = await Host.start({
    hostConfig: { text: CONF_A, source: "a.conf", baseDir: dir },
    guestRoots: join(dir, "roots-a"),
  });
  b = await Host.start({
    hostConfig: { text: CONF_B, source: "b.conf", baseDir: dir },
    guestRoots: join(dir, "roots-b"),
  });
}, 60_000);

afterAll(async () => {
  await a?.shutdown();
  await b?.shutdown();
});

describe("save file format", () => {
  const file = encodeSaveFile([
    { tag: "META", data: new Uint8Array([1, 2, 3]) },
    { tag: "MEM_", data: new Uint8Array(100) },
  ]);
  it("round trips", () => {
    const s = decodeSaveFile(file, "x.save");
    expect([...s.keys()]).toEqual(["META", "MEM_"]);
    expect([...s.get("META")!]).toEqual([1, 2, 3]);
  });
  it("refuses truncated, corrupt and other-version files, saying what is wrong", () => {
    expect(() => decodeSaveFile(file.subarray(0, 180), "t.save")).toThrow(
      /t\.save: truncated: section MEM_ needs 100 bytes, \d+ remain; nothing was restored/,
    );
    const flipped = file.slice();
    flipped[150] = flipped[150]! ^ 1;
    expect(() => decodeSaveFile(flipped, "c.save")).toThrow(
      /c\.save: corrupt: section MEM_'s checksum does not match/,
    );
    const v2 = file.slice();
    new DataView(v2.buffer).setUint32(12, SAVE_FORMAT_VERSION + 1, true);
    expect(() => decodeSaveFile(v2, "v.save")).toThrow(/format version 2; this pvscsi reads version 1 only/);
    expect(() => decodeSaveFile(new TextEncoder().encode("name = 'x'\n"), "n.save")).toThrow(
      /not a pvscsi save file/,
    );
    const tail = file.slice();
    tail[tail.length - 1] = tail[tail.length - 1]! ^ 0xff;
    expect(() => decodeSaveFile(tail, "f.save")).toThrow(/the file's checksum does not match/);
  });
});

describe("xl save / xl restore", () => {
  it("saves a guest with config and hot-attached devices, and restores it on the same host", async () => {
    await a.create(`name = "vm"\nmemory = 16\nvscsi = [ '/dev/sda,0:0:0:0' ]\n`, "vm.cfg");
    await a.scsiAttach("vm", "0:0:1:0", "0:0:3:0");
    const w = await a.guestCommand("vm", [
      "dd",
      "of=/dev/sdb",
      "if=pattern:9",
      "bs=64k",
      "count=8",
      "status=hash",
    ]);
    expect(w.exitCode).toBe(0);
    await a.guestPut("vm", "/notes.txt", 0, new TextEncoder().encode("kept across save\n"));
    // A mark in the guest's last memory frame (a fresh kernel does not allocate it).
    const g = a.resolveDomain("vm");
    const mem = new Uint8Array(g.handle.memory);
    mem.set(new TextEncoder().encode("pvscsi-memory-mark"), mem.length - 4096);
    const file = join(dir, "vm.save");
    const s = await a.save("vm", file);
    expect(s).toMatchObject({ name: "vm", devices: 2 });
    expect(a.list().map((r) => r.name)).toEqual(["Domain-0"]);

    const r = await a.restore(file);
    expect(r.devices).toEqual([
      { vdev: "0:0:0:0", pdevname: "/dev/sda", from: "0:0:0:0", to: "0:0:0:0" },
      { vdev: "0:0:3:0", pdevname: "0:0:1:0", from: "0:0:1:0", to: "0:0:1:0" },
    ]);
    const back = await a.guestCommand("vm", ["dd", "if=/dev/sdb", "bs=64k", "count=8", "status=hash"]);
    expect(hash(back.stdout)).toBe(hash(w.stdout));
    const note = await a.guestGet("vm", "/notes.txt", 0, 100);
    expect(new TextDecoder().decode(note.data)).toBe("kept across save\n");
    const mem2 = new Uint8Array(a.resolveDomain("vm").handle.memory);
    expect(new TextDecoder().decode(mem2.subarray(mem2.length - 4096, mem2.length - 4096 + 18))).toBe(
      "pvscsi-memory-mark",
    );
    // Its xenstore device nodes are rebuilt: p-devname as the user wrote it.
    const be = `/local/domain/0/backend/vscsi/${r.domid}/0/vscsi-devs`;
    expect(await a.xs.read(`${be}/dev-0/p-devname`)).toBe("/dev/sda");
    await a.save("vm", file);
  }, 60_000);

  it("restores on another host that numbers the same image files differently", async () => {
    const r = await b.restore(join(dir, "vm.save"));
    expect(r.devices).toEqual([
      { vdev: "0:0:0:0", pdevname: "/dev/sda", from: "0:0:0:0", to: "3:0:4:0" },
      { vdev: "0:0:3:0", pdevname: "0:0:1:0", from: "0:0:1:0", to: "3:0:1:0" },
    ]);
    const rows = await b.scsiList(["vm"]);
    expect(rows.map((x) => [x.phyHctl, x.virHctl])).toEqual([
      ["3:0:4:0", "0:0:0:0"],
      ["3:0:1:0", "0:0:3:0"],
    ]);
    const back = await b.guestCommand("vm", ["dd", "if=/dev/sdb", "bs=64k", "count=8", "status=hash"]);
    const w = await b.guestCommand("vm", [
      "dd",
      "if=pattern:9",
      "of=/dev/null",
      "bs=64k",
      "count=8",
      "status=hash",
    ]);
    expect(hash(back.stdout)).toBe(hash(w.stdout));
    await b.destroy("vm");
  }, 60_000);

  it("resumes the same kernel: a failed save thaws it; a save under I/O resets and retries what was in flight", async () => {
    await a.create(`name = "busy"\nmemory = 16\nvscsi = [ '/dev/sda,0:0:0:0' ]\n`, "busy.cfg");
    await a.scsiAttach("busy", "0:0:1:0", "0:0:3:0");
    const names = (await a.guestCommand("busy", ["lsscsi"])).stdout;
    // A save that cannot write its file cancels the suspend: the guest carries on, its I/O too.
    await expect(a.save("busy", join(dir, "no-such-dir", "busy.save"))).rejects.toThrow(
      /cannot write the save file .*; busy keeps running/,
    );
    const w = await a.guestCommand("busy", [
      "dd",
      "if=pattern:4",
      "of=/dev/sda",
      "bs=4k",
      "count=1",
      "seek=700",
    ]);
    expect(w.exitCode).toBe(0);
    const wrote = await a.guestCommand("busy", [
      "dd",
      "if=/dev/sda",
      "bs=4k",
      "count=1",
      "skip=700",
      "status=hash",
    ]);

    // fio keeps 16 writes in flight on /dev/sda (image a, blocks 0..511) while the guest is saved.
    const fio = a
      .guestCommand("busy", [
        "fio",
        "--rw=randwrite",
        "--bs=4k",
        "--iodepth=16",
        "--runtime=60",
        "--size=2M",
        "--filename=/dev/sda",
      ])
      .catch((e: Error) => ({ exitCode: -1, stdout: "", stderr: e.message }));
    const busy = a.resolveDomain("busy").handle.domid;
    const served = async () =>
      (await a.backendReport()).reduce((n, v) => n + (v.frontendDomid === busy ? v.stats.requests : 0), 0);
    for (let i = 0; i < 300 && (await served()) < 500; i++) await new Promise((r) => setTimeout(r, 100));
    const file = join(dir, "busy.save");
    await a.save("busy", file);
    // fio's process was not saved (only the kernel is); its writes in flight were.
    expect((await fio).stderr).toMatch(/kernel exited/);

    const r = await b.restore(file);
    const st = await b.resumeStats(r.domid);
    expect(st.resumes).toBe(1);
    // fio's 16 writes held rqids when the kernel stopped (up to 16): each is carried over. Those the
    // old backend had answered by then are drained; the rest are completed with DID_RESET and
    // retried (how many of each depends on the backend's speed: resume-device.test.ts pins it).
    expect(st.carried).toBeGreaterThan(0);
    expect(st.resetCompletions).toBeLessThanOrEqual(st.carried);
    expect(st.resetRetries).toBe(st.resetCompletions);
    // The same kernel: its devices kept their names (no new scan), on b's renumbered devices.
    expect((await b.guestCommand("busy", ["lsscsi"])).stdout).toBe(names);
    for (let i = 0; i < 100 && (await b.resumeStats(r.domid)).carriedCompletions < st.carried; i++)
      await new Promise((res) => setTimeout(res, 100));
    const done = await b.resumeStats(r.domid);
    // Each completed once, GOOD.
    expect(done.carriedCompletions).toBe(st.carried);
    expect(done.carriedFailures).toBe(0);
    // The write acknowledged before the save is there, beyond fio's region.
    const back = await b.guestCommand("busy", [
      "dd",
      "if=/dev/sda",
      "bs=4k",
      "count=1",
      "skip=700",
      "status=hash",
    ]);
    expect(hash(back.stdout)).toBe(hash(wrote.stdout));
    await b.destroy("busy");
  }, 90_000);

  it("refuses a RAM disk on another host, a corrupt file and a taken name, creating nothing", async () => {
    await a.create(`name = "ram"\nmemory = 16\nvscsi = [ '0:0:2:0,0:0:0:0' ]\n`, "ram.cfg");
    const file = join(dir, "ram.save");
    await a.save("ram", file);
    await expect(b.restore(file)).rejects.toThrow(
      /a device is not reachable on this host: 0:0:2:0 \(naa\.[0-9a-f]{16}:0, 0:0:2:0 on the source\): a disk whose data lives in the source host's memory/,
    );
    expect(b.list().map((x) => x.name)).toEqual(["Domain-0"]);
    const bytes = readFileSync(file);
    bytes[bytes.length >> 1] ^= 0x55;
    const bad = join(dir, "bad.save");
    writeFileSync(bad, bytes);
    await expect(a.restore(bad)).rejects.toThrow(/bad\.save: corrupt: .*; nothing was restored/);
    await expect(a.restore(join(dir, "none.save"))).rejects.toThrow(/cannot read/);
    expect(a.list().map((x) => x.name)).toEqual(["Domain-0"]);
    await a.restore(file);
    await expect(a.restore(file)).rejects.toThrow(/domain 'ram' already exists; nothing was restored/);
    expect(existsSync(`${file}.pvscsi-partial-${process.pid}`)).toBe(false);
    await a.destroy("ram");
  }, 60_000);
});
