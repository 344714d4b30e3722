import { mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { startUp, type UpProcess } from "../_support/pvscsi-up.js";

/**
 * `xl migrate` between two `pvscsi up` hosts that number the same (shareable) image files
 * differently: devices from the config and from a later scsi-attach are found on the target by
 * identity and renumbered; an unreachable device refuses the migration before suspend; the
 * guest's data is there afterwards.
 */
const dir = mkdtempSync(join(tmpdir(), "pvscsi-migrate-"));
const img = (n: string) => join(dir, `${n}.img`);
const confA = join(dir, "a.conf");
const confB = join(dir, "b.conf");
writeFileSync(
  confA,
  `[disk 0:0:0:0]\nfile = ${img("x")}\nsize = 4M\ncreate = yes\nshareable = yes\n` +
    `[disk 0:0:1:0]\nfile = ${img("y")}\nsize = 4M\ncreate = yes\nshareable = yes\n[disk 0:0:2:0]\nsize = 4M\n`,
);
writeFileSync(
  confB,
  `[disk 1:0:0:0]\nsize = 4M\n[disk 1:0:3:0]\nfile = ${img("y")}\nsize = 4M\ncreate = yes\nshareable = yes\n` +
    `[disk 2:0:0:7]\nfile = ${img("x")}\nsize = 4M\ncreate = yes\nshareable = yes\n`,
);
const sockA = join(dir, "a.sock");
const sockB = join(dir, "b.sock");
const vm = join(dir, "vm.cfg");
writeFileSync(vm, `name = "mover"\nmemory = 16\nvscsi = [ '/dev/sda,0:0:0:0' ]\n`);
const ram = join(dir, "ram.cfg");
writeFileSync(ram, `name = "pinned"\nmemory = 16\nvscsi = [ '/dev/sdc,0:0:0:0' ]\n`);

let a: UpProcess;
let b: UpProcess;

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (s) => out.push(s), err: (s) => err.push(s) });
  return { code, out: out.join(""), err: err.join("") };
}
const hash = (s: string) => /sha256 ([0-9a-f]{64})/.exec(s)?.[1];

beforeAll(async () => {
  [a, b] = await Promise.all([
    startUp(["--config", confA, "--socket", sockA]),
    startUp(["--config", confB, "--socket", sockB, "--migrate-listen", "127.0.0.1:0"]),
  ]);
}, 60_000);

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
});

describe("xl migrate between two pvscsi hosts", () => {
  it("moves a guest with a config device and a hot-attached one; h:c:t:l renumbered; data intact", async () => {
    expect((await run("xl", "--socket", sockA, "create", vm)).code).toBe(0);
    expect((await run("xl", "--socket", sockA, "scsi-attach", "mover", "0:0:1:0", "0:0:4:0")).code).toBe(0);
    const w = await run(
      "guest",
      "--socket",
      sockA,
      "mover",
      "dd",
      "if=pattern:3",
      "of=/dev/sdb",
      "bs=64k",
      "count=16",
      "status=hash",
    );
    expect(w.code).toBe(0);
    const m = await run("xl", "--socket", sockA, "migrate", "mover", sockB);
    expect(m).toMatchObject({ code: 0, err: "" });
    expect(m.out).toContain("vdev 0:0:0:0: /dev/sda was 0:0:0:0 on the source, is 2:0:0:7 on the target");
    expect(m.out).toContain("vdev 0:0:4:0: 0:0:1:0 was 0:0:1:0 on the source, is 1:0:3:0 on the target");
    expect(m.out).toMatch(
      /migrated mover to .*b\.sock \(domid 1 there\): memory rounds [\d, ]+ \+ \d+ frames at stop; downtime [\d.]+ ms, total [\d.]+ ms/,
    );
    // The kernel was resumed on the target, not booted (idle guest: nothing was in flight).
    expect(m.out).toMatch(
      /kernel resumed on the target: 0 request\(s\) carried over, 0 completed with DID_RESET; requests retried after DID_RESET: 0/,
    );
    expect((await run("xl", "--socket", sockA, "list")).out).not.toContain("mover");
    expect((await run("xl", "--socket", sockB, "list")).out).toMatch(/^mover\s+1\s+16/m);
    const sl = await run("xl", "--socket", sockB, "scsi-list", "mover");
    expect(sl.out).toMatch(/2:0:0:7\s+0:0:0:0/);
    expect(sl.out).toMatch(/1:0:3:0\s+0:0:4:0/);
    const r = await run(
      "guest",
      "--socket",
      sockB,
      "mover",
      "dd",
      "if=/dev/sdb",
      "bs=64k",
      "count=16",
      "status=hash",
    );
    expect(hash(r.out)).toBe(hash(w.out));
    // And back again: the numbering is re-evaluated each way.
    const back = await run("xl", "--socket", sockB, "migrate", "mover", sockA);
    expect(back.code).toBe(0);
    // Resumed twice, the guest's devices still have the names the first boot gave them.
    const ls = await run("guest", "--socket", sockA, "mover", "lsscsi");
    expect(ls.out).toMatch(/^\[0:0:0:0\]\s+disk.*\/dev\/sda\n\[0:0:4:0\]\s+disk.*\/dev\/sdb\n$/);
    expect(back.out).toContain("vdev 0:0:0:0: /dev/sda was 2:0:0:7 on the source, is 0:0:0:0 on the target");
    expect((await run("xl", "--socket", sockA, "destroy", "mover")).code).toBe(0);
  }, 90_000);

  it("refuses before suspend, naming the device, when the target cannot reach it; the guest runs on", async () => {
    expect((await run("xl", "--socket", sockA, "create", ram)).code).toBe(0);
    const m = await run("xl", "--socket", sockA, "migrate", "pinned", sockB);
    expect(m.code).toBe(1);
    expect(m.err).toMatch(
      /refused before the guest was suspended: a device is not reachable on this host: \/dev\/sdc \(naa\.[0-9a-f]{16}:0, 0:0:2:0 on the source\): a disk whose data lives in the source host's memory.*; pinned keeps running on this host/,
    );
    expect((await run("xl", "--socket", sockA, "list")).out).toMatch(/^pinned\s/m);
    expect((await run("xl", "--socket", sockB, "list")).out).not.toContain("pinned");
    expect((await run("guest", "--socket", sockA, "pinned", "lsscsi")).out).toMatch(/\[0:0:0:0\]\s+disk/);
    const self = await run("xl", "--socket", sockA, "migrate", "pinned", sockA);
    expect(self).toMatchObject({
      code: 2,
      err: expect.stringContaining("is this host's own control socket"),
    });
    expect((await run("xl", "--socket", sockA, "destroy", "pinned")).code).toBe(0);
  }, 60_000);

  it("over loopback TCP to the target's migration listener, only with its token file", async () => {
    const l = /migration listener: (tcp:\/\/127\.0\.0\.1:\d+)\s+\(token in (\S+)\)/.exec(b.output());
    expect(l, b.output()).not.toBeNull();
    const [, tcp, tokenFile] = l as unknown as [string, string, string];
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    const cfg = join(dir, "tcp.cfg");
    writeFileSync(cfg, `name = "tcpmover"\nmemory = 16\nvscsi = [ '/dev/sda,0:0:0:0' ]\n`);
    expect((await run("xl", "--socket", sockA, "create", cfg)).code).toBe(0);
    const none = await run("xl", "--socket", sockA, "migrate", "tcpmover", tcp);
    expect(none.code).not.toBe(0);
    expect(none.err).toMatch(/a tcp:\/\/ target needs --token-file/);
    const wrong = join(dir, "wrong.token");
    writeFileSync(wrong, `${"0".repeat(64)}\n`);
    const bad = await run("xl", "--socket", sockA, "migrate", "tcpmover", tcp, "--token-file", wrong);
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/authentication failed.*tcpmover keeps running on this host/);
    const ok = await run("xl", "--socket", sockA, "migrate", "tcpmover", tcp, "--token-file", tokenFile);
    expect(ok).toMatchObject({ code: 0, err: "" });
    expect(ok.out).toContain("vdev 0:0:0:0: /dev/sda was 0:0:0:0 on the source, is 2:0:0:7 on the target");
    expect(ok.out).toMatch(/migrated tcpmover to tcp:\/\/127\.0\.0\.1:\d+ \(domid \d+ there\)/);
    expect((await run("xl", "--socket", sockB, "list")).out).toMatch(/^tcpmover\s/m);
    expect((await run("xl", "--socket", sockB, "destroy", "tcpmover")).code).toBe(0);
  }, 90_000);
});
