import { mkdir, mkdtemp, readFile, readlink, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newStState } from "../../../src/guest/st.js";
import { runMt } from "../../../src/guest/userland/mt.js";
import { runMtx } from "../../../src/guest/userland/mtx.js";
import { CHECKSUM_MEMBER, runTar } from "../../../src/guest/userland/tar.js";
import { Inventory } from "../../../src/targets/inventory/inventory.js";
import { pattern } from "../../targets/_support/tape.js";
import { readyExec } from "./_support.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pvscsi-tar-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const LONG = `${"very-long-directory-name-".repeat(5)}end/${"file-with-a-long-name-".repeat(3)}.txt`;

/** A tree worth backing up: small, empty, multi-record, nested and long-named files, a symlink. */
async function makeTree(root: string, seed: number): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>([
    ["a.txt", new TextEncoder().encode(`hello ${seed}\n`)],
    ["empty", new Uint8Array(0)],
    ["big.bin", pattern(100_000 + seed, seed)],
    ["sub/deeper/x.dat", pattern(513, seed + 1)],
    [LONG, pattern(2000, seed + 2)],
  ]);
  for (const [p, b] of files) {
    await mkdir(join(root, p, ".."), { recursive: true });
    await writeFile(join(root, p), b);
  }
  await symlink("a.txt", join(root, "link"));
  return files;
}

async function expectTree(root: string, files: Map<string, Uint8Array>): Promise<void> {
  for (const [p, b] of files) expect(new Uint8Array(await readFile(join(root, p))), p).toEqual(b);
  expect(await readlink(join(root, "link"))).toBe("a.txt");
}

describe("tar to tape through a changer-loaded drive", () => {
  it("backs up two trees, restores each (verifying every file), and finds them again after a restart", async () => {
    const conf = join(dir, "hosts.conf");
    await writeFile(
      conf,
      `[tape 0:0:0:0]
vendor = HP
model = Ultrium 6-SCSI
[changer 0:0:0:1]
cartridges = cartridges
slots = 8
import-export = 1
drives = 0:0:0:0
barcodes = A00001L6, A00002L6, A00003L6
capacity = 256M
`,
    );
    const inv = await Inventory.openFile(conf);
    const tape = await readyExec(inv.resolve("/dev/nst0").device);
    const changer = await readyExec(inv.resolve("/dev/sch0").device);
    const state = newStState();
    const mt = (...argv: string[]) => runMt(argv, tape, { state });
    const tar = (...argv: string[]) => runTar(argv, tape, { state });

    expect((await runMtx(["load", "1"], changer, { device: "/dev/sch0" })).exitCode).toBe(0);
    const one = await makeTree(
      await mkdir(join(dir, "one"), { recursive: true }).then(() => join(dir, "one")),
      1,
    );
    const two = await makeTree(
      await mkdir(join(dir, "two"), { recursive: true }).then(() => join(dir, "two")),
      2,
    );
    const c1 = await tar("-cv", "-C", join(dir, "one"), ".");
    expect(c1.exitCode).toBe(0);
    expect(c1.stderr).toBe("");
    expect(c1.stdout.split("\n")).toContain(LONG);
    expect(c1.data.records).toBe(Math.ceil(c1.data.bytes / 10240));
    expect(c1.data.bytes % 10240).toBe(0);
    expect((await tar("-c", "-C", join(dir, "two"))).exitCode).toBe(0);
    expect((await mt("status")).data.status).toMatchObject({ fileno: 2, blkno: 0 });

    // List archive 1, restore it, and (the tape now after its filemark) restore archive 2.
    expect((await mt("rewind")).exitCode).toBe(0);
    const list = await tar("-t");
    expect(list.stdout.split("\n").filter(Boolean).sort()).toEqual(
      [
        "a.txt",
        "big.bin",
        "empty",
        "link",
        "sub/",
        "sub/deeper/",
        "sub/deeper/x.dat",
        LONG,
        `${LONG.split("/")[0]}/`,
      ].sort(),
    );
    expect((await mt("rewind")).exitCode).toBe(0);
    const x1 = await tar("-x", "-C", join(dir, "out1"));
    expect(x1.exitCode).toBe(0);
    expect(x1.stdout.split("\n").filter(Boolean).sort()).toEqual(
      [...one.keys()].map((p) => `${p}: OK`).sort(),
    );
    expect(x1.data.files.filter((f) => f.type === "file").every((f) => f.verified === "ok")).toBe(true);
    await expectTree(join(dir, "out1"), one);
    expect((await tar("-x", "-C", join(dir, "out2"))).exitCode).toBe(0);
    await expectTree(join(dir, "out2"), two);
    // Positioning by filemarks: rewind, skip archive 1.
    await mt("rewind");
    expect((await mt("fsf", "1")).exitCode).toBe(0);
    expect((await tar("-x", "-C", join(dir, "out3"))).exitCode).toBe(0);
    await expectTree(join(dir, "out3"), two);

    // Back to its slot and in again; then everything closed and reopened.
    expect((await runMtx(["unload"], changer, { device: "/dev/sch0" })).exitCode).toBe(0);
    expect((await runMtx(["load", "1"], changer, { device: "/dev/sch0" })).exitCode).toBe(0);
    await inv.close();
    const again = await Inventory.openFile(conf);
    const tape2 = await readyExec(again.resolve("/dev/nst0").device);
    const state2 = newStState();
    const t2 = await runTar(["-x", "-C", join(dir, "out4")], tape2, { state: state2 });
    expect(t2.exitCode).toBe(0);
    await expectTree(join(dir, "out4"), one);
    expect((await readFile(join(dir, "out4", CHECKSUM_MEMBER)).catch(() => null)) === null).toBe(true);
    await again.close();
  });
});
