/**
 * Example: plug your own SCSI device into scsiback. `TinyDisk` implements the `ScsiDevice`
 * contract for three commands; a scsifront and a scsiback joined over one ring (`Pair`, from
 * `pvscsi/testing`) carry INQUIRY, TEST UNIT READY and READ CAPACITY(10) to it through grants.
 *
 * Run it: `npx tsx examples/custom-device.ts`.
 */
import {
  be16,
  type DeviceInfo,
  INVALID_COMMAND_OPERATION_CODE,
  put32,
  putAscii,
  SAM_STAT_CHECK_CONDITION,
  SAM_STAT_GOOD,
  type ScsiDevice,
  type ScsiTask,
  TYPE_DISK,
  writeSense,
} from "pvscsi/scsi";
import { Pair } from "pvscsi/testing";
import { DMA_FROM_DEVICE, DMA_NONE } from "pvscsi/vscsiif";

/** A 1 MiB disk that knows INQUIRY, TEST UNIT READY and READ CAPACITY(10), and nothing else. */
class TinyDisk implements ScsiDevice {
  readonly info: DeviceInfo = {
    type: TYPE_DISK,
    vendor: "EXAMPLE",
    product: "TINY DISK",
    revision: "0001",
    scsiLevel: 6,
    removable: false,
    serial: "TINY0001",
    wwn: "6001405000000001",
  };
  private readonly reply = new Uint8Array(36);

  submit(task: ScsiTask): void {
    const cdb = task.cdb;
    this.reply.fill(0);
    switch (cdb[0]) {
      case 0x00: // TEST UNIT READY
        return task.done(SAM_STAT_GOOD, 0, 0);
      case 0x12: {
        // INQUIRY, standard data (SPC-4 §6.6.2): 36 bytes, cut to the allocation length.
        this.reply.set([this.info.type, 0, this.info.scsiLevel, 0x02, 31]);
        putAscii(this.reply, 8, this.info.vendor, 8);
        putAscii(this.reply, 16, this.info.product, 16);
        putAscii(this.reply, 32, this.info.revision, 4);
        const n = task.data.write(0, this.reply, 0, Math.min(36, be16(cdb, 3), task.data.length));
        return task.done(SAM_STAT_GOOD, n, 0);
      }
      case 0x25: // READ CAPACITY(10) (SBC-3 §5.15): last LBA and block length.
        put32(this.reply, 0, 2047);
        put32(this.reply, 4, 512);
        return task.done(SAM_STAT_GOOD, task.data.write(0, this.reply, 0, 8), 0);
      default: // ILLEGAL REQUEST, INVALID COMMAND OPERATION CODE
        return task.done(
          SAM_STAT_CHECK_CONDITION,
          0,
          writeSense(task.sense, false, INVALID_COMMAND_OPERATION_CODE),
        );
    }
  }
  abortTask() {
    return "not-found" as const;
  }
  lunReset() {
    return "complete" as const;
  }
  addNexus(): void {}
  removeNexus(): void {}
  async close(): Promise<void> {}
}

/** Attach a TinyDisk at 0:0:0 and send it four commands; returns what the guest saw. */
function main(): string[] {
  const pair = new Pair();
  pair.attach(0, 0, 0, new TinyDisk());
  const out: string[] = [];
  const page = pair.buffer(1);

  const tur = pair.run(pair.command([0, 0, 0], [0x00, 0, 0, 0, 0, 0], DMA_NONE));
  out.push(`TEST UNIT READY: status ${tur.status}`);

  const inq = pair.run(pair.command([0, 0, 0], [0x12, 0, 0, 0, 36, 0], DMA_FROM_DEVICE, page, 36));
  const id = new TextDecoder().decode(pair.read(page, 36).subarray(8, 36));
  out.push(`INQUIRY: status ${inq.status}, "${id}"`);

  const cap = pair.run(pair.command([0, 0, 0], [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], DMA_FROM_DEVICE, page, 8));
  const v = new DataView(pair.read(page, 8).buffer);
  out.push(
    `READ CAPACITY(10): status ${cap.status}, ${v.getUint32(0) + 1} blocks of ${v.getUint32(4)} bytes`,
  );

  const bad = pair.run(pair.command([0, 0, 0], [0xff, 0, 0, 0, 0, 0], DMA_NONE));
  out.push(
    `opcode 0xff: status ${bad.status}, sense key ${bad.sense[2]! & 0x0f}, ASC 0x${bad.sense[12]!.toString(16)}`,
  );
  return out;
}

for (const line of main()) console.log(line);
