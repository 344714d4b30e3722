import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LocalSystem } from "../../src/system/single-thread.js";
import { assertCleanedUp } from "../../src/testing/index.js";
import { Host } from "../../src/toolstack/host.js";
import { XEN_HEADERS } from "../_support/cc.js";
import { requireSystem } from "../_support/system.js";
import { buildScsiback, CLANG19, LLD19, until } from "../_support/wasm.js";

const hash = (s: string) => /sha256 ([0-9a-f]{64})/.exec(s)?.[1];

/**
 * Backend-side misuse of the userspace level by a C scsiback (examples/c/scsiback.c built with
 * `BROKEN=...`): each is refused by pvscsi's grant code with a report in the backend's log
 * naming the operation, the status and the rule; the backend keeps serving, the guest's data
 * stays intact, and a second guest served by dom0 is untouched.
 */
const VARIANTS: ReadonlyArray<readonly [string, string, RegExp]> = [
  [
    "MAP_UNGRANTED",
    "mapping a ref the frontend never granted it",
    /\[pvscsi\] dom\d+: gnttab map of dom\d+ ref \d+ read-only: GNTST_general_error: the grant entry (names another domain|does not permit access)/,
  ],
  [
    "DOUBLE_UNMAP",
    "unmapping a data page twice",
    /\[pvscsi\] dom\d+: gnttab unmap of 0x[0-9a-f]+: GNTST_bad_handle: no grant is mapped there \(unmapped twice, or never mapped\)/,
  ],
  [
    "COPY_OOB",
    "a grant copy past the end of the granted page",
    /\[pvscsi\] dom\d+: gnttab copy segment 0: GNTST_bad_copy_arg: offset \+ len passes the end of the page/,
  ],
];

describe.runIf(requireSystem(CLANG19, LLD19, XEN_HEADERS))("a misbehaving C scsiback", () => {
  for (const [variant, what, report] of VARIANTS) {
    it(`is refused and reported on ${what}; guests carry on (BROKEN=${variant})`, async () => {
      const { path } = buildScsiback(variant);
      const dir = mkdtempSync(join(tmpdir(), "pvscsi-wasm-bb-"));
      const sys = await LocalSystem.start({
        hostConfig: { text: "[disk 1:0:0:0]\nsize = 8M\n", source: "dom0.conf", baseDir: dir },
        machineMemoryMiB: 64,
      });
      const host = new Host(sys);
      try {
        await sys.run(
          host.create(`name = "cback"\nmemory = 8\ndriver_domain = 1\nkernel = "${path}"\n`, "b.cfg"),
        );
        await sys.run(
          host.create(`name = "vm"\nmemory = 16\nvscsi = [ '0:0:0:0,0:0:0:0,backend=cback' ]\n`, "vm.cfg"),
        );
        // Another guest, served by dom0's scsiback.
        await sys.run(host.create(`name = "vm2"\nmemory = 16\nvscsi = [ '1:0:0:0,0:0:0:0' ]\n`, "vm2.cfg"));
        const cmd = (dom: string, argv: string[]) => sys.run(host.guestCommand(dom, argv));

        const w = await cmd("vm", ["dd", "of=/dev/sda", "if=pattern:5", "bs=64k", "count=4", "status=hash"]);
        expect(w.exitCode, w.stderr).toBe(0);
        let r = await cmd("vm", ["dd", "if=/dev/sda", "bs=64k", "count=4", "status=hash"]);
        if (variant === "COPY_OOB") {
          // The READ whose copy was refused failed, as an I/O error in the guest; the next works.
          expect(r.exitCode).toBe(1);
          r = await cmd("vm", ["dd", "if=/dev/sda", "bs=64k", "count=4", "status=hash"]);
        }
        expect(r.exitCode, r.stderr).toBe(0);
        expect(hash(r.stdout)).toBe(hash(w.stdout));

        const log = (await sys.run(host.guestCommand("cback", ["dmesg"]))).stdout;
        expect(log).toContain("(broken)");
        expect(log).toMatch(report);
        expect(log).not.toMatch(/kernel stopped/);

        const w2 = await cmd("vm2", [
          "dd",
          "of=/dev/sda",
          "if=pattern:6",
          "bs=64k",
          "count=4",
          "status=hash",
        ]);
        const r2 = await cmd("vm2", ["dd", "if=/dev/sda", "bs=64k", "count=4", "status=hash"]);
        expect(hash(r2.stdout)).toBe(hash(w2.stdout));

        assertCleanedUp(await sys.run(host.destroy("vm")));
        assertCleanedUp(await sys.run(host.destroy("vm2")));
        assertCleanedUp(await sys.run(host.destroy("cback")));
        assertCleanedUp(sys);
      } finally {
        await sys.run(host.shutdown());
      }
    }, 120_000);
  }

  it("is reported the same way in workers (BROKEN=DOUBLE_UNMAP); the guest's data is intact", async () => {
    const { path } = buildScsiback("DOUBLE_UNMAP");
    const dir = mkdtempSync(join(tmpdir(), "pvscsi-wasm-bbw-"));
    const host = await Host.start({
      hostConfig: { text: "[disk 1:0:0:0]\nsize = 8M\n", source: "dom0.conf", baseDir: dir },
      machineMemoryMiB: 64,
      stateTimeoutMs: 30_000,
    });
    try {
      await host.create(`name = "cback"\nmemory = 8\ndriver_domain = 1\nkernel = "${path}"\n`, "b.cfg");
      await host.create(`name = "vm"\nmemory = 16\nvscsi = [ '0:0:0:0,0:0:0:0,backend=cback' ]\n`, "vm.cfg");
      const w = await host.guestCommand("vm", [
        "dd",
        "of=/dev/sda",
        "if=pattern:8",
        "bs=64k",
        "count=4",
        "status=hash",
      ]);
      expect(w.exitCode, w.stderr).toBe(0);
      const r = await host.guestCommand("vm", ["dd", "if=/dev/sda", "bs=64k", "count=4", "status=hash"]);
      expect(hash(r.stdout)).toBe(hash(w.stdout));
      const log = await until(
        async () => {
          const out = (await host.guestCommand("cback", ["dmesg"])).stdout;
          return out.includes("GNTST_bad_handle") ? out : undefined;
        },
        20_000,
        "the backend's report",
      );
      expect(log).toMatch(VARIANTS[1]![2]);
      assertCleanedUp(await host.destroy("vm"));
      assertCleanedUp(await host.destroy("cback"));
    } finally {
      await host.shutdown();
    }
  }, 120_000);
});
