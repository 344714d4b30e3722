import { spawn } from "node:child_process";
import { appendFile, mkdtemp, readFile, rm, stat, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SAM_STAT_GOOD } from "../../../src/scsi/device.js";
import {
  CARTRIDGE_HEADER_SIZE,
  decodeHeader,
  RECORD_HEADER_SIZE,
} from "../../../src/targets/ssc/cartridge-format.js";
import { FileCartridgeLibrary } from "../../../src/targets/ssc/cartridge-library.js";
import { TapeDrive } from "../../../src/targets/ssc/tape-drive.js";
import { cdb, fixedSense, pattern, senseHex, TAPE_INFO } from "../_support/tape.js";
import { clearUas, exec } from "../_support/task.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pvscsi-tape-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function driveWith(lib: FileCartridgeLibrary, barcode: string): Promise<TapeDrive> {
  const drive = new TapeDrive({ info: TAPE_INFO });
  drive.insert(await lib.openAsync(barcode));
  clearUas(drive);
  return drive;
}

async function header(path: string) {
  const h = decodeHeader(new Uint8Array(await readFile(path)));
  if (typeof h === "string") throw new Error(h);
  return h;
}

describe("file-backed cartridges", () => {
  it("are created on first use, hold only what is written, and survive a restart whole", async () => {
    const lib = new FileCartridgeLibrary(join(dir, "restart"), { capacity: 1 << 30 });
    const d = await driveWith(lib, "R00001L6");
    const path = lib.pathOf("R00001L6");
    expect((await stat(path)).size).toBeLessThan(8192);
    for (let i = 0; i < 3; i++)
      expect((await exec(d, cdb.write(700), { dataOut: pattern(700, i) })).status).toBe(0);
    await exec(d, cdb.filemarks(1));
    await exec(d, cdb.write(50), { dataOut: pattern(50, 7) });
    await exec(d, cdb.filemarks(2));
    await d.close();
    const h = await header(path);
    expect(h.clean).toBe(true);
    expect(h.recordCount).toBe(7);
    expect(h.durableEnd).toBe(CARTRIDGE_HEADER_SIZE + 4 * RECORD_HEADER_SIZE + 2150 + 3 * RECORD_HEADER_SIZE);
    // A new drive, a new library object: the same tape.
    const again = await driveWith(
      new FileCartridgeLibrary(join(dir, "restart"), { capacity: 4096 }),
      "R00001L6",
    );
    expect(again.cartridge?.capacity).toBe(1 << 30); // geometry from the header, not the new options
    expect((await exec(again, cdb.space(1, 1))).status).toBe(SAM_STAT_GOOD);
    expect((await exec(again, cdb.read(50), { dataIn: 50 })).bytes).toEqual(pattern(50, 7));
    expect((await exec(again, cdb.locate10(1))).status).toBe(SAM_STAT_GOOD);
    expect((await exec(again, cdb.read(700), { dataIn: 700 })).bytes).toEqual(pattern(700, 1));
    expect((await exec(again, cdb.space(3, 0))).status).toBe(SAM_STAT_GOOD);
    const pos = await exec(again, cdb.readPosition(6), { dataIn: 32 });
    expect(Buffer.from(pos.bytes).readBigUInt64BE(8)).toBe(7n);
    expect(Buffer.from(pos.bytes).readBigUInt64BE(16)).toBe(3n);
    // Appending after reopening drops the old trailer and keeps the rest.
    await exec(again, cdb.write(10), { dataOut: pattern(10, 9) });
    await again.close();
    const third = await driveWith(lib, "R00001L6");
    await exec(third, cdb.space(1, 3));
    expect((await exec(third, cdb.read(10), { dataIn: 10 })).bytes).toEqual(pattern(10, 9));
    await third.close();
  });

  it("a sync point (WRITE FILEMARKS, IMMED=0) advances the durable end in the header", async () => {
    const lib = new FileCartridgeLibrary(join(dir, "sync"), { capacity: 1 << 30 });
    const d = await driveWith(lib, "S00001L6");
    const path = lib.pathOf("S00001L6");
    await exec(d, cdb.write(100), { dataOut: pattern(100) });
    let h = await header(path);
    expect(h.clean).toBe(false);
    expect(h.durableEnd).toBe(CARTRIDGE_HEADER_SIZE);
    await exec(d, cdb.filemarks(1));
    h = await header(path);
    expect(h.durableEnd).toBe(CARTRIDGE_HEADER_SIZE + 2 * RECORD_HEADER_SIZE + 100);
    expect((await stat(path)).size).toBe(h.durableEnd);
    await d.close();
  });

  it("a file that is not a cartridge is reported with its path; the drive says NOT READY 02/31/00", async () => {
    const lib = new FileCartridgeLibrary(join(dir, "bad"), { capacity: 1 << 30 });
    await lib.openAsync("B00001L6").then((c) => c.close());
    const path = lib.pathOf("B00001L6");
    const bytes = new Uint8Array(await readFile(path));
    bytes[0] = 0x58;
    await writeFile(path, bytes);
    const drive = new TapeDrive({ info: TAPE_INFO });
    clearUas(drive);
    const cart = await lib.openAsync("B00001L6");
    expect(cart.fault).toBe(`cartridge ${path}: not a pvscsi cartridge (bad magic)`);
    drive.insert(cart);
    expect(drive.fault).toContain(path);
    expect(clearUas(drive)).toEqual(["06/28/00"]);
    expect(senseHex(await exec(drive, [0, 0, 0, 0, 0, 0]))).toBe(fixedSense(0x02, null, 0x31, 0x00));
    expect((await exec(drive, cdb.read(10), { dataIn: 10 })).senseString).toBe("02/31/00");
    expect((await exec(drive, cdb.loadUnload(1))).senseString).toBe("02/31/00");
    // It can still be taken out.
    expect((await drive.eject())?.barcode).toBe("B00001L6");
  });

  it("a cartridge shorter than its durable end is truncated: reported, not served", async () => {
    const lib = new FileCartridgeLibrary(join(dir, "short"), { capacity: 1 << 30 });
    const d = await driveWith(lib, "T00001L6");
    for (let i = 0; i < 4; i++) await exec(d, cdb.write(1000), { dataOut: pattern(1000, i) });
    await d.close();
    const path = lib.pathOf("T00001L6");
    await truncate(path, CARTRIDGE_HEADER_SIZE + 2 * (RECORD_HEADER_SIZE + 1000) + 10);
    const cart = await lib.openAsync("T00001L6");
    expect(cart.fault).toMatch(new RegExp(`^cartridge ${path}: truncated: 6170 bytes, but its header says`));
    await truncate(path, 100);
    expect((await lib.openAsync("T00001L6")).fault).toBe(
      `cartridge ${path}: truncated: 100 bytes, shorter than the 4096-byte header`,
    );
  });

  it("a damaged block reads as MEDIUM ERROR 03/11/00, the position stays before it", async () => {
    const lib = new FileCartridgeLibrary(join(dir, "crc"), { capacity: 1 << 30 });
    const d = await driveWith(lib, "C00001L6");
    for (let i = 0; i < 3; i++) await exec(d, cdb.write(100), { dataOut: pattern(100, i) });
    await d.close();
    const path = lib.pathOf("C00001L6");
    const bytes = new Uint8Array(await readFile(path));
    bytes[CARTRIDGE_HEADER_SIZE + RECORD_HEADER_SIZE + 100 + RECORD_HEADER_SIZE + 5]! ^= 0xff;
    await writeFile(path, bytes);
    // A clean file opens from its index trailer, without reading every record.
    const again = await driveWith(lib, "C00001L6");
    expect(again.fault).toBeNull();
    expect((await exec(again, cdb.read(100), { dataIn: 100 })).status).toBe(SAM_STAT_GOOD);
    const bad = await exec(again, cdb.read(100), { dataIn: 100 });
    expect(senseHex(bad)).toBe(fixedSense(0x03, null, 0x11, 0x00));
    expect(bad.transferred).toBe(0);
    expect(again.position).toBe(1);
    await again.close();
  });

  it("a dirty file with a broken record before its durable end is corrupt", async () => {
    const lib = new FileCartridgeLibrary(join(dir, "dirty"), { capacity: 1 << 30 });
    const d = await driveWith(lib, "D00001L6");
    for (let i = 0; i < 3; i++) await exec(d, cdb.write(100), { dataOut: pattern(100, i) });
    await exec(d, cdb.filemarks(1)); // durable up to here
    const path = lib.pathOf("D00001L6");
    const bytes = new Uint8Array(await readFile(path));
    bytes[CARTRIDGE_HEADER_SIZE + RECORD_HEADER_SIZE + 100 + 4] = 9; // record 1: unknown kind
    await writeFile(path, bytes);
    const cart = await lib.openAsync("D00001L6");
    expect(cart.fault).toBe(
      `cartridge ${path}: corrupt record at offset 4228: record header checksum mismatch`,
    );
    await d.cartridge?.close();
  });
});

describe("a crash", () => {
  const child = fileURLToPath(new URL("../fixtures/tape-writer.ts", import.meta.url));

  function writeAndKill(cartDir: string, barcode: string, count: number, size: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const p = spawn(
        process.execPath,
        ["--import", "tsx", child, cartDir, barcode, String(count), String(size)],
        {
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      let out = "";
      let err = "";
      p.stdout.on("data", (b: Buffer) => {
        out += b.toString();
        if (out.includes(`acked ${count}\n`)) p.kill("SIGKILL");
      });
      p.stderr.on("data", (b: Buffer) => {
        err += b.toString();
      });
      p.on("exit", (_code, signal) => {
        const acked = [...out.matchAll(/acked (\d+)/g)].length;
        if (signal === "SIGKILL") resolve(acked);
        else reject(new Error(`writer ended without being killed: ${err}`));
      });
    });
  }

  it("loses no acknowledged block; a torn tail after them is cut off on the next open", async () => {
    const cartDir = join(dir, "crash");
    const acked = await writeAndKill(cartDir, "K00001L6", 20, 4000);
    expect(acked).toBe(20);
    const lib = new FileCartridgeLibrary(cartDir, { capacity: 1 << 30 });
    const path = lib.pathOf("K00001L6");
    expect((await header(path)).clean).toBe(false);
    // What a write torn by the crash would leave: part of a record.
    const size = (await stat(path)).size;
    await appendFile(path, Uint8Array.from([0x50, 0x56, 0x52, 0x43, 1, 0, 0, 0, 0, 0, 0x0f, 0xa0, 9, 9]));
    const d = await driveWith(lib, "K00001L6");
    expect(d.fault).toBeNull();
    for (let i = 0; i < 20; i++) {
      const r = await exec(d, cdb.read(4000), { dataIn: 4000 });
      expect(r.status).toBe(SAM_STAT_GOOD);
      expect(r.bytes.every((b) => b === i + 1)).toBe(true);
    }
    expect((await exec(d, cdb.read(4000), { dataIn: 4000 })).senseString).toBe("08/00/05");
    expect((await stat(path)).size).toBe(size);
    await d.close();
    expect((await header(path)).clean).toBe(true);
  });
});
