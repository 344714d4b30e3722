import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { lockImage } from "../../src/targets/image-lock.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function scratch() {
  const d = mkdtempSync(join(tmpdir(), "pvscsi-lock-"));
  dirs.push(d);
  const image = join(d, "disk.img");
  writeFileSync(image, "");
  return { image, locks: join(d, "locks"), dir: d };
}

describe("image locks keep two hosts off one image", () => {
  it("refuses a second holder, naming the file and the holder, until the first releases", () => {
    const { image, locks } = scratch();
    const a = lockImage(image, { dir: locks, owner: "host A" });
    expect(() => lockImage(image, { dir: locks, owner: "host B" })).toThrow(
      new RegExp(`${image}: in use by another pvscsi host \\(host A, pid ${process.pid}`),
    );
    a.release();
    a.release(); // twice is harmless
    lockImage(image, { dir: locks }).release();
  });

  it("knows a file by its identity, not its name: a symlink takes the same lock", () => {
    const { image, locks, dir } = scratch();
    const link = join(dir, "alias.img");
    symlinkSync(image, link);
    const a = lockImage(image, { dir: locks });
    expect(() => lockImage(link, { dir: locks })).toThrow(/in use by another pvscsi host/);
    a.release();
  });

  it("takes over a lock whose holder process is gone", () => {
    const { image, locks } = scratch();
    const dead = spawnSync(process.execPath, ["-e", ""]).pid!;
    const st = statSync(image);
    lockImage(image, { dir: locks }).release(); // creates the folder
    writeFileSync(
      join(locks, `${st.dev}-${st.ino}.lock`),
      JSON.stringify({ pid: dead, owner: "gone", path: image, token: "x" }),
    );
    lockImage(image, { dir: locks }).release();
  });

  it("excludes another live process, and is free once that process dies", async () => {
    const { image, locks } = scratch();
    const lib = fileURLToPath(new URL("../../src/targets/image-lock.ts", import.meta.url));
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "-e",
        `const { lockImage } = await import(${JSON.stringify(lib)}); lockImage(${JSON.stringify(image)}, { dir: ${JSON.stringify(locks)}, owner: "other host" }); console.log("locked"); setInterval(() => {}, 1000);`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on("data", (d: Buffer) => {
        if (d.toString().includes("locked")) resolve();
      });
      child.once("exit", (c) => reject(new Error(`child exited ${c}`)));
    });
    expect(() => lockImage(image, { dir: locks })).toThrow(/in use by another pvscsi host \(other host, pid/);
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await exited;
    lockImage(image, { dir: locks }).release();
  });
});
