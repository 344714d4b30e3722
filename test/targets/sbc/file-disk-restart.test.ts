import { mkdtemp, rm, stat, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SAM_STAT_GOOD } from "../../../src/scsi/device.js";
import { Disk } from "../../../src/targets/sbc/disk.js";
import { DISK_INFO } from "../_support/devices.js";
import { cdb10, exec } from "../_support/task.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pvscsi-disk-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function ready(d: Disk): Promise<Disk> {
  await exec(d, [0x03, 0, 0, 0, 18, 0], { dataIn: 18 });
  return d;
}

describe("file-backed disks", () => {
  it("create a sparse image, write, close, reopen and read back", async () => {
    const path = join(dir, "a.img");
    const d = await ready(await Disk.file(DISK_INFO, path, { size: 8 << 20, create: true, blockSize: 4096 }));
    expect(d.fault).toBeNull();
    expect(d.blocks).toBe(2048);
    expect((await stat(path)).blocks * 512).toBeLessThan(1 << 20); // sparse
    const data = Uint8Array.from({ length: 3 * 4096 }, (_, i) => (i * 13) & 0xff);
    const w = await exec(d, cdb10(0x2a, 2045, 3), { dataOut: data });
    expect(w.status).toBe(SAM_STAT_GOOD);
    await d.close();
    const again = await ready(await Disk.file(DISK_INFO, path, { blockSize: 4096 }));
    const r = await exec(again, cdb10(0x28, 2045, 3), { dataIn: 3 * 4096 });
    expect(r.bytes).toEqual(data);
    await again.close();
  });

  it("async completion: submit returns before the task completes", async () => {
    const path = join(dir, "b.img");
    const d = await ready(await Disk.file(DISK_INFO, path, { size: 1 << 20, create: true }));
    const { TestTask } = await import("../_support/task.js");
    const t = new TestTask(cdb10(0x28, 0, 1), { dataIn: 512 });
    d.submit(t);
    expect(t.calls).toBe(0);
    await t.completed;
    expect(t.status).toBe(SAM_STAT_GOOD);
    await d.close();
  });

  it("a short image reports NOT READY naming the path", async () => {
    const path = join(dir, "short.img");
    await writeFile(path, new Uint8Array(4096));
    const d = await Disk.file(DISK_INFO, path, { size: 1 << 20 });
    expect(d.fault).toContain(path);
    expect(d.fault).toContain("shorter than the declared size");
    const t = await exec(d, [0, 0, 0, 0, 0, 0]);
    expect(t.senseString).toBe("06/29/00");
    expect((await exec(d, [0, 0, 0, 0, 0, 0])).senseString).toBe("02/04/03");
    expect((await exec(d, cdb10(0x28, 0, 1), { dataIn: 512 })).senseString).toBe("02/04/03");
    expect((await exec(d, [0x12, 0, 0, 0, 36, 0], { dataIn: 36 })).status).toBe(SAM_STAT_GOOD);
  });

  it("an image that is not a whole number of blocks, a missing image and a directory are faults", async () => {
    const odd = join(dir, "odd.img");
    await writeFile(odd, new Uint8Array(1000));
    expect((await Disk.file(DISK_INFO, odd)).fault).toMatch(
      /odd\.img.*not a whole number of 512-byte blocks/,
    );
    expect((await Disk.file(DISK_INFO, join(dir, "missing.img"))).fault).toMatch(
      /missing\.img: does not exist/,
    );
    expect((await Disk.file(DISK_INFO, dir)).fault).toMatch(/is not a regular file/);
  });

  it("an image truncated while open fails reads with 03/11/00 rather than returning garbage", async () => {
    const path = join(dir, "shrinks.img");
    const d = await ready(await Disk.file(DISK_INFO, path, { size: 1 << 20, create: true }));
    await truncate(path, 4096);
    const r = await exec(d, cdb10(0x28, 100, 1), { dataIn: 512 });
    expect(r.senseString).toBe("03/11/00");
    expect(r.transferred).toBe(0);
    await d.close();
  });

  it("a read-only image write-protects the disk", async () => {
    const path = join(dir, "ro.img");
    await (await Disk.file(DISK_INFO, path, { size: 1 << 20, create: true })).close();
    const d = await ready(await Disk.file(DISK_INFO, path, { readOnly: true }));
    expect((await exec(d, cdb10(0x2a, 0, 1), { dataOut: new Uint8Array(512) })).senseString).toBe("07/27/00");
    await d.close();
  });

  it("ABORT TASK completes a queued task with TASK ABORTED; LUN reset drains the queue", async () => {
    const path = join(dir, "abort.img");
    const d = await ready(await Disk.file(DISK_INFO, path, { size: 1 << 20, create: true }));
    const { TestTask, I1 } = await import("../_support/task.js");
    const first = new TestTask(cdb10(0x28, 0, 1), { dataIn: 512, tag: 1 });
    const second = new TestTask(cdb10(0x28, 1, 1), { dataIn: 512, tag: 2 });
    const third = new TestTask(cdb10(0x28, 2, 1), { dataIn: 512, tag: 3 });
    d.submit(first);
    d.submit(second);
    d.submit(third);
    expect(await d.abortTask(I1, 2)).toBe("complete");
    expect(second.status).toBe(0x40);
    expect(await d.abortTask(I1, 99)).toBe("not-found");
    expect(await d.lunReset(I1)).toBe("complete");
    expect([first.calls, second.calls, third.calls]).toEqual([1, 1, 1]);
    expect((await exec(d, [0, 0, 0, 0, 0, 0])).senseString).toBe("06/29/00");
    await d.close();
  });

  it("COMPARE AND WRITE and VERIFY work on a file", async () => {
    const path = join(dir, "caw.img");
    const d = await ready(await Disk.file(DISK_INFO, path, { size: 1 << 20, create: true, thin: true }));
    const c = [0x89, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0];
    const ok = await exec(d, c, {
      dataOut: Uint8Array.from([...new Uint8Array(512), ...new Uint8Array(512).fill(6)]),
    });
    expect(ok.status).toBe(SAM_STAT_GOOD);
    const bad = await exec(d, c, { dataOut: new Uint8Array(1024) });
    expect(bad.senseString).toBe("0E/1D/00");
    expect(bad.decoded.information).toBe(0);
    const v = await exec(d, cdb10(0x2f, 3, 1, 0x02), { dataOut: new Uint8Array(512).fill(6) });
    expect(v.status).toBe(SAM_STAT_GOOD);
    const ws = await exec(d, [0x41, 0x08, 0, 0, 0, 3, 0, 0, 1, 0], { dataOut: new Uint8Array(512) });
    expect(ws.status).toBe(SAM_STAT_GOOD);
    expect((await exec(d, cdb10(0x28, 3, 1), { dataIn: 512 })).bytes.every((b) => b === 0)).toBe(true);
    await d.close();
  });
});
