import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultGuestRoot, GuestFs, GuestPathError, OUTSIDE } from "../../src/guest/guest-fs.js";

let dir: string;
let root: string;
let fs: GuestFs;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pvscsi-guestfs-"));
  root = join(dir, "root");
  fs = new GuestFs(root);
  await mkdir(join(root, "data"), { recursive: true });
  await writeFile(join(dir, "secret"), "host only\n");
  await symlink(join(dir, "secret"), join(root, "data", "out-file"));
  await symlink(dir, join(root, "data", "out-dir"));
  await symlink(join(dir, "not-yet"), join(root, "data", "dangling-out"));
  await symlink("inner", join(root, "data", "in-link"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const refused = async (p: string, follow = true) => {
  const e = await fs.resolve(p, { follow }).catch((x: unknown) => x);
  expect(e).toBeInstanceOf(GuestPathError);
  return (e as GuestPathError).reason;
};

describe("a guest's filesystem is confined to its root", () => {
  it("absolute and relative guest paths both start at the root", async () => {
    expect(await fs.resolve("/data/x")).toBe(join(root, "data", "x"));
    expect(await fs.resolve("data/x")).toBe(join(root, "data", "x"));
    expect(await fs.resolve(".")).toBe(root);
    expect(await fs.resolve("/data/../data/./y")).toBe(join(root, "data", "y"));
  });

  it("refuses '..' above the root", async () => {
    expect(await refused("..")).toBe(OUTSIDE);
    expect(await refused("/../etc/passwd")).toBe(OUTSIDE);
    expect(await refused("data/../../secret")).toBe(OUTSIDE);
  });

  it("refuses symlinks that lead out, followed or as a directory on the way", async () => {
    expect(await refused("/data/out-file")).toBe(OUTSIDE);
    expect(await refused("/data/out-dir/secret")).toBe(OUTSIDE);
    expect(await refused("/data/out-dir/secret", false)).toBe(OUTSIDE);
    // Creating through a dangling symlink would create its target outside.
    expect(await refused("/data/dangling-out")).toBe(OUTSIDE);
  });

  it("a symlink itself can be looked at without following it, and links inside are fine", async () => {
    expect(await fs.resolve("/data/out-file", { follow: false })).toBe(join(root, "data", "out-file"));
    expect(await fs.resolve("/data/in-link")).toBe(join(root, "data", "inner"));
  });

  it("put and get move bytes in chunks; a directory receives the file under its name", async () => {
    expect(await fs.writeChunk("/data", 0, new TextEncoder().encode("hello "), true, "greeting")).toBe(
      "/data/greeting",
    );
    await fs.writeChunk("/data/greeting", 6, new TextEncoder().encode("world\n"), false);
    expect(await readFile(join(root, "data", "greeting"), "utf8")).toBe("hello world\n");
    const r = await fs.readChunk("/data/greeting", 6, 100);
    expect([new TextDecoder().decode(r.data), r.size]).toEqual(["world\n", 12]);
    await expect(fs.readChunk("/data/missing", 0, 1)).rejects.toThrow(
      "/data/missing: No such file or directory",
    );
    await expect(fs.writeChunk("/data/out-file", 0, new Uint8Array(1), true)).rejects.toThrow(OUTSIDE);
    expect(await readFile(join(dir, "secret"), "utf8")).toBe("host only\n");
  });

  it("the root is made on first use, by default under the state directory", async () => {
    const lazy = new GuestFs(join(dir, "later", "root"));
    expect(await lazy.resolve("/a")).toBe(join(dir, "later", "root", "a"));
    expect(defaultGuestRoot("vm1", { PVSCSI_STATE_DIR: "/s" })).toBe("/s/guests/vm1/root");
    expect(defaultGuestRoot("vm1", { XDG_STATE_HOME: "/x" })).toBe("/x/pvscsi/guests/vm1/root");
  });
});
