import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newStState, StTape } from "../../../src/guest/st.js";
import { runMt } from "../../../src/guest/userland/mt.js";
import { CHECKSUM_MEMBER, runTar } from "../../../src/guest/userland/tar.js";
import {
  decodeTarHeader,
  encodeTarHeader,
  parsePaxRecords,
  TAR_BLOCK,
} from "../../../src/guest/userland/ustar.js";
import { MemoryCartridgeLibrary } from "../../../src/targets/ssc/cartridge-library.js";
import { TapeDrive } from "../../../src/targets/ssc/tape-drive.js";
import { loadedDrive, TAPE_INFO } from "../../targets/_support/tape.js";
import { readyExec } from "./_support.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pvscsi-tarv-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Write a hand-made archive (one 10240-byte record per 20 blocks) and a filemark. */
async function writeArchive(tape: StTape, blocks: Uint8Array[]): Promise<void> {
  const all = new Uint8Array(Math.ceil(blocks.reduce((n, b) => n + b.length, 0) / 10240) * 10240 + 10240);
  let at = 0;
  for (const b of blocks) {
    all.set(b, at);
    at += Math.ceil(b.length / TAR_BLOCK) * TAR_BLOCK;
  }
  for (let r = 0; r < all.length; r += 10240) await tape.write(all.subarray(r, r + 10240));
  await tape.weof(1);
}

const text = (s: string) => new TextEncoder().encode(s);

describe("tar's verification and edge cases", () => {
  it("a file whose content does not match the archive's checksum is reported FAILED (exit 1)", async () => {
    const { drive } = loadedDrive(4 << 20);
    const exec = await readyExec(drive);
    const tape = new StTape(exec);
    await tape.open({ write: true });
    const good = text("good\n");
    const bad = text("tampered\n");
    const sum = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
    const manifest = text(`${sum(good)}  good.txt\n${sum(text("original\n"))}  bad.txt\n`);
    await writeArchive(tape, [
      encodeTarHeader({ path: "good.txt", type: "file", mode: 0o644, size: good.length, mtime: 0 }),
      good,
      encodeTarHeader({ path: "bad.txt", type: "file", mode: 0o644, size: bad.length, mtime: 0 }),
      bad,
      encodeTarHeader({ path: "../escape", type: "file", mode: 0o644, size: 1, mtime: 0 }),
      text("x"),
      encodeTarHeader({ path: CHECKSUM_MEMBER, type: "file", mode: 0o644, size: manifest.length, mtime: 0 }),
      manifest,
    ]);
    await tape.rewind();
    const r = await runTar(["-x", "-C", join(dir, "v")], exec);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe("good.txt: OK\nbad.txt: FAILED\n");
    expect(r.stderr).toBe(
      "tar: ../escape: Member name contains '..' or is absolute; not extracted\n" +
        "tar: WARNING: 1 file did NOT match the archive's checksum\n",
    );
    expect(await stat(join(dir, "escape")).catch(() => null)).toBeNull();
  });

  it("a larger blocking factor reads back with the same factor; a smaller read buffer is ENOMEM", async () => {
    const { drive } = loadedDrive(4 << 20);
    const exec = await readyExec(drive);
    const state = newStState();
    await writeFile(join(dir, "f64"), new Uint8Array(70_000).fill(7));
    expect((await runTar(["-c", "-b", "64", "-C", dir, "f64"], exec, { state })).exitCode).toBe(0);
    await runMt(["rewind"], exec, { state });
    expect(await runTar(["-t"], exec, { state })).toMatchObject({
      exitCode: 2,
      stderr:
        "tar: /dev/nst0: Cannot read: Cannot allocate memory\ntar: Error is not recoverable: exiting now\n",
    });
    await runMt(["rewind"], exec, { state });
    expect((await runTar(["-t", "-b", "64"], exec, { state })).stdout).toBe("f64\n");
  });

  it("fixed-block mode (mt setblk 512): records become 20-block fixed writes and read back", async () => {
    const { drive } = loadedDrive(4 << 20);
    const exec = await readyExec(drive);
    await writeFile(join(dir, "fixed.bin"), new Uint8Array(5000).fill(3));
    expect((await runMt(["setblk", "512"], exec)).exitCode).toBe(0);
    expect((await runTar(["-c", "-C", dir, "fixed.bin"], exec)).exitCode).toBe(0);
    expect(drive.cartridge?.index.length(0)).toBe(512);
    await runMt(["rewind"], exec);
    const r = await runTar(["-x", "-C", join(dir, "fx")], exec);
    expect(r.stdout).toBe("fixed.bin: OK\n");
    expect(new Uint8Array(await readFile(join(dir, "fx", "fixed.bin")))).toEqual(
      new Uint8Array(5000).fill(3),
    );
  });

  it("a write-protected tape cannot be written; a full one says No space left on device", async () => {
    const lib = new MemoryCartridgeLibrary({ capacity: 1 << 20, writeProtected: new Set(["WP"]) });
    const wp = new TapeDrive({ info: TAPE_INFO });
    wp.insert(lib.openNow("WP"));
    await writeFile(join(dir, "small"), "x");
    expect((await runTar(["-c", "-C", dir, "small"], await readyExec(wp))).stderr).toBe(
      "tar: /dev/nst0: Cannot write: Read-only file system\ntar: Error is not recoverable: exiting now\n",
    );
    const { drive } = loadedDrive(64 * 1024, 40 * 1024);
    await writeFile(join(dir, "huge"), new Uint8Array(200_000));
    const full = await runTar(["-c", "-C", dir, "huge"], await readyExec(drive));
    expect(full.exitCode).toBe(2);
    expect(full.stderr).toBe(
      "tar: /dev/nst0: Cannot write: No space left on device\ntar: Error is not recoverable: exiting now\n",
    );
  });

  it("ustar headers: long names split into prefix/name or carried by a pax header; checksums checked", () => {
    const short = encodeTarHeader({
      path: "a/b.txt",
      type: "file",
      mode: 0o640,
      size: 12345,
      mtime: 1_700_000_000,
    });
    expect(short.length).toBe(512);
    expect(Buffer.from(short.subarray(257, 265)).toString()).toBe("ustar\u000000");
    expect(decodeTarHeader(short)).toMatchObject({
      kind: "entry",
      entry: { path: "a/b.txt", size: 12345, mode: 0o640 },
    });
    const split = encodeTarHeader({
      path: `${"d".repeat(120)}/f.txt`,
      type: "file",
      mode: 0o644,
      size: 1,
      mtime: 0,
    });
    expect(split.length).toBe(512);
    expect(decodeTarHeader(split)).toMatchObject({ entry: { path: `${"d".repeat(120)}/f.txt` } });
    const pax = encodeTarHeader({ path: "x".repeat(300), type: "file", mode: 0o644, size: 1, mtime: 0 });
    expect(pax.length).toBe(3 * 512);
    // "310 path=xxx…\n": the record counts its own length digits.
    expect(decodeTarHeader(pax)).toMatchObject({ kind: "pax", size: 310 });
    expect(parsePaxRecords(pax.subarray(512, 512 + 310))).toEqual({ path: "x".repeat(300) });
    const broken = short.slice();
    broken[10] ^= 1;
    expect(decodeTarHeader(broken)).toBe("header checksum mismatch");
  });
});
