import { describe, expect, it } from "vitest";
import { hex, ramDisk } from "../_support/devices.js";
import { clearUas, execSync } from "../_support/task.js";

const rsoc = (options: number, op = 0, sa = 0, alloc = 65535) => [
  0xa3,
  0x0c,
  options,
  op,
  sa >>> 8,
  sa & 0xff,
  alloc >>> 24,
  (alloc >>> 16) & 0xff,
  (alloc >>> 8) & 0xff,
  alloc & 0xff,
  0,
  0,
];

function ready() {
  const d = ramDisk(2048, 512, { thin: true });
  clearUas(d);
  return d;
}

describe("REPORT SUPPORTED OPERATION CODES", () => {
  it("option 0 lists every command, with timeouts descriptors when RCTD", () => {
    const d = ready();
    const plain = execSync(d, rsoc(0), { dataIn: 65535 }).bytes;
    const len = (plain[0]! << 24) | (plain[1]! << 16) | (plain[2]! << 8) | plain[3]!;
    expect(len % 8).toBe(0);
    expect(plain.length).toBe(4 + len);
    const ops: string[] = [];
    for (let p = 4; p < plain.length; p += 8) {
      ops.push(
        plain[p + 5]! & 1
          ? `${hex(plain.subarray(p, p + 1))}/${plain[p + 3]!.toString(16)}`
          : hex(plain.subarray(p, p + 1)),
      );
    }
    expect(ops).toContain("28");
    expect(ops).toContain("9e/10");
    expect(ops).toContain("9e/12");
    expect(ops).toContain("5f/6");
    expect(ops).toContain("42");
    const rctd = execSync(d, rsoc(0x80), { dataIn: 65535 }).bytes;
    expect(rctd.length - 4).toBe((len / 8) * 20);
    expect(hex(rctd.subarray(4 + 8, 4 + 10))).toBe("000a");
  });

  it("option 1 returns one command's CDB usage data", () => {
    const t = execSync(ready(), rsoc(1, 0x28), { dataIn: 64 });
    expect(hex(t.bytes)).toBe("0003000a28feffffffff1fffff07");
    expect(hex(execSync(ready(), rsoc(1, 0x02), { dataIn: 64 }).bytes)).toBe("00010000");
  });

  it("option 1 on an opcode with service actions → 05/24/00", () => {
    expect(execSync(ready(), rsoc(1, 0x9e), { dataIn: 64 }).senseString).toBe("05/24/00");
  });

  it("option 2 returns a service action's usage data, SUPPORT 001b when unknown", () => {
    const t = execSync(ready(), rsoc(2, 0x9e, 0x10), { dataIn: 64 });
    expect(hex(t.bytes.subarray(0, 6))).toBe("000300109e1f");
    expect(hex(execSync(ready(), rsoc(2, 0x9e, 0x11), { dataIn: 64 }).bytes)).toBe("00010000");
    expect(execSync(ready(), rsoc(2, 0x28), { dataIn: 64 }).senseString).toBe("05/24/00");
  });

  it("option 2 with RCTD appends a timeouts descriptor", () => {
    const t = execSync(ready(), rsoc(0x82, 0x5e, 0x03), { dataIn: 64 });
    expect(hex(t.bytes.subarray(0, 4))).toBe("0083000a");
    expect(t.bytes.length).toBe(4 + 10 + 12);
  });

  it("other reporting options → 05/24/00", () => {
    const t = execSync(ready(), rsoc(3), { dataIn: 64 });
    expect(t.senseString).toBe("05/24/00");
    expect(t.decoded.sks).toBe(0xca0002);
  });
});
