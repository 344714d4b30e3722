import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LocalSystem } from "../../src/system/single-thread.js";
import { assertCleanedUp } from "../../src/testing/index.js";
import { Host } from "../../src/toolstack/host.js";
import { XEN_HEADERS } from "../_support/cc.js";
import { requireSystem } from "../_support/system.js";
import { buildScsifront, CLANG19, LLD19 } from "../_support/wasm.js";

/**
 * examples/c/scsifront.c, compiled to wasm with the SDK, as a guest's kernel (`kernel =
 * "scsifront.wasm"`) in the single-thread system: its own xenbus handshake, then INQUIRY, REPORT
 * LUNS, WRITE+READ with data checked, 64 pages through indirect segments, ABORT; destroy leaves
 * nothing behind.
 */
describe.runIf(requireSystem(CLANG19, LLD19, XEN_HEADERS))(
  "C scsifront as a wasm kernel, single thread",
  () => {
    it("connects to pvscsi's scsiback, passes its self-test, and leaves no grant, mapping or port", async () => {
      const { path } = buildScsifront();
      const dir = mkdtempSync(join(tmpdir(), "pvscsi-wasm-st-"));
      const cfg = join(dir, "cfront.cfg");
      writeFileSync(
        cfg,
        `name = "cfront"\nmemory = 16\nkernel = "${path}"\nvscsi = [ '/dev/sda,0:0:0:0' ]\n`,
      );
      const sys = await LocalSystem.start({
        hostConfig: { text: "[disk 1:0:0:0]\nsize = 8M\n", source: "dom0.conf", baseDir: dir },
      });
      const host = new Host(sys);
      try {
        const { domid, warnings } = await sys.run(
          host.create(
            `name = "cfront"\nmemory = 16\nkernel = "${path}"\nvscsi = [ '/dev/sda,0:0:0:0' ]\n`,
            cfg,
          ),
        );
        expect(warnings).toEqual([]);
        let log = "";
        for (let i = 0; i < 200 && !/self-test passed|FAIL|stopped/.test(log); i++) {
          await sys.settle();
          log = (await sys.run(host.guestCommand("cfront", ["dmesg"]))).stdout;
        }
        expect(log).toContain("scsifront: connected to /local/domain/0/backend/vscsi/");
        expect(log).toMatch(/INQUIRY 0:0:0: type 0/);
        expect(log).toMatch(/REPORT LUNS: 1 LUN/);
        expect(log).toContain("WRITE+READ 4 pages (direct segments): data checked");
        expect(log).toContain("WRITE+READ 64 pages (indirect segments): data checked");
        expect(log).toContain("ABORT of rqid 1");
        expect(log).toContain("self-test passed");
        expect(log).not.toContain("FAIL");
        const report = await sys.run(host.destroy("cfront"));
        expect(report.domid).toBe(domid);
        // Nothing left: no grant live or mapped, no mapping held, no port bound (the leak report).
        assertCleanedUp(report);
        assertCleanedUp(sys);
      } finally {
        await sys.run(host.shutdown());
      }
    }, 60_000);
  },
);
