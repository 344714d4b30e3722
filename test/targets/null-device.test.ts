import { describe, expect, it } from "vitest";
import { SAM_STAT_CHECK_CONDITION, SAM_STAT_GOOD } from "../../src/scsi/device.js";
import { NULL_DEVICE_BYTES, NullDevice } from "../../src/targets/null-device.js";
import { ScsiTarget } from "../../src/targets/target.js";
import { cdb10, clearUas, execSync } from "./_support/task.js";

const ascii = (b: Uint8Array) => Buffer.from(b).toString("latin1");

describe("null device: a real disk that reads zeros and discards writes", () => {
  it("answers a scan as sg_inq, sg_readcap, sg_luns and sg_modes would ask, writing what it reports", () => {
    const d = new NullDevice();
    new ScsiTarget().attach(0, d);
    // A new nexus meets 06/29/00 first, like every other disk.
    expect(clearUas(d)).toEqual(["06/29/00"]);
    expect(execSync(d, [0, 0, 0, 0, 0, 0]).status).toBe(SAM_STAT_GOOD);

    const inq = execSync(d, [0x12, 0, 0, 0, 96, 0], { dataIn: 96 });
    expect(inq.status).toBe(SAM_STAT_GOOD);
    expect(inq.transferred).toBeGreaterThanOrEqual(36);
    expect(inq.bytes[0]).toBe(0x00); // direct access, connected
    expect(inq.bytes[2]).toBe(0x05); // SPC-3, not stale memory's 0x0f
    expect(ascii(inq.bytes.subarray(8, 16))).toBe("PVSCSI  ");
    expect(ascii(inq.bytes.subarray(16, 20))).toBe("NULL");

    const cap = execSync(d, [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], { dataIn: 8 });
    expect([cap.status, cap.transferred]).toEqual([SAM_STAT_GOOD, 8]);
    expect(Buffer.from(cap.bytes).readUInt32BE(0)).toBe(NULL_DEVICE_BYTES / 512 - 1);
    expect(Buffer.from(cap.bytes).readUInt32BE(4)).toBe(512);

    const luns = execSync(d, [0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0], { dataIn: 64 });
    expect([luns.status, luns.transferred]).toEqual([SAM_STAT_GOOD, 16]);
    expect(Array.from(luns.bytes)).toEqual([0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

    const modes = execSync(d, [0x1a, 0, 0x3f, 0, 255, 0], { dataIn: 255 });
    expect(modes.status).toBe(SAM_STAT_GOOD);
    expect(modes.transferred).toBe(modes.bytes[0]! + 1);

    const sense = execSync(d, [0x03, 0, 0, 0, 18, 0], { dataIn: 18 });
    expect([sense.status, sense.transferred, sense.bytes[0], sense.bytes[2]]).toEqual([
      SAM_STAT_GOOD,
      18,
      0x70,
      0,
    ]);

    // An unknown opcode is refused, not "succeeded".
    const bad = execSync(d, [0xff, 0, 0, 0, 0, 0]);
    expect([bad.status, bad.senseString]).toEqual([SAM_STAT_CHECK_CONDITION, "05/20/00"]);
  });

  it("READ returns zeros over stale memory; WRITE is accepted and discarded", () => {
    const d = new NullDevice();
    clearUas(d);
    const w = execSync(d, cdb10(0x2a, 8, 8), { dataOut: new Uint8Array(4096).fill(0x77) });
    expect([w.status, w.transferred]).toEqual([SAM_STAT_GOOD, 4096]);
    const r = execSync(d, cdb10(0x28, 8, 8), { dataIn: 4096, segment: 1000 });
    expect([r.status, r.transferred]).toEqual([SAM_STAT_GOOD, 4096]);
    expect(r.buffer.every((b) => b === 0)).toBe(true); // not the 0xa5 fill the buffer held
    // Past the capacity is an LBA out of range, as on any disk.
    const past = execSync(d, [0x88, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0], { dataIn: 512 });
    expect(past.senseString).toBe("05/21/00");
    expect(d.submitted).toBe(5);
  });
});
