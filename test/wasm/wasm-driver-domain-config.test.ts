import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LocalSystem } from "../../src/system/single-thread.js";
import { parseDomainConfig } from "../../src/toolstack/domain-config.js";
import { Host } from "../../src/toolstack/host.js";
import { XEN_HEADERS } from "../_support/cc.js";
import { requireSystem } from "../_support/system.js";
import { buildScsiback, CLANG19, LLD19 } from "../_support/wasm.js";

/** `driver_domain = 1` with `kernel = "back.wasm"`: what xl create checks before building anything. */
describe.runIf(requireSystem(CLANG19, LLD19, XEN_HEADERS))("a wasm driver domain's config", () => {
  it("parses, and refuses a scsi_host_config beside the module", () => {
    const { path } = buildScsiback();
    const dir = mkdtempSync(join(tmpdir(), "pvscsi-wasm-dd-"));
    writeFileSync(join(dir, "h.conf"), "[disk 1:0:0:0]\nsize = 8M\n");
    const spec = parseDomainConfig(
      `name = "cb"\nmemory = 8\ndriver_domain = 1\nkernel = "${path}"\n`,
      "cb.cfg",
      dir,
    );
    expect(spec.driverDomain?.wasmKernel?.path).toBe(path);
    expect(() =>
      parseDomainConfig(
        `name = "cb"\nmemory = 8\ndriver_domain = 1\nkernel = "${path}"\nscsi_host_config = "h.conf"\n`,
        "cb.cfg",
        dir,
      ),
    ).toThrow(/cb\.cfg:5: a driver domain whose kernel is a wasm module serves its own LUNs/);
  });

  it("is refused, naming the option, on a host without machine memory", async () => {
    const { path } = buildScsiback();
    const sys = await LocalSystem.start({});
    const host = new Host(sys);
    try {
      await expect(
        sys.run(host.create(`name = "cb"\nmemory = 8\ndriver_domain = 1\nkernel = "${path}"\n`, "cb.cfg")),
      ).rejects.toThrow(/needs machine-memory mode: start the host with machineMemoryMiB/);
      expect(host.list().map((d) => d.name)).toEqual(["Domain-0"]);
    } finally {
      await sys.run(host.shutdown());
    }
  }, 60_000);
});
