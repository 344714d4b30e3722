import { mkdtempSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FileStore } from "../../../src/targets/sbc/file-store.js";

/**
 * `create = yes` on one shareable image by two hosts starting at the same moment (xl migrate's two
 * hosts, a shared SAN-like folder): both must open the image, neither may see it half made.
 */
describe("FileStore.open with create, raced", () => {
  it("two concurrent creators both get the full-size image, and no temporary file is left", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pvscsi-create-race-"));
    for (let round = 0; round < 20; round++) {
      const path = join(dir, `img-${round}`, "disk.img");
      const opts = { size: 1 << 20, create: true, blockSize: 512 } as const;
      const stores = await Promise.all([FileStore.open(path, opts), FileStore.open(path, opts)]);
      for (const s of stores) {
        expect(s.fault).toBeNull();
        await s.close();
      }
      expect(statSync(path).size).toBe(1 << 20);
      expect(readdirSync(join(dir, `img-${round}`))).toEqual(["disk.img"]);
    }
  });
});
