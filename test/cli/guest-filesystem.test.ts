import { randomBytes } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { parseDomainConfig } from "../../src/toolstack/domain-config.js";
import { startUp, type UpProcess } from "../_support/pvscsi-up.js";

/**
 * A guest's own filesystem through the CLI: `pvscsi up` runs in a folder of its own (its working
 * directory holds a file the guest must never see), guests' roots under PVSCSI_STATE_DIR; files
 * go in with `put`, to tape with tar, back with tar -x, and out with `get`.
 */
const dir = mkdtempSync(join(tmpdir(), "pvscsi-gfs-"));
const hostCwd = join(dir, "host-cwd");
const state = join(dir, "state");
mkdirSync(hostCwd);
writeFileSync(join(hostCwd, "dom0-only.txt"), "dom0's file\n");
const socket = join(dir, "host.sock");
const conf = join(dir, "host.conf");
const vm = join(dir, "vm.cfg");
writeFileSync(conf, "[tape 0:0:0:0]\ncartridges = carts\nload = L00001L5\ncapacity = 16M\n");
writeFileSync(vm, `name = "vm1"\nvscsi = [ '/dev/nst0,0:0:0:0' ]\n`);
const payload = randomBytes(1_300_000); // more than two control-socket chunks
writeFileSync(join(dir, "payload.bin"), payload);
let host: UpProcess | undefined;

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (s) => out.push(s), err: (s) => err.push(s) });
  return { code, out: out.join(""), err: err.join("") };
}
const guest = (...argv: string[]) => run("guest", "--socket", socket, "vm1", ...argv);

beforeAll(async () => {
  host = await startUp(["--config", conf, "--socket", socket], {
    cwd: hostCwd,
    env: { ...process.env, PVSCSI_STATE_DIR: state },
  });
  const c = await run("xl", "--socket", socket, "create", vm);
  if (c.code !== 0) throw new Error(`xl create: ${c.err}`);
}, 60_000);

afterAll(async () => {
  await host?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("a guest's own filesystem, through pvscsi guest", () => {
  it("put, tar to tape, tar back, get: the bytes survive, and tar -c . sees only the guest's files", async () => {
    expect(await guest("put", join(dir, "payload.bin"), "/")).toMatchObject({ code: 0, err: "" });
    const root = join(state, "guests", "vm1", "root");
    expect(readdirSync(root)).toEqual(["payload.bin"]);

    const c = await guest("tar", "-c", "-v", "-f", "/dev/nst0", ".");
    expect(c).toMatchObject({ code: 0, out: "payload.bin\n" });
    expect((await guest("mt", "-f", "/dev/nst0", "rewind")).code).toBe(0);
    const x = await guest("tar", "-x", "-f", "/dev/nst0", "-C", "/restore");
    expect(x).toMatchObject({ code: 0, out: "payload.bin: OK\n" });

    const back = join(dir, "back.bin");
    expect(await guest("get", "/restore/payload.bin", back)).toMatchObject({ code: 0, err: "" });
    expect(readFileSync(back).equals(payload)).toBe(true);
    // The host's working folder is untouched: nothing archived from it, nothing written to it.
    expect(readdirSync(hostCwd)).toEqual(["dom0-only.txt"]);
  }, 60_000);

  it("get keeps an existing host file unless -f; failures exit 1 as cp's", async () => {
    const target = join(dir, "exists.txt");
    writeFileSync(target, "keep me\n");
    const r = await guest("get", "/payload.bin", target);
    expect(r).toMatchObject({
      code: 1,
      err: `pvscsi guest: get: '${target}': File exists (use -f to overwrite)\n`,
    });
    expect(readFileSync(target, "utf8")).toBe("keep me\n");
    expect((await guest("get", "-f", "/payload.bin", target)).code).toBe(0);
    expect(readFileSync(target).equals(payload)).toBe(true);

    const missing = await guest("get", "/nope", join(dir, "nope"));
    expect(missing).toMatchObject({ code: 1, err: "pvscsi guest: get: /nope: No such file or directory\n" });
    expect(existsSync(join(dir, "nope"))).toBe(false);
    const out = await guest("put", join(dir, "payload.bin"), "../../escape.bin");
    expect(out).toMatchObject({
      code: 1,
      err: "pvscsi guest: put: ../../escape.bin: outside the guest's filesystem\n",
    });
    expect((await guest("put", join(dir, "absent"), "/x")).code).toBe(1);
  }, 60_000);

  it("guest tools cannot reach dom0's files; tar's Cannot stat exits 2", async () => {
    const cat = await guest("cat", "/dom0-only.txt");
    expect(cat).toMatchObject({ code: 1, err: "cat: /dom0-only.txt: No such file or directory\n" });
    expect(await guest("cat", "../host-cwd/dom0-only.txt")).toMatchObject({
      code: 1,
      err: "cat: ../host-cwd/dom0-only.txt: outside the guest's filesystem\n",
    });
    const t = await guest("tar", "-c", "-f", "/dev/nst0", "dom0-only.txt");
    expect(t).toMatchObject({
      code: 2,
      err: "tar: dom0-only.txt: Cannot stat: No such file or directory\ntar: Exiting with failure status due to previous errors\n",
    });
  }, 60_000);
});

describe("guest_root in a domain config", () => {
  it("is resolved against the config file's folder, as scsi_host_config is", () => {
    const spec = parseDomainConfig(`name = "g"\nguest_root = "roots/g"\n`, "/etc/xen/g.cfg");
    expect(spec.guestRoot).toBe("/etc/xen/roots/g");
    expect(parseDomainConfig(`name = "g"\n`, "/etc/xen/g.cfg").guestRoot).toBeUndefined();
  });
});
