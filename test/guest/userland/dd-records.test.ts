import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fillPattern } from "../../../src/guest/userland/pattern.js";
import type { GuestKernel } from "../../../src/system/guest-kernel.js";
import { LocalSystem } from "../../../src/system/single-thread.js";
import { Host } from "../../../src/toolstack/host.js";

/**
 * dd hashes only when asked (status=hash), and takes a bs larger than the frontend's maximum
 * transfer by splitting each record into several commands: a guest with an 8 MiB disk, in one
 * thread.
 */
let dir: string;
let sys: LocalSystem;
let host: Host;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "pvscsi-dd-"));
  sys = await LocalSystem.start({
    hostConfig: { text: "[disk 1:0:0:0]\nsize = 8M\n", source: "dom0.conf", baseDir: dir },
  });
  host = new Host(sys, { guestRoots: join(dir, "guests") });
  await sys.run(host.create(`name = "vm1"\nvscsi = [ '/dev/sda,0:0:0:0' ]\n`, join(dir, "vm1.cfg")));
});
afterAll(async () => {
  if (sys) await sys.run(host.shutdown());
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const g = (...argv: string[]) => sys.run(host.guestCommand("vm1", argv));
const sha = (s: string) => /^sha256 ([0-9a-f]{64})$/m.exec(s)?.[1];
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const requests = async () => (await sys.run(host.backendReport()))[0]!.stats.requests;

describe("dd status=hash", () => {
  it("prints the SHA-256 line only when asked", async () => {
    const plain = await g("dd", "if=/dev/zero", "of=/dev/null", "bs=1k", "count=3");
    expect(plain.exitCode).toBe(0);
    expect(plain.stdout).toMatch(/^3\+0 records in\n3\+0 records out\n3072 bytes .* MB\/s\n$/);
    const hashed = await g("dd", "if=/dev/zero", "of=/dev/null", "bs=1k", "count=3", "status=hash");
    expect(hashed.stdout.startsWith(plain.stdout.split(" copied, ")[0]!)).toBe(true);
    expect(hashed.stdout).toMatch(/ MB\/s\nsha256 [0-9a-f]{64}\n$/);
    expect(sha(hashed.stdout)).toBe(sha256(new Uint8Array(3072)));

    const read = await g("dd", "if=/dev/sda", "bs=64k", "count=2");
    expect(read.exitCode).toBe(0);
    expect(read.stdout).not.toContain("sha256");
    const write = await g("dd", "of=/dev/sda", "if=pattern:1", "bs=64k", "count=2");
    expect(write.exitCode).toBe(0);
    expect(write.stdout).not.toContain("sha256");
  });

  it("refuses another status level, as GNU dd does", async () => {
    const r = await g("dd", "if=/dev/zero", "of=/dev/null", "status=loud");
    expect(r).toEqual({ exitCode: 1, stdout: "", stderr: "dd: invalid status level 'loud'\n" });
  });
});

describe("dd with bs above the maximum transfer", () => {
  it("splits each record into commands of at most the maximum, and reads back what was written", async () => {
    const max = (host.resolveDomain("vm1").kernel.api as unknown as GuestKernel).frontend.scsi.resolve(
      "/dev/sda",
    ).host.maxTransfer;
    const bs = 1 << 20;
    expect(bs).toBeGreaterThan(max);
    const perRecord = Math.ceil(bs / max);

    const before = await requests();
    const w = await g("dd", "of=/dev/sda", "if=pattern:11", "bs=1M", "count=3", "seek=1", "status=hash");
    expect([w.exitCode, w.stderr]).toEqual([0, ""]);
    expect(w.stdout).toMatch(/^3\+0 records in\n3\+0 records out\n3145728 bytes/);
    expect(await requests()).toBeGreaterThanOrEqual(before + 3 * perRecord);

    // The bytes on the disk are the pattern stream at the disk's offsets.
    const want = new Uint8Array(3 * bs);
    fillPattern(want, 11, bs);
    expect(sha(w.stdout)).toBe(sha256(want));

    const r = await g("dd", "if=/dev/sda", "bs=1M", "count=3", "skip=1", "status=hash");
    expect([r.exitCode, r.stderr]).toEqual([0, ""]);
    expect(r.stdout).toMatch(/^3\+0 records in\n3\+0 records out\n3145728 bytes/);
    expect(sha(r.stdout)).toBe(sha256(want));
    // Cut differently, the same bytes.
    const small = await g("dd", "if=/dev/sda", "bs=64k", "count=48", "skip=16", "status=hash");
    expect(sha(small.stdout)).toBe(sha256(want));
  });

  it("a large record past the end of the disk: what fits is written, then No space left on device", async () => {
    const r = await g("dd", "of=/dev/sda", "if=/dev/zero", "bs=3M", "count=3");
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(
      /^dd: error writing '\/dev\/sda': No space left on device\n3\+0 records in\n2\+1 records out\n8388608 bytes/,
    );
  });
});
