import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ThreadedSystem } from "../../src/system/threaded-system.js";
import { assertCleanedUp } from "../../src/testing/index.js";
import { Host } from "../../src/toolstack/host.js";
import { XEN_HEADERS } from "../_support/cc.js";
import { requireSystem } from "../_support/system.js";
import { buildScsifront, buildXsHello, CLANG19, LLD19, until } from "../_support/wasm.js";

/**
 * The same C scsifront with threads: the module runs in its domain's worker, dom0's scsiback in
 * another, xenstored here. Only rings, grants, event channels and xenstore pages connect them.
 */
describe.runIf(requireSystem(CLANG19, LLD19, XEN_HEADERS))("C scsifront as a wasm kernel, workers", () => {
  it("passes its self-test against scsiback in another worker; destroy leaves nothing", async () => {
    const { path } = buildScsifront();
    const dir = mkdtempSync(join(tmpdir(), "pvscsi-wasm-w-"));
    const host = await Host.start({
      hostConfig: { text: "[disk 1:0:0:0]\nsize = 8M\n", source: "dom0.conf", baseDir: dir },
    });
    try {
      const cfg = `name = "cfront"\nmemory = 16\nkernel = "${path}"\nvscsi = [ '/dev/sda,0:0:0:0' ]\n`;
      await host.create(cfg, join(dir, "cfront.cfg"));
      const log = await until(
        async () => {
          const out = (await host.guestCommand("cfront", ["dmesg"])).stdout;
          return /self-test passed|FAIL|stopped/.test(out) ? out : undefined;
        },
        20_000,
        "the C scsifront's self-test",
      );
      expect(log).toContain("WRITE+READ 64 pages (indirect segments): data checked");
      expect(log).toContain("self-test passed");
      expect(log).not.toContain("FAIL");
      const ls = await host.guestCommand("cfront", ["lsscsi"]);
      expect(ls.exitCode).toBe(127);
      assertCleanedUp(await host.destroy("cfront"));
    } finally {
      await host.shutdown();
    }
  }, 60_000);
});

describe.runIf(requireSystem(CLANG19, LLD19, XEN_HEADERS))(
  "a wasm kernel that loops forever, in a worker",
  () => {
    it("is terminated by xl destroy; the host and its other guests carry on", async () => {
      const { path } = buildScsifront("LOOP");
      const dir = mkdtempSync(join(tmpdir(), "pvscsi-wasm-loop-"));
      // Short toolstack timeouts (the looping kernel answers nothing), a long one for dom0's boot.
      const system = await ThreadedSystem.start({
        hostConfig: {
          text: "[disk 1:0:0:0]\nsize = 8M\n[disk 1:0:1:0]\nsize = 8M\n",
          source: "dom0.conf",
          baseDir: dir,
        },
        bootTimeoutMs: 30_000,
      });
      const host = new Host(system, { stateTimeoutMs: 3000 });
      try {
        const { domid } = await host.create(
          `name = "looper"\nmemory = 16\nkernel = "${path}"\nvscsi = [ '/dev/sda,0:0:0:0' ]\n`,
          "l.cfg",
        );
        // xl create returns once the backend is connected; the driver starts looping only after it
        // writes its own Connected, so wait for that (bounded) before destroying it.
        for (let i = 0; i < 200; i++) {
          if ((await host.xs.tryRead(`/local/domain/${domid}/device/vscsi/0/state`)) === "4") break;
          await new Promise((r) => setTimeout(r, 25));
        }
        const report = await host.destroy("looper");
        // It never let go of its ring: the leak report says so, and the domain is gone anyway.
        expect(report.liveGrants.length).toBeGreaterThan(0);
        expect(host.list().map((d) => d.name)).toEqual(["Domain-0"]);
        await host.create(`name = "vm"\nmemory = 16\nvscsi = [ '1:0:1:0,0:0:0:0' ]\n`, "vm.cfg");
        expect((await host.guestCommand("vm", ["lsscsi"])).stdout).toMatch(/disk/);
        assertCleanedUp(await host.destroy("vm"));
      } finally {
        await host.shutdown();
      }
    }, 60_000);
  },
);

describe.runIf(requireSystem(CLANG19, LLD19, XEN_HEADERS))("a blocking-style wasm kernel in a worker", () => {
  it("reads xenstore with the synchronous helpers, sleeping in pv_evtchn_wait", async () => {
    const path = buildXsHello();
    const host = await Host.start({
      hostConfig: { text: "[disk 1:0:0:0]\nsize = 8M\n", source: "d", baseDir: "/tmp" },
    });
    try {
      await host.create(`name = "hello"\nmemory = 4\nkernel = "${path}"\n`, "hello.cfg");
      const log = await until(
        async () => {
          const out = (await host.guestCommand("hello", ["dmesg"])).stdout;
          return out.includes("xs-hello:") ? out : undefined;
        },
        20_000,
        "xs-hello's greeting",
      );
      const m = /xs-hello: hello from hello \(dom\d+\); an idle wait returned 0 after (\d+) ms/.exec(log);
      expect(m, log).not.toBeNull();
      expect(Number(m![1])).toBeGreaterThanOrEqual(45);
      assertCleanedUp(await host.destroy("hello"));
    } finally {
      await host.shutdown();
    }
  }, 60_000);
});
