import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { assertCleanedUp } from "../../src/testing/index.js";
import { Host } from "../../src/toolstack/host.js";
import { XEN_HEADERS } from "../_support/cc.js";
import { requireSystem } from "../_support/system.js";
import { buildScsiback, CLANG19, LLD19 } from "../_support/wasm.js";

const hash = (s: string) => /sha256 ([0-9a-f]{64})/.exec(s)?.[1];

/**
 * The same C scsiback with threads: the module runs in its driver domain's worker with the
 * machine memory imported, pvscsi's scsifront in the guest's worker, xenstored here. Only the
 * ring, grants, event channels and xenstore connect them.
 */
describe.runIf(requireSystem(CLANG19, LLD19, XEN_HEADERS))(
  "C scsiback as a wasm driver domain, workers",
  () => {
    it("serves the guest's sd from another worker with data intact; destroy leaves nothing", async () => {
      const { path } = buildScsiback();
      const dir = mkdtempSync(join(tmpdir(), "pvscsi-wasm-bw-"));
      const host = await Host.start({
        hostConfig: { text: "[disk 1:0:0:0]\nsize = 8M\n", source: "dom0.conf", baseDir: dir },
        machineMemoryMiB: 64,
        stateTimeoutMs: 30_000,
      });
      try {
        await host.create(`name = "cback"\nmemory = 8\ndriver_domain = 1\nkernel = "${path}"\n`, "cback.cfg");
        await host.create(
          `name = "vm"\nmemory = 16\nvscsi = [ '0:0:0:0,0:0:0:0,backend=cback' ]\n`,
          join(dir, "vm.cfg"),
        );
        const cmd = (argv: string[]) => host.guestCommand("vm", argv);
        expect((await cmd(["lsscsi"])).stdout).toMatch(/disk\s+PVWASM\s+RAMDISK\s+0001\s+\/dev\/sda/);
        const w = await cmd(["dd", "of=/dev/sda", "if=pattern:23", "bs=128k", "count=8", "status=hash"]);
        expect(w.exitCode, w.stderr).toBe(0);
        const r = await cmd(["dd", "if=/dev/sda", "bs=4k", "count=256", "status=hash"]);
        expect(r.exitCode, r.stderr).toBe(0);
        expect(hash(r.stdout)).toBeDefined();
        expect(hash(r.stdout)).toBe(hash(w.stdout));
        assertCleanedUp(await host.destroy("vm"));
        const log = (await host.guestCommand("cback", ["dmesg"])).stdout;
        expect(log).toMatch(/ring unmapped, port unbound after \d+ requests/);
        expect(log).not.toMatch(/GNTST|bogus/);
        assertCleanedUp(await host.destroy("cback"));
      } finally {
        await host.shutdown();
      }
    }, 120_000);
  },
);
