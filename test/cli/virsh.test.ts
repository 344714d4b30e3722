import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { startUp, type UpProcess } from "../_support/pvscsi-up.js";

/**
 * `pvscsi virsh domxml-from-native|domxml-to-native xen-xl` as an admin runs it: against a
 * running host (which resolves /dev names and knows which devices are shareable), with virsh's
 * exit codes (1 and "error: ..." on any failure).
 */
const dir = mkdtempSync(join(tmpdir(), "pvscsi-virsh-cli-"));
const socket = join(dir, "host.sock");
const conf = join(dir, "host.conf");
writeFileSync(conf, "[disk 0:0:0:0]\nsize = 4M\n[disk 0:0:1:0]\nsize = 4M\nshareable = yes\n");
const cfg = join(dir, "web.cfg");
const CFG = "name = 'web'\nmemory = 16\nvscsi = [ '/dev/sda,0:0:0:0', '/dev/sdb,1:0:1:0,feature-host' ]\n";
writeFileSync(cfg, CFG);

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

describe("pvscsi virsh", () => {
  it("domxml-from-native resolves /dev names on the host; domxml-to-native gives the config back", async () => {
    const x = await run("virsh", "--socket", socket, "domxml-from-native", "xen-xl", cfg);
    expect(x).toMatchObject({ code: 0, err: "" });
    expect(x.out).toMatch(
      /<adapter name='scsi_host0'\/>\n\s+<address bus='0' target='1' unit='0'\/>\n\s+<\/source>\n\s+<shareable\/>/,
    );
    const xml = join(dir, "web.xml");
    writeFileSync(xml, x.out);
    const back = await run("virsh", "--socket", socket, "domxml-to-native", "xen-xl", xml);
    expect(back).toEqual({ code: 0, out: CFG, err: "" });
  });

  it("errors exit 1 with virsh's 'error:' prefix", async () => {
    const off = await run("virsh", "domxml-from-native", "xen-xl", cfg);
    expect(off.code).toBe(1);
    expect(off.err).toMatch(/^error: .*web\.cfg:3: pdev '\/dev\/sda': libvirt's SCSI hostdev names a LUN/);
    expect(await run("virsh", "domxml-from-native", "qemu-argv", cfg)).toMatchObject({
      code: 1,
      err: "error: unsupported config type 'qemu-argv': only xen-xl\n",
    });
    const missing = await run("virsh", "domxml-to-native", "xen-xl", join(dir, "nope.xml"));
    expect(missing.code).toBe(1);
    expect(missing.err).toContain("error: Failed to open file");
  });
});
