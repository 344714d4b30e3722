import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { startUp, type UpProcess } from "../_support/pvscsi-up.js";

/**
 * `pvscsi up` in its own process, driven from "a second terminal" with `pvscsi xl`, `pvscsi
 * guest` and `pvscsi xenstore-ls`, as a Xen admin would.
 */
const dir = mkdtempSync(join(tmpdir(), "pvscsi-cli-"));
const socket = join(dir, "host.sock");
const conf = join(dir, "host.conf");
const vm = join(dir, "vm.cfg");
writeFileSync(conf, "[disk 0:0:0:0]\nsize = 8M\n[disk 0:0:1:0]\nsize = 8M\n");
writeFileSync(vm, `name = "web"\nmemory = 16\nvscsi = [ '/dev/sda,0:0:0:0' ]\n`);

let host: UpProcess;

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (s) => out.push(s), err: (s) => err.push(s) });
  return { code, out: out.join(""), err: err.join("") };
}

beforeAll(async () => {
  host = await startUp(["--config", conf, "--socket", socket]);
}, 30_000);

afterAll(async () => {
  await host.stop();
});

describe("pvscsi up + pvscsi xl from another terminal", () => {
  it("up lists dom0's devices and its socket", () => {
    expect(host.output()).toContain("pvscsi host up: dom0 with 2 SCSI device(s)");
    expect(host.output()).toMatch(/\[0:0:0:0\]\s+disk\s+PVSCSI/);
  });

  it("xl create, list, scsi-attach, scsi-list, guest commands, xenstore-ls, scsi-detach, destroy", async () => {
    expect(await run("xl", "--socket", socket, "create", vm)).toMatchObject({
      code: 0,
      out: expect.stringContaining("created domain web (domid 1)"),
    });
    const list = await run("xl", "--socket", socket, "list");
    expect(list.out.split("\n")[0]).toBe(
      "Name                                        ID   Mem VCPUs\tState\tTime(s)",
    );
    expect(list.out).toMatch(/^web\s+1\s+16\s+1\s+-b----\s+\d+\.\d$/m);
    expect((await run("xl", "--socket", socket, "scsi-attach", "web", "0:0:1:0", "0:0:3:0")).code).toBe(0);
    const sl = await run("xl", "--socket", socket, "scsi-list", "web");
    expect(sl.out).toBe(
      "Idx BE  state ctrl  phy-hctl   vir-hctl   devstate\n" +
        "0   0   4     0     0:0:0:0    0:0:0:0    4\n" +
        "0   0   4     0     0:0:1:0    0:0:3:0    4\n",
    );
    const ls = await run("guest", "--socket", socket, "web", "lsscsi");
    expect(ls.out).toMatch(/\[0:0:3:0\]\s+disk/);
    const xs = await run("xenstore-ls", "--socket", socket, "/local/domain/1/device/vscsi/0");
    expect(xs.out).toMatch(/^backend = "\/local\/domain\/0\/backend\/vscsi\/1\/0"$/m);
    expect(xs.out).toMatch(/^state = "4"$/m);
    expect((await run("xl", "--socket", socket, "scsi-detach", "web", "0:0:3:0")).code).toBe(0);
    const bad = await run("xl", "--socket", socket, "scsi-detach", "web", "0:0:7:0");
    expect(bad).toMatchObject({
      code: 1,
      err: expect.stringContaining("detach failed: 0:0:7:0 does not exist in domid 1"),
    });
    expect((await run("xl", "--socket", socket, "destroy", "web")).code).toBe(0);
    expect((await run("xl", "--socket", socket, "list")).out).not.toContain("web");
  });

  it("bad input names the file, the line or the argument, and creates nothing", async () => {
    const badCfg = join(dir, "bad.cfg");
    writeFileSync(badCfg, `name = "x"\nvscsi = [ '/dev/sdq,0:0:0:0' ]\n`);
    const r = await run("xl", "--socket", socket, "create", badCfg);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${badCfg}:2: pdev '/dev/sdq' does not exist in dom0`);
    expect((await run("xl", "--socket", socket, "list")).out.trim().split("\n")).toHaveLength(2);
    expect(
      (await run("xl", "--socket", socket, "scsi-attach", "nobody", "/dev/sda", "0:0:0:0")).err,
    ).toContain("domain 'nobody' does not exist");
    expect((await run("xl", "--socket", socket, "frob")).code).toBe(2);
    expect((await run("xl", "--socket", socket, "scsi-attach", "x")).err).toMatch(
      /expected <Domain> <PhysDevice> <VirtDevice>/,
    );
  });

  it("a driver domain from a config next to its host config, serving a guest attached with backend=", async () => {
    writeFileSync(join(dir, "dd-host.conf"), "[disk 5:0:0:0]\nsize = 8M\n");
    const ddCfg = join(dir, "dd.cfg");
    writeFileSync(ddCfg, `name = "dd"\ndriver_domain = 1\nscsi_host_config = "dd-host.conf"\n`);
    const created = await run("xl", "--socket", socket, "create", ddCfg);
    expect(created.out).toMatch(/created domain dd \(domid (\d+)\)/);
    const dd = /domid (\d+)/.exec(created.out)![1]!;
    expect((await run("xl", "--socket", socket, "create", vm)).code).toBe(0);
    const attach = await run(
      "xl",
      "--socket",
      socket,
      "scsi-attach",
      "web",
      "/dev/sda",
      "1:0:0:0",
      "backend=dd",
    );
    expect(attach).toMatchObject({ code: 0, err: "" });
    const sl = await run("xl", "--socket", socket, "scsi-list", "web");
    expect(sl.out.split("\n")[2]).toBe(`1   ${dd.padEnd(3)} 4     1     5:0:0:0    1:0:0:0    4`);
    const refused = await run("xl", "--socket", socket, "destroy", "dd");
    expect(refused.code).toBe(1);
    expect(refused.err).toContain("driver domain 'dd' still serves the vscsi controllers of web (vHOST 1)");
    expect((await run("xl", "--socket", socket, "destroy", "web")).code).toBe(0);
    expect((await run("xl", "--socket", socket, "destroy", "dd")).code).toBe(0);
    expect((await run("xl", "--socket", socket, "list")).out.trim().split("\n")).toHaveLength(2);
  });

  it("stops cleanly on Ctrl-C", async () => {
    const exited = new Promise<number | null>((r) => host.child.once("exit", r));
    host.child.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(host.output()).toContain("stopped");
  });
});
