import { describe, expect, it } from "vitest";
import {
  SAM_STAT_CHECK_CONDITION,
  SAM_STAT_GOOD,
  SAM_STAT_RESERVATION_CONFLICT,
} from "../../../src/scsi/device.js";
import { ramDisk } from "../_support/devices.js";
import { cdb10, cdb16, clearUas, execSync, I1, I2 } from "../_support/task.js";

function ready(blocks = 2048, bs = 512, opts = {}) {
  const d = ramDisk(blocks, bs, opts);
  clearUas(d);
  return d;
}

const pattern = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);

describe("READ / WRITE", () => {
  it("WRITE(10) then READ(10) round-trips, through scatter/gather segments", () => {
    const d = ready();
    const data = pattern(4096, 3);
    const w = execSync(d, cdb10(0x2a, 100, 8), { dataOut: data, segment: 1000 });
    expect([w.status, w.transferred]).toEqual([SAM_STAT_GOOD, 4096]);
    const r = execSync(d, cdb10(0x28, 100, 8), { dataIn: 4096, segment: 700 });
    expect(r.transferred).toBe(4096);
    expect(r.bytes).toEqual(data);
  });

  it("READ(6)/WRITE(6): 21-bit LBA, transfer length 0 means 256 blocks", () => {
    const d = ready();
    const data = pattern(256 * 512, 1);
    expect(execSync(d, [0x0a, 0, 0, 5, 0, 0], { dataOut: data }).transferred).toBe(256 * 512);
    const r = execSync(d, [0x08, 0, 0, 5, 0, 0], { dataIn: 256 * 512 });
    expect(r.bytes).toEqual(data);
    expect(execSync(d, [0x08, 0x1f, 0xff, 0xff, 1, 0], { dataIn: 512 }).senseString).toBe("05/21/00");
  });

  it("READ(12)/WRITE(12) and READ(16)/WRITE(16) on 4096-byte blocks", () => {
    const d = ready(64, 4096);
    const data = pattern(8192, 9);
    expect(execSync(d, [0xaa, 0, 0, 0, 0, 10, 0, 0, 0, 2, 0, 0], { dataOut: data }).status).toBe(
      SAM_STAT_GOOD,
    );
    expect(execSync(d, [0xa8, 0, 0, 0, 0, 10, 0, 0, 0, 2, 0, 0], { dataIn: 8192 }).bytes).toEqual(data);
    expect(execSync(d, cdb16(0x8a, 62, 2), { dataOut: data }).status).toBe(SAM_STAT_GOOD);
    expect(execSync(d, cdb16(0x88, 62, 2), { dataIn: 8192 }).bytes).toEqual(data);
  });

  it("unwritten blocks read as zeros", () => {
    expect(execSync(ready(), cdb10(0x28, 7, 1), { dataIn: 512 }).bytes.every((b) => b === 0)).toBe(true);
  });

  it("range: the last block is fine, one past → 05/21/00, LBA overflow → 05/21/00, TL 0 at capacity is GOOD", () => {
    const d = ready(2048);
    expect(execSync(d, cdb10(0x28, 2047, 1), { dataIn: 512 }).status).toBe(SAM_STAT_GOOD);
    const past = execSync(d, cdb10(0x28, 2047, 2), { dataIn: 1024 });
    expect([past.status, past.senseString, past.transferred]).toEqual([
      SAM_STAT_CHECK_CONDITION,
      "05/21/00",
      0,
    ]);
    expect(execSync(d, cdb16(0x88, 2 ** 40, 1), { dataIn: 512 }).senseString).toBe("05/21/00");
    const max = cdb16(0x88, 0, 1);
    max.fill(0xff, 2, 10);
    expect(execSync(d, max, { dataIn: 512 }).senseString).toBe("05/21/00");
    const zero = execSync(d, cdb10(0x28, 2048, 0), { dataIn: 512 });
    expect([zero.status, zero.transferred]).toEqual([SAM_STAT_GOOD, 0]);
    expect(execSync(d, cdb10(0x28, 2049, 0)).senseString).toBe("05/21/00");
  });

  it("a data-in buffer shorter than the transfer is filled; longer leaves a residual", () => {
    const d = ready();
    execSync(d, cdb10(0x2a, 0, 2), { dataOut: pattern(1024, 5) });
    const short = execSync(d, cdb10(0x28, 0, 2), { dataIn: 700 });
    expect(short.transferred).toBe(700);
    expect(short.bytes).toEqual(pattern(1024, 5).subarray(0, 700));
    const long = execSync(d, cdb10(0x28, 0, 1), { dataIn: 2000 });
    expect(long.transferred).toBe(512);
  });

  it("a data-out buffer shorter than the transfer → 05/0E/03 and nothing is written", () => {
    const d = ready();
    const t = execSync(d, cdb10(0x2a, 0, 2), { dataOut: pattern(1000, 1) });
    expect(t.senseString).toBe("05/0E/03");
    expect(execSync(d, cdb10(0x28, 0, 1), { dataIn: 512 }).bytes.every((b) => b === 0)).toBe(true);
  });

  it("error precedence: conflict → not ready → PROTECT → write protect → range", async () => {
    // PROTECT before range.
    const d = ready(16, 512, { readOnly: true });
    const protect = execSync(d, cdb10(0x2a, 999, 1, 0x20), { dataOut: new Uint8Array(512) });
    expect(protect.senseString).toBe("05/24/00");
    expect(protect.decoded.sks).toBe(0xcf0001);
    // Write protection before range.
    expect(execSync(d, cdb10(0x2a, 999, 1), { dataOut: new Uint8Array(512) }).senseString).toBe("07/27/00");
    // Reads work on a read-only disk.
    expect(execSync(d, cdb10(0x28, 0, 1), { dataIn: 512 }).status).toBe(SAM_STAT_GOOD);
    // Not ready (stopped) before PROTECT.
    execSync(d, [0x1b, 0, 0, 0, 0x00, 0]);
    expect(execSync(d, cdb10(0x2a, 999, 1, 0x20), { dataOut: new Uint8Array(512) }).senseString).toBe(
      "02/04/02",
    );
    // Reservation conflict before not ready.
    clearUas(d, I2);
    execSync(d, [0x16, 0, 0, 0, 0, 0], { initiator: I2 });
    expect(execSync(d, cdb10(0x28, 999, 1, 0x20), { initiator: I1, dataIn: 512 }).status).toBe(
      SAM_STAT_RESERVATION_CONFLICT,
    );
  });

  it("FUA and the write cache are accepted; DPO too", () => {
    const d = ready();
    expect(execSync(d, cdb10(0x2a, 1, 1, 0x18), { dataOut: pattern(512, 2) }).status).toBe(SAM_STAT_GOOD);
    expect(execSync(d, cdb10(0x28, 1, 1, 0x18), { dataIn: 512 }).bytes).toEqual(pattern(512, 2));
  });
});
