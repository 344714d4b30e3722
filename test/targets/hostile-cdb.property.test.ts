import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  SAM_STAT_CHECK_CONDITION,
  SAM_STAT_GOOD,
  SAM_STAT_RESERVATION_CONFLICT,
} from "../../src/scsi/device.js";
import { decodeSense } from "../../src/scsi/sense.js";
import { Cdrom } from "../../src/targets/mmc/cdrom.js";
import { TapeDrive } from "../../src/targets/ssc/tape-drive.js";
import { ScsiTarget } from "../../src/targets/target.js";
import { CD_INFO, cdrom, ramDisk } from "./_support/devices.js";
import { autoloader, loadedDrive, pattern, TAPE_INFO, writeBlock } from "./_support/tape.js";
import { initiator, type Submittable, TestTask } from "./_support/task.js";

/** Opcodes some device implements, so random CDBs reach the handlers, not just 05/20/00. */
const KNOWN = [
  0x00, 0x03, 0x08, 0x0a, 0x12, 0x15, 0x16, 0x17, 0x1a, 0x1b, 0x1e, 0x25, 0x28, 0x2a, 0x2e, 0x2f, 0x35, 0x41,
  0x42, 0x43, 0x46, 0x4a, 0x55, 0x5a, 0x5e, 0x5f, 0x88, 0x89, 0x8a, 0x8e, 0x8f, 0x91, 0x93, 0x9e, 0xa0, 0xa3,
  0xa8, 0xaa, 0xae, 0xaf, 0xbd,
];
/** Tape drive and medium changer opcodes. */
const STREAM_AND_CHANGER = [
  0x00, 0x01, 0x03, 0x04, 0x05, 0x07, 0x08, 0x0a, 0x10, 0x11, 0x12, 0x15, 0x19, 0x1a, 0x1b, 0x1e, 0x2b, 0x34,
  0x37, 0x44, 0x4c, 0x4d, 0x55, 0x5a, 0x91, 0x92, 0xa0, 0xa3, 0xa5, 0xb8,
];

const cdbOf = (opcodes: number[]) =>
  fc.oneof(
    fc.uint8Array({ minLength: 0, maxLength: 16 }),
    fc
      .tuple(fc.constantFrom(...opcodes), fc.uint8Array({ minLength: 0, maxLength: 15 }), fc.boolean())
      .map(([op, rest, clean]) => {
        const c = Uint8Array.from([op, ...rest]);
        // Often clear the CONTROL byte and reserved-looking bits so deeper checks are reached.
        if (clean && c.length > 5) c[c.length - 1] = 0;
        return c;
      }),
  );
const cdbArb = cdbOf(KNOWN);

const bufferArb = fc.oneof(
  fc.record({ kind: fc.constant("in" as const), size: fc.integer({ min: 0, max: 9000 }) }),
  fc.record({ kind: fc.constant("out" as const), bytes: fc.uint8Array({ minLength: 0, maxLength: 9000 }) }),
);

function devices(): Array<[string, Submittable]> {
  const target = new ScsiTarget({ wwn: "3000000000000055" });
  target.attach(0, ramDisk(4096, 512, { thin: true }));
  target.attach(1, cdrom(50));
  target.attach(2, new Cdrom(CD_INFO));
  target.attach(3, ramDisk(64, 4096));
  return [["target", target]];
}

describe("hostile CDBs", () => {
  it("never throw, complete exactly once with a valid status, sense only with CHECK CONDITION, no data then", () => {
    const [[, dev]] = devices() as [[string, Submittable]];
    fc.assert(
      fc.property(
        cdbArb,
        bufferArb,
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 1, max: 3 }),
        (cdb, buf, lun, who) => {
          const opts =
            buf.kind === "in"
              ? { dataIn: buf.size, lun, initiator: initiator(who), segment: 1 + (buf.size % 4096) }
              : { dataOut: buf.bytes, lun, initiator: initiator(who) };
          const t = new TestTask(cdb, opts);
          dev.submit(t);
          expect(t.calls).toBe(1);
          expect(t.guardsIntact).toBe(true);
          expect([SAM_STAT_GOOD, SAM_STAT_CHECK_CONDITION, SAM_STAT_RESERVATION_CONFLICT]).toContain(
            t.status,
          );
          expect(t.transferred).toBeGreaterThanOrEqual(0);
          expect(t.transferred).toBeLessThanOrEqual(t.data.length);
          if (t.status === SAM_STAT_CHECK_CONDITION) {
            expect(t.transferred).toBe(0);
            expect(t.senseLength).toBeGreaterThanOrEqual(8);
            const s = decodeSense(t.sense, t.senseLength);
            expect(s.key).toBeGreaterThan(0);
            // Internal failures would be 04/44/00: a hostile CDB must never reach one.
            expect([s.key, s.asc]).not.toEqual([4, 0x44]);
          } else {
            expect(t.senseLength).toBe(0);
          }
        },
      ),
      { numRuns: 4000, seed: 20261121 },
    );
  });

  it("tape drives and changers: never throw, one completion, data only with a stream condition", () => {
    const target = new ScsiTarget({ wwn: "3000000000000056" });
    const { drive } = loadedDrive(1 << 20);
    for (let i = 0; i < 4; i++) writeBlock(drive, pattern(64 * (i + 1), i));
    const { changer, drive: changerDrive } = autoloader();
    target.attach(0, drive);
    target.attach(1, changer);
    target.attach(2, changerDrive);
    target.attach(3, new TapeDrive({ info: TAPE_INFO }));
    fc.assert(
      fc.property(
        cdbOf(STREAM_AND_CHANGER),
        bufferArb,
        fc.integer({ min: 0, max: 4 }),
        fc.integer({ min: 1, max: 3 }),
        (cdb, buf, lun, who) => {
          const opts =
            buf.kind === "in"
              ? { dataIn: buf.size, lun, initiator: initiator(who), segment: 1 + (buf.size % 4096) }
              : { dataOut: buf.bytes, lun, initiator: initiator(who) };
          const t = new TestTask(cdb, opts);
          target.submit(t);
          expect(t.calls).toBe(1);
          expect(t.guardsIntact).toBe(true);
          expect([SAM_STAT_GOOD, SAM_STAT_CHECK_CONDITION, SAM_STAT_RESERVATION_CONFLICT]).toContain(
            t.status,
          );
          expect(t.transferred).toBeGreaterThanOrEqual(0);
          expect(t.transferred).toBeLessThanOrEqual(t.data.length);
          if (t.status === SAM_STAT_CHECK_CONDITION) {
            expect(t.senseLength).toBeGreaterThanOrEqual(8);
            const s = decodeSense(t.sense, t.senseLength);
            const stream = s.filemark || s.eom || s.ili;
            // SSC: a FILEMARK, EOM or ILI condition may come with the data moved before it.
            if (!stream) expect(t.transferred).toBe(0);
            expect(s.key > 0 || stream).toBe(true);
            expect([s.key, s.asc]).not.toEqual([4, 0x44]);
          } else {
            expect(t.senseLength).toBe(0);
          }
        },
      ),
      { numRuns: 4000, seed: 20261122 },
    );
  });
});
