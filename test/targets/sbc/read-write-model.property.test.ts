import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SAM_STAT_GOOD } from "../../../src/scsi/device.js";
import { RAM_CHUNK_SIZE } from "../../../src/targets/sbc/ram-store.js";
import { ramDisk } from "../_support/devices.js";
import { cdb10, cdb16, clearUas, execSync } from "../_support/task.js";

const BS = 512;
const BLOCKS = (2 * RAM_CHUNK_SIZE) / BS + 64; // spans three chunks, the last one partial

type Op =
  | { op: "write"; lba: number; n: number; seed: number; long: boolean }
  | { op: "read"; lba: number; n: number }
  | { op: "same"; lba: number; n: number; value: number; unmap: boolean }
  | { op: "unmap"; lba: number; n: number };

const range = fc
  .tuple(fc.integer({ min: 0, max: BLOCKS - 1 }), fc.integer({ min: 0, max: 300 }))
  .map(([lba, n]) => ({ lba, n: Math.min(n, BLOCKS - lba) }));

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc
    .tuple(range, fc.integer({ min: 0, max: 255 }), fc.boolean())
    .map(([r, seed, long]) => ({ op: "write" as const, ...r, seed, long })),
  range.map((r) => ({ op: "read" as const, ...r })),
  fc
    .tuple(range, fc.integer({ min: 0, max: 3 }), fc.boolean())
    .map(([r, value, unmap]) => ({ op: "same" as const, ...r, n: Math.max(1, r.n), value, unmap })),
  range.map((r) => ({ op: "unmap" as const, ...r })),
);

/** Index of the first differing byte, -1 if equal (toEqual on megabytes is far too slow). */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  const c = Buffer.compare(a, b);
  if (c === 0) return -1;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

function fillFor(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
}

describe("RAM disk against a model array", () => {
  it("random READ/WRITE/WRITE SAME/UNMAP sequences agree with a plain byte array", () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 25 }), (ops) => {
        const d = ramDisk(BLOCKS, BS, { thin: true });
        clearUas(d);
        const model = new Uint8Array(BLOCKS * BS);
        for (const o of ops) {
          if (o.op === "write") {
            const data = fillFor(o.n * BS, o.seed);
            const t = execSync(d, o.long ? cdb16(0x8a, o.lba, o.n) : cdb10(0x2a, o.lba, o.n), {
              dataOut: data,
            });
            expect(t.status).toBe(SAM_STAT_GOOD);
            model.set(data, o.lba * BS);
          } else if (o.op === "read") {
            const t = execSync(d, cdb10(0x28, o.lba, o.n), { dataIn: o.n * BS, segment: 4096 });
            expect(t.status).toBe(SAM_STAT_GOOD);
            expect(firstDifference(t.bytes, model.subarray(o.lba * BS, (o.lba + o.n) * BS))).toBe(-1);
          } else if (o.op === "same") {
            const pat = new Uint8Array(BS).fill(o.value);
            const t = execSync(d, cdb16(0x93, o.lba, o.n, o.unmap ? 0x08 : 0), { dataOut: pat });
            expect(t.status).toBe(SAM_STAT_GOOD);
            model.fill(o.value, o.lba * BS, (o.lba + o.n) * BS);
          } else {
            const l = new Uint8Array(24);
            l[1] = 22;
            l[3] = 16;
            l[12] = (o.lba >>> 24) & 0xff;
            l[13] = (o.lba >>> 16) & 0xff;
            l[14] = (o.lba >>> 8) & 0xff;
            l[15] = o.lba & 0xff;
            l[18] = (o.n >>> 8) & 0xff;
            l[19] = o.n & 0xff;
            const t = execSync(d, [0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0], { dataOut: l });
            expect(t.status).toBe(SAM_STAT_GOOD);
            model.fill(0, o.lba * BS, (o.lba + o.n) * BS);
          }
        }
        const all = execSync(d, cdb10(0x28, 0, BLOCKS), { dataIn: BLOCKS * BS });
        expect(firstDifference(all.bytes, model)).toBe(-1);
      }),
      { numRuns: 40, seed: 7 },
    );
  });
});
