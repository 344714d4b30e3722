import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GuestFs } from "../../../src/guest/guest-fs.js";
import { newStState, StTape } from "../../../src/guest/st.js";
import { runTar } from "../../../src/guest/userland/tar.js";
import { encodeTarHeader } from "../../../src/guest/userland/ustar.js";
import { loadedDrive } from "../../targets/_support/tape.js";
import { readyExec } from "./_support.js";

let dir: string;
let fs: GuestFs;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pvscsi-tarfs-"));
  fs = new GuestFs(join(dir, "root"));
  await mkdir(join(dir, "root", "home"), { recursive: true });
  await writeFile(join(dir, "root", "home", "a.txt"), "guest file\n");
  await writeFile(join(dir, "host-secret"), "dom0 only\n");
  await symlink(dir, join(dir, "root", "home", "up"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("tar inside a guest's filesystem", () => {
  it("archives the guest's root for '.', keeping a symlink out as a symlink, and never reads the host", async () => {
    const { drive } = loadedDrive(4 << 20);
    const exec = await readyExec(drive);
    const state = newStState();
    const c = await runTar(["-c", "-v", "."], exec, { state, fs });
    expect(c).toMatchObject({ exitCode: 0, stdout: "home/\nhome/a.txt\nhome/up\n", stderr: "" });
    await new StTape(exec, state).rewind();
    const t = await runTar(["-t", "-v"], exec, { state, fs });
    expect(t.stdout).toContain(`home/up -> ${dir}`);
  });

  it("refuses paths that leave the root: '..', absolute host paths through symlinks; exit 2 as GNU tar", async () => {
    const { drive } = loadedDrive(4 << 20);
    const exec = await readyExec(drive);
    const r = await runTar(["-c", "../host-secret", "/home/up/host-secret", "/etc/passwd"], exec, { fs });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toBe(
      "tar: ../host-secret: outside the guest's filesystem\n" +
        "tar: /home/up/host-secret: outside the guest's filesystem\n" +
        "tar: etc/passwd: Cannot stat: No such file or directory\n" +
        "tar: Exiting with failure status due to previous errors\n",
    );
    const cd = await runTar(["-c", "-C", "/home/up", "."], exec, { fs });
    expect(cd.exitCode).toBe(2);
    expect(cd.stderr).toBe(
      "tar: /home/up: Cannot open: outside the guest's filesystem\ntar: Error is not recoverable: exiting now\n",
    );
  });

  it("an archive's symlink cannot carry a later member out of the root on extract", async () => {
    const { drive } = loadedDrive(4 << 20);
    const exec = await readyExec(drive);
    const tape = new StTape(exec);
    await tape.open({ write: true });
    const evil = new TextEncoder().encode("owned\n");
    const record = new Uint8Array(10240);
    record.set(
      encodeTarHeader({ path: "x", type: "symlink", mode: 0o777, size: 0, mtime: 0, linkname: dir }),
      0,
    );
    record.set(
      encodeTarHeader({ path: "x/host-secret", type: "file", mode: 0o644, size: evil.length, mtime: 0 }),
      512,
    );
    record.set(evil, 1024);
    record.set(
      encodeTarHeader({
        path: "y",
        type: "symlink",
        mode: 0o777,
        size: 0,
        mtime: 0,
        linkname: join(dir, "host-secret"),
      }),
      1536,
    );
    record.set(encodeTarHeader({ path: "y", type: "file", mode: 0o644, size: evil.length, mtime: 0 }), 2048);
    record.set(evil, 2560);
    await tape.write(record);
    await tape.weof(1);
    await tape.rewind();
    const x = await runTar(["-x", "-C", "/restore"], exec, { fs });
    expect(x.exitCode).toBe(2);
    expect(x.stderr).toContain("tar: x/host-secret: Cannot open: outside the guest's filesystem\n");
    expect(await readFile(join(dir, "host-secret"), "utf8")).toBe("dom0 only\n");
    // y: the symlink is replaced by the file, as GNU tar unlinks what is in the way.
    expect(await readFile(join(dir, "root", "restore", "y"), "utf8")).toBe("owned\n");
    expect((await stat(join(dir, "root", "restore", "x"))).isDirectory()).toBe(true);
  });
});
