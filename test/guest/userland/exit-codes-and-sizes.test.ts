import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseBlockSize, runIoBench } from "../../../src/guest/userland/iobench.js";
import { guestCommandNames } from "../../../src/guest/userland/shell.js";
import type { GuestKernel } from "../../../src/system/guest-kernel.js";
import { LocalSystem } from "../../../src/system/single-thread.js";
import { Host } from "../../../src/toolstack/host.js";

/**
 * Guest tools fail as the tools they imitate do (never exit 0 on a failure), take sizes with
 * the usual suffixes, and answer --help: a guest with a 1 MiB disk, in one thread.
 */
const DOM0_CONFIG = "[disk 1:0:0:0]\nsize = 1M\n";
const VM_CFG = `name = "vm1"\nvscsi = [ '/dev/sda,0:0:0:0' ]\n`;

let dir: string;
let sys: LocalSystem;
let host: Host;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "pvscsi-exit-"));
  sys = await LocalSystem.start({ hostConfig: { text: DOM0_CONFIG, source: "dom0.conf", baseDir: dir } });
  host = new Host(sys, { guestRoots: join(dir, "guests") });
  await sys.run(host.create(VM_CFG, join(dir, "vm1.cfg")));
});
afterAll(async () => {
  if (sys) await sys.run(host.shutdown());
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const g = (...argv: string[]) => sys.run(host.guestCommand("vm1", argv));

describe("guest tools' exit codes", () => {
  it("dd writing past the end of the disk: No space left on device, records and bytes, exit 1", async () => {
    const r = await g("dd", "of=/dev/sda", "if=/dev/zero", "bs=256k", "count=5");
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(
      /^dd: error writing '\/dev\/sda': No space left on device\n5\+0 records in\n4\+0 records out\n1048576 bytes \(1\.0 MB, 1\.0 MiB\) copied, /,
    );
    // Half a record fits: written, counted as a partial record out.
    const half = await g("dd", "of=/dev/sda", "if=/dev/zero", "bs=256k", "count=2", "seek=3");
    expect(half.exitCode).toBe(1);
    expect(half.stderr).toMatch(/\n2\+0 records in\n1\+0 records out\n262144 bytes/);
    const seek = await g("dd", "of=/dev/sda", "if=/dev/zero", "bs=512k", "count=1", "seek=2");
    expect(seek.exitCode).toBe(1);
    expect(seek.stderr).toContain("1+0 records in\n0+0 records out\n0 bytes");
  });

  it("dd reading to the end stops there (exit 0); of=/dev/null and if=/dev/zero work", async () => {
    const r = await g("dd", "if=/dev/sda", "of=/dev/null", "bs=256k", "count=8");
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^4\+0 records in\n4\+0 records out\n1048576 bytes/);
    const z = await g("dd", "if=/dev/zero", "of=/dev/null", "bs=1k", "count=3", "status=hash");
    expect(z.exitCode).toBe(0);
    expect(z.stdout).toMatch(/^3\+0 records in\n3\+0 records out\n3072 bytes/);
    expect(z.stdout).toContain(
      "sha256 1a37bd7b1d3da5ad4c6ed4f2ab3e3b4f1e2e0a55fd07a69bd2b2c45fcf0e1fa5".slice(0, 7),
    );
  });

  it("every failure of mt, mtx and the sg tools exits non-zero", async () => {
    for (const argv of [
      ["mt", "-f", "/dev/nst9", "status"],
      ["mtx", "-f", "/dev/sch9", "status"],
      ["sg_inq", "/dev/sdz"],
      ["sg_readcap", "/dev/sdz"],
      ["sg_luns", "-s", "x", "/dev/sda"],
      ["sg_reset", "/dev/sda"],
      ["lsscsi", "-x"],
      ["cat", "/nope"],
      ["iobench", "--bs=1000", "/dev/sda"],
    ]) {
      const r = await g(...argv);
      expect([argv.join(" "), r.exitCode]).not.toEqual([argv.join(" "), 0]);
    }
  });
});

describe("iobench sizes", () => {
  const scsi = () => (host.resolveDomain("vm1").kernel.api as unknown as GuestKernel).frontend.scsi;

  it("parses k/m/g with or without i and B, as fio (powers of 1024)", () => {
    expect(["4k", "4K", "4KiB", "4kB", "1m", "1M", "1MiB", "1Mb", "2g", "512"].map(parseBlockSize)).toEqual([
      4096,
      4096,
      4096,
      4096,
      1 << 20,
      1 << 20,
      1 << 20,
      1 << 20,
      2 * 2 ** 30,
      512,
    ]);
    expect(["1.5m", "k", "4kx", "-1"].map(parseBlockSize)).toEqual([null, null, null, null]);
  });

  it("runs every size up to the frontend's maximum transfer, and refuses more, naming it", async () => {
    const max = scsi().resolve("/dev/sda").host.maxTransfer;
    for (const bs of ["4k", "64KiB", "256kB", String(max)]) {
      const r = await g("iobench", `--bs=${bs}`, "--count=4", "--json", "/dev/sda");
      expect([bs, r.exitCode, r.stderr]).toEqual([bs, 0, ""]);
      expect(JSON.parse(r.stdout)).toMatchObject({ ops: 4, errors: 0 });
    }
    for (const bs of ["1M", "1m", "1g"]) {
      const r = await g("iobench", `--bs=${bs}`, "--count=1", "/dev/sda");
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toBe(
        `iobench: --bs=${bs} (${parseBlockSize(bs)} bytes) is more than the frontend's maximum transfer (${max} bytes)\n`,
      );
    }
  });

  it("a command the frontend refuses at once ends the run with an error, not a stack overflow", async () => {
    const max = scsi().resolve("/dev/sda").host.maxTransfer;
    expect(1 << 20).toBeGreaterThan(max + 4096); // more pages than sg_tablesize: refused at once
    const r = await sys.run(
      runIoBench(scsi(), "/dev/sda", {
        write: false,
        random: false,
        blockSize: 1 << 20,
        depth: 16,
        runtimeMs: 1000,
        maxOps: Number.MAX_SAFE_INTEGER,
      }),
    );
    expect(r.errors).toBeGreaterThan(0);
    expect(r.bytes).toBe(0);
  });
});

describe("--help", () => {
  it("every guest tool answers --help with its options; help lists them all", async () => {
    const help = await g("help");
    expect(help.exitCode).toBe(0);
    for (const name of guestCommandNames()) {
      expect(help.stdout).toMatch(new RegExp(`^  ${name} +\\S`, "m"));
      const r = await g(name, "--help");
      expect([name, r.exitCode, r.stdout]).toEqual([name, 0, expect.stringMatching(/^Usage: /)]);
    }
    expect((await g("iobench", "--help")).stdout).toContain("--iodepth=N");
  });
});
