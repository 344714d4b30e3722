import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DataBuffer } from "../../src/scsi/data-buffer.js";
import {
  type DataDirection,
  type Initiator,
  SAM_STAT_GOOD,
  SCSI_SENSE_BUFFERSIZE,
  type ScsiTask,
} from "../../src/scsi/device.js";
import { NullDevice } from "../../src/targets/null-device.js";
import { CMD_DATA_IN } from "../../src/targets/spc/command.js";
import type { SpcDevice } from "../../src/targets/spc/spc-device.js";
import { ScsiTarget } from "../../src/targets/target.js";
import { cdrom, ramDisk } from "./_support/devices.js";
import { autoloader, loadedDrive, pattern, writeBlock } from "./_support/tape.js";
import { clearUas, I1, type Submittable } from "./_support/task.js";

/** A data buffer that records which of its bytes a device wrote (or filled). */
class TrackedBuffer extends DataBuffer {
  readonly written: Uint8Array;
  constructor(readonly memory: Uint8Array) {
    super(1);
    this.written = new Uint8Array(memory.length);
    this.reset(true);
    this.add(memory, 0, memory.length);
  }
  override write(offset: number, src: Uint8Array, srcOffset = 0, n = src.length - srcOffset): number {
    const k = super.write(offset, src, srcOffset, n);
    if (k > 0) this.written.fill(1, offset, offset + k);
    return k;
  }
  override fill(value: number, offset = 0, n = this.length - offset): number {
    const k = super.fill(value, offset, n);
    if (k > 0) this.written.fill(1, offset, offset + k);
    return k;
  }
}

/** A data-in task over guest memory still holding an earlier command's bytes. */
class StaleTask implements ScsiTask {
  readonly direction: DataDirection = 2;
  readonly tag = 1;
  readonly sense = new Uint8Array(SCSI_SENSE_BUFFERSIZE);
  readonly data: TrackedBuffer;
  status = -1;
  transferred = -1;
  constructor(
    readonly cdb: Uint8Array,
    size: number,
    readonly lun = 0,
    readonly initiator: Initiator = I1,
  ) {
    this.data = new TrackedBuffer(new Uint8Array(size).fill(0x0f));
  }
  done(status: number, transferred: number): void {
    this.status = status;
    this.transferred = transferred;
  }
}

/** Every data-in command of `dev`: its CDB usage mask and service action (-1 for none). */
function dataInCommands(dev: SpcDevice): Array<{ mask: Uint8Array; sa: number }> {
  return dev.commands
    .all()
    .filter((c) => (c.flags & CMD_DATA_IN) !== 0)
    .map((c) => ({ mask: c.usage, sa: c.serviceAction }));
}

function devices(): Array<[string, SpcDevice, Submittable]> {
  const nul = new NullDevice();
  const disk = ramDisk(4096, 512, { thin: true });
  const cd = cdrom(50);
  const { drive } = loadedDrive();
  writeBlock(drive, pattern(300));
  const { changer } = autoloader();
  const list: Array<[string, SpcDevice]> = [
    ["null", nul],
    ["disk", disk],
    ["cdrom", cd],
    ["tape", drive],
    ["changer", changer],
  ];
  return list.map(([name, d]) => {
    const t = new ScsiTarget();
    t.attach(0, d);
    clearUas(d, I1);
    return [name, d, t] as [string, SpcDevice, Submittable];
  });
}

/**
 * SAM-5 §5.1: a command's data-in is what the device server sent; the residual is the rest. So a
 * device completing a data-in command GOOD with `transferred` = n must have written all n bytes —
 * else the initiator reads its own stale memory as the answer (an INQUIRY naming another device,
 * a capacity of 145 TB).
 */
describe("a data-in command completed GOOD has written every byte it reports", () => {
  it.each(devices().map(([n, d, t]) => [n, d, t] as const))("%s", (_name, dev, route) => {
    const masks = dataInCommands(dev);
    let good = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(...masks),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.integer({ min: 0, max: 8192 }),
        fc.boolean(),
        ({ mask, sa }, noise, size, ample) => {
          // The CDB keeps only bits the device examines, the opcode and service action as given,
          // and usually a generous allocation length so commands succeed.
          const cdb = new Uint8Array(mask.length);
          cdb[0] = mask[0]!;
          for (let i = 1; i < mask.length - 1; i++) cdb[i] = noise[i]! & mask[i]!;
          if (sa >= 0) cdb[1] = (cdb[1]! & 0xe0) | sa;
          if (ample)
            for (let i = 2; i < mask.length - 1; i++) if (mask[i] === 0xff) cdb[i] = noise[i]! & 0x3f;
          const t = new StaleTask(cdb, size);
          route.submit(t);
          if (t.status !== SAM_STAT_GOOD) return;
          good++;
          const unwritten = t.data.written.subarray(0, t.transferred).indexOf(0);
          expect(
            unwritten,
            `0x${cdb[0]!.toString(16)}: byte ${unwritten} of ${t.transferred} not written`,
          ).toBe(-1);
        },
      ),
      { numRuns: 400, seed: 0x5eed },
    );
    expect(good).toBeGreaterThan(0);
  });

  it("well-formed scans of every device: INQUIRY, VPD, READ CAPACITY, MODE SENSE, REPORT LUNS, REQUEST SENSE", () => {
    const cdbs = [
      [0x12, 0, 0, 0, 255, 0],
      [0x12, 1, 0x00, 0, 255, 0],
      [0x12, 1, 0x80, 0, 255, 0],
      [0x12, 1, 0x83, 0, 255, 0],
      [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      [0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0],
      [0x1a, 0, 0x3f, 0, 255, 0],
      [0x5a, 0, 0x3f, 0, 0, 0, 0, 1, 0, 0],
      [0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0],
      [0x03, 0, 0, 0, 252, 0],
      [0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0],
      [0x08, 0, 0, 0, 1, 0],
    ];
    for (const [name, , route] of devices()) {
      for (const c of cdbs) {
        const t = new StaleTask(Uint8Array.from(c), 4096);
        route.submit(t);
        if (t.status !== SAM_STAT_GOOD) continue;
        expect(t.data.written.subarray(0, t.transferred).indexOf(0), `${name} 0x${c[0]!.toString(16)}`).toBe(
          -1,
        );
      }
    }
  });
});
