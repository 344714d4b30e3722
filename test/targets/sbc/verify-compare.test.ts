import { describe, expect, it } from "vitest";
import { SAM_STAT_GOOD } from "../../../src/scsi/device.js";
import { ramDisk } from "../_support/devices.js";
import { cdb10, cdb16, clearUas, execSync } from "../_support/task.js";

function ready() {
  const d = ramDisk(1024, 512);
  clearUas(d);
  return d;
}
const fill = (n: number, v: number) => new Uint8Array(n).fill(v);

describe("VERIFY, WRITE AND VERIFY, COMPARE AND WRITE", () => {
  it("VERIFY BYTCHK=0 checks the range only", () => {
    const d = ready();
    expect(execSync(d, cdb10(0x2f, 0, 1024)).status).toBe(SAM_STAT_GOOD);
    expect(execSync(d, cdb10(0x2f, 0, 1025)).senseString).toBe("05/21/00");
  });

  it("VERIFY BYTCHK=1 compares the data-out; a miscompare is 0E/1D/00 with INFORMATION = offset", () => {
    const d = ready();
    execSync(d, cdb10(0x2a, 10, 2), { dataOut: fill(1024, 0x5a) });
    expect(execSync(d, cdb10(0x2f, 10, 2, 0x02), { dataOut: fill(1024, 0x5a) }).status).toBe(SAM_STAT_GOOD);
    const diff = fill(1024, 0x5a);
    diff[700] = 0;
    const t = execSync(d, cdb16(0x8f, 10, 2, 0x02), { dataOut: diff });
    expect(t.senseString).toBe("0E/1D/00");
    expect(t.decoded.information).toBe(700);
    expect(t.transferred).toBe(0);
    const v12 = execSync(d, [0xaf, 0x02, 0, 0, 0, 10, 0, 0, 0, 1, 0, 0], { dataOut: fill(512, 0x5a) });
    expect(v12.status).toBe(SAM_STAT_GOOD);
  });

  it("BYTCHK 2 or 3 → 05/24/00", () => {
    const t = execSync(ready(), cdb10(0x2f, 0, 1, 0x04), { dataOut: fill(512, 0) });
    expect(t.senseString).toBe("05/24/00");
    expect(t.decoded.sks).toBe(0xca0001);
  });

  it("WRITE AND VERIFY (10/12/16) writes", () => {
    const d = ready();
    expect(execSync(d, cdb10(0x2e, 3, 1, 0x02), { dataOut: fill(512, 1) }).status).toBe(SAM_STAT_GOOD);
    expect(execSync(d, [0xae, 0, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0], { dataOut: fill(512, 2) }).status).toBe(
      SAM_STAT_GOOD,
    );
    expect(execSync(d, cdb16(0x8e, 5, 1), { dataOut: fill(512, 3) }).status).toBe(SAM_STAT_GOOD);
    expect(execSync(d, cdb10(0x28, 3, 3), { dataIn: 1536 }).bytes).toEqual(
      Uint8Array.from([...fill(512, 1), ...fill(512, 2), ...fill(512, 3)]),
    );
  });

  it("COMPARE AND WRITE writes when the medium matches, refuses with the offset when not", () => {
    const d = ready();
    execSync(d, cdb10(0x2a, 20, 1), { dataOut: fill(512, 9) });
    const caw = (verify: Uint8Array, write: Uint8Array, blocks = 1) => {
      const c = cdb16(0x89, 20, 0);
      c[13] = blocks;
      return execSync(d, c, { dataOut: Uint8Array.from([...verify, ...write]) });
    };
    expect(caw(fill(512, 9), fill(512, 4)).status).toBe(SAM_STAT_GOOD);
    expect(execSync(d, cdb10(0x28, 20, 1), { dataIn: 512 }).bytes).toEqual(fill(512, 4));
    const stale = fill(512, 4);
    stale[33] = 1;
    const t = caw(stale, fill(512, 8));
    expect(t.senseString).toBe("0E/1D/00");
    expect(t.decoded.information).toBe(33);
    expect(execSync(d, cdb10(0x28, 20, 1), { dataIn: 512 }).bytes).toEqual(fill(512, 4));
    expect(caw(new Uint8Array(0), new Uint8Array(0), 0).status).toBe(SAM_STAT_GOOD);
    expect(caw(fill(512, 4), new Uint8Array(0)).senseString).toBe("05/0E/03");
  });

  it("COMPARE AND WRITE above the block-limits maximum → 05/24/00 at NUMBER OF LOGICAL BLOCKS", () => {
    const d = ready();
    const c = cdb16(0x89, 0, 0);
    c[13] = 129;
    const t = execSync(d, c, { dataOut: new Uint8Array(129 * 1024) });
    expect(t.senseString).toBe("05/24/00");
    expect(t.decoded.sks).toBe(0xcf000d);
  });
});

describe("transfer counts of compares", () => {
  it("VERIFY reports the compared bytes, COMPARE AND WRITE both halves", () => {
    const d = ramDisk(64, 512);
    clearUas(d);
    expect(execSync(d, cdb10(0x2f, 0, 1, 0x02), { dataOut: new Uint8Array(1024) }).transferred).toBe(512);
    const c = cdb16(0x89, 0, 0);
    c[13] = 1;
    expect(execSync(d, c, { dataOut: new Uint8Array(1024) }).transferred).toBe(1024);
  });
});
