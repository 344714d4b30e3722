import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LocalSystem } from "../../src/system/single-thread.js";
import { assertCleanedUp } from "../../src/testing/index.js";
import { Host } from "../../src/toolstack/host.js";
import { XEN_HEADERS } from "../_support/cc.js";
import { requireSystem } from "../_support/system.js";
import { buildScsiback, CLANG19, LLD19 } from "../_support/wasm.js";

const hash = (s: string) => /sha256 ([0-9a-f]{64})/.exec(s)?.[1];

/**
 * examples/c/scsiback.c, compiled to wasm with the SDK, as a driver domain's kernel
 * (`driver_domain = 1`, `kernel = "scsiback.wasm"`) in machine-memory mode, serving pvscsi's
 * TypeScript scsifront in the single-thread system: the guest's sd sees its two RAM-disk LUNs,
 * a pattern written through /dev/sda reads back, and destroying both domains leaves no grant,
 * mapping or port behind.
 */
describe.runIf(requireSystem(CLANG19, LLD19, XEN_HEADERS))(
  "C scsiback as a wasm driver domain, single thread",
  () => {
    it("serves the guest's sd with data intact, and leaves nothing at destroy", async () => {
      const { path } = buildScsiback();
      const dir = mkdtempSync(join(tmpdir(), "pvscsi-wasm-be-"));
      const sys = await LocalSystem.start({
        hostConfig: { text: "[disk 1:0:0:0]\nsize = 8M\n", source: "dom0.conf", baseDir: dir },
        machineMemoryMiB: 64,
      });
      const host = new Host(sys);
      try {
        const backCfg = `name = "cback"\nmemory = 8\ndriver_domain = 1\nkernel = "${path}"\n`;
        writeFileSync(join(dir, "cback.cfg"), backCfg);
        const back = await sys.run(host.create(backCfg, join(dir, "cback.cfg")));
        expect(back.warnings).toEqual([]);
        const vm = await sys.run(
          host.create(
            `name = "vm"\nmemory = 16\nvscsi = [ '0:0:0:0,0:0:0:0,backend=cback', '0:0:0:1,0:0:0:1,backend=cback' ]\n`,
            join(dir, "vm.cfg"),
          ),
        );
        // Carved from the machine memory: the backend at machine address 0, the guest above it.
        expect(sys.hv.handle(back.domid).machine?.byteOffset).toBe(0);
        expect(sys.hv.handle(vm.domid).machine?.byteOffset).toBeGreaterThan(0);
        const cmd = (argv: string[]) => sys.run(host.guestCommand("vm", argv));
        const ls = (await cmd(["lsscsi"])).stdout;
        expect(ls).toMatch(/\[\d+:0:0:0\]\s+disk\s+PVWASM\s+RAMDISK\s+0001\s+\/dev\/sda/);
        expect(ls).toMatch(/\[\d+:0:0:1\]\s+disk\s+PVWASM\s+RAMDISK\s+0001\s+\/dev\/sdb/);
        const cap = await cmd(["sg_readcap", "/dev/sda"]);
        expect(cap.stdout).toMatch(/Last LBA=4095.*\n.*block length=512/s);
        const luns = await cmd(["sg_luns", "/dev/sda"]);
        expect(luns.stdout).toMatch(/Lun list length = 16/);

        const w = await cmd([
          "dd",
          "of=/dev/sda",
          "if=pattern:11",
          "bs=64k",
          "count=8",
          "seek=3",
          "status=hash",
        ]);
        expect(w.exitCode, w.stderr).toBe(0);
        const r = await cmd(["dd", "if=/dev/sda", "bs=64k", "count=8", "skip=3", "status=hash"]);
        expect(r.exitCode, r.stderr).toBe(0);
        expect(hash(r.stdout)).toBeDefined();
        expect(hash(r.stdout)).toBe(hash(w.stdout));
        // The other LUN is another RAM disk: the same range there is still zeros.
        const other = await cmd(["dd", "if=/dev/sdb", "bs=64k", "count=8", "skip=3", "status=hash"]);
        expect(hash(other.stdout)).not.toBe(hash(w.stdout));
        // 6 KiB requests at 6 KiB: a 4 KiB segment's copy crosses a page of the RAM disk, which
        // the SDK's xengnttab_grant_copy splits in two hypercall segments.
        const wu = await cmd([
          "dd",
          "of=/dev/sdb",
          "if=pattern:12",
          "bs=6144",
          "seek=1",
          "count=8",
          "status=hash",
        ]);
        expect(wu.exitCode, wu.stderr).toBe(0);
        const ru = await cmd(["dd", "if=/dev/sdb", "bs=6144", "skip=1", "count=8", "status=hash"]);
        expect(ru.exitCode, ru.stderr).toBe(0);
        expect(hash(ru.stdout)).toBe(hash(wu.stdout));
        const shifted = await cmd(["dd", "if=/dev/sdb", "bs=4096", "skip=1", "count=12", "status=hash"]);
        expect(hash(shifted.stdout)).not.toBe(hash(wu.stdout));
        const past = await cmd(["dd", "of=/dev/sda", "if=pattern:1", "bs=1M", "count=3"]);
        expect(past.exitCode).toBe(1);

        const log = (await sys.run(host.guestCommand("cback", ["dmesg"]))).stdout;
        expect(log).toMatch(/scsiback: dom\d+'s ring-ref \d+ mapped at 0x[0-9a-f]+/);
        expect(log).toContain("scsiback: LUN 0:0:0:1 (RAM disk 1) as 0:0:1");
        expect(log).not.toMatch(/refused|GNTST|bogus/);

        assertCleanedUp(await sys.run(host.destroy("vm")));
        const after = (await sys.run(host.guestCommand("cback", ["dmesg"]))).stdout;
        expect(after).toMatch(/ring unmapped, port unbound after \d+ requests/);
        expect(after).toContain("removed");
        assertCleanedUp(await sys.run(host.destroy("cback")));
        assertCleanedUp(sys);
      } finally {
        await sys.run(host.shutdown());
      }
    }, 120_000);
  },
);
