import { describe, expect, it } from "vitest";
import { SAM_STAT_GOOD } from "../../src/scsi/device.js";
import { NullDevice } from "../../src/targets/null-device.js";
import { cdb10, execSync } from "./_support/task.js";

describe("null device", () => {
  it("completes every command GOOD, claiming the whole buffer, touching nothing", () => {
    const d = new NullDevice();
    for (const cdb of [[0x12, 0, 0, 0, 36, 0], cdb10(0x28, 0, 8), [0xff], []]) {
      const t = execSync(d, cdb, { dataIn: 4096 });
      expect([t.status, t.transferred, t.senseLength]).toEqual([SAM_STAT_GOOD, 4096, 0]);
      expect(t.buffer.every((b) => b === 0xa5)).toBe(true); // the guard fill, untouched
    }
    const w = execSync(d, cdb10(0x2a, 0, 8), { dataOut: new Uint8Array(4096).fill(1) });
    expect(w.status).toBe(SAM_STAT_GOOD);
    expect(d.commands).toBe(5);
  });
});
