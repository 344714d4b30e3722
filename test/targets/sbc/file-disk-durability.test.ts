import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Disk } from "../../../src/targets/sbc/disk.js";
import { DISK_INFO } from "../_support/devices.js";

const child = fileURLToPath(new URL("../fixtures/durable-writer.ts", import.meta.url));
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pvscsi-durable-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Run the writer until it prints "acked", then SIGKILL it. */
function writeAndKill(path: string, mode: string, lba: number, value: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ["--import", "tsx", child, path, mode, String(lba), String(value)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    p.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("acked")) p.kill("SIGKILL");
    });
    p.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    p.on("exit", (_code, signal) => {
      if (signal === "SIGKILL" && out.includes("acked")) resolve();
      else reject(new Error(`writer ended without an ack (signal ${signal}): ${err}`));
    });
  });
}

describe("a write acknowledged as durable survives SIGKILL of the process", () => {
  for (const [mode, value] of [
    ["fua", 0x11],
    ["sync", 0x22],
    ["wce-off", 0x33],
  ] as const) {
    it(`${mode}: the acknowledged blocks are in the image afterwards`, async () => {
      const path = join(dir, `${mode}.img`);
      const setup = await Disk.file(DISK_INFO, path, { size: 1 << 20, create: true });
      await setup.close();
      await writeAndKill(path, mode, 16, value);
      const image = await readFile(path);
      expect(image.subarray(16 * 512, 24 * 512).every((b) => b === value)).toBe(true);
      expect(image[15 * 512]).toBe(0);
    });
  }
});
