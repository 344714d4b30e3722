/**
 * Devices alone, no ring: a RAM disk's READ(10)/WRITE(10) at 4 KiB and 128 KiB, and the null
 * device, each driven through one preallocated task the way scsiback reuses a task per ring slot.
 * Reports commands/s and MB/s, and ratios measured in this run: how close the RAM disk gets to
 * the null device (the cost of the SPC checks plus the copy), and 128 KiB vs 4 KiB throughput.
 *
 * Run: `npm run bench targets`
 */
import { Bench } from "tinybench";
import { DataBuffer } from "../src/scsi/data-buffer.js";
import {
  type DataDirection,
  type DeviceInfo,
  type Initiator,
  SAM_STAT_GOOD,
  type ScsiDevice,
  type ScsiTask,
  TYPE_DISK,
} from "../src/scsi/device.js";
import { NullDevice } from "../src/targets/null-device.js";
import { Disk } from "../src/targets/sbc/disk.js";
import { printBench } from "./_report.js";

const INFO: DeviceInfo = {
  type: TYPE_DISK,
  vendor: "PVSCSI",
  product: "RAMDISK",
  revision: "0001",
  scsiLevel: 5,
  removable: false,
  serial: "BENCH",
  wwn: "3000000000000b0b",
};
const BLOCK = 512;
const DISK_BYTES = 256 << 20;
const INITIATOR: Initiator = { id: 1, name: "bench" };

/** A reusable task over 4 KiB pages (as granted guest frames would be). */
class BenchTask implements ScsiTask {
  readonly cdb = new Uint8Array(10);
  readonly lun = 0;
  readonly initiator = INITIATOR;
  readonly tag = 1;
  readonly direction: DataDirection;
  readonly data: DataBuffer;
  readonly sense = new Uint8Array(252);
  completed = 0;
  failed = 0;
  private lba = 0;

  constructor(
    readonly op: number,
    readonly bytes: number,
  ) {
    const pages = bytes / 4096;
    const mem = new Uint8Array(bytes).fill(0x5a);
    this.direction = op === 0x2a ? 1 : 2;
    this.data = new DataBuffer(pages);
    this.data.reset(op !== 0x2a);
    for (let p = 0; p < pages; p++) this.data.add(mem, p * 4096, 4096);
    this.cdb[0] = op;
    const blocks = bytes / BLOCK;
    this.cdb[7] = blocks >>> 8;
    this.cdb[8] = blocks & 0xff;
  }

  /** Aim at the next extent (walking the disk so every chunk gets touched). */
  next(): this {
    const blocks = this.bytes / BLOCK;
    this.lba = (this.lba + blocks) % (DISK_BYTES / BLOCK - blocks);
    this.cdb[2] = this.lba >>> 24;
    this.cdb[3] = (this.lba >>> 16) & 0xff;
    this.cdb[4] = (this.lba >>> 8) & 0xff;
    this.cdb[5] = this.lba & 0xff;
    return this;
  }

  done(status: number): void {
    if (status === SAM_STAT_GOOD) this.completed++;
    else this.failed++;
  }
}

function ready(dev: ScsiDevice): void {
  const t = new BenchTask(0x28, 4096);
  t.cdb.fill(0);
  t.cdb[0] = 0x00; // TEST UNIT READY consumes the power-on unit attention
  dev.submit(t);
}

const disk = Disk.ram(INFO, DISK_BYTES / BLOCK, BLOCK);
ready(disk);
const nul = new NullDevice();
ready(nul);
const cases = [
  { name: "RAM disk READ(10) 4 KiB", dev: disk as ScsiDevice, task: new BenchTask(0x28, 4096) },
  { name: "RAM disk WRITE(10) 4 KiB", dev: disk, task: new BenchTask(0x2a, 4096) },
  { name: "RAM disk READ(10) 128 KiB", dev: disk, task: new BenchTask(0x28, 128 * 1024) },
  { name: "RAM disk WRITE(10) 128 KiB", dev: disk, task: new BenchTask(0x2a, 128 * 1024) },
  { name: "null device READ(10) 4 KiB", dev: nul as ScsiDevice, task: new BenchTask(0x28, 4096) },
];
// Touch every chunk first so reads measure copies, not zero fills of unallocated chunks.
{
  const w = new BenchTask(0x2a, 128 * 1024);
  for (let i = 0; i < DISK_BYTES / w.bytes; i++) disk.submit(w.next());
}

const bench = new Bench({ time: 1500, warmupTime: 300 });
for (const c of cases) bench.add(c.name, () => c.dev.submit(c.task.next()));
await bench.run();
printBench("Devices without the ring (one reused task each)", bench);

const opsOf = (name: string): number => {
  const r = bench.tasks.find((t) => t.name === name)?.result;
  return r && r.state === "completed" ? r.throughput.mean : Number.NaN;
};
const rows = cases.map((c) => {
  const ops = opsOf(c.name);
  if (c.task.failed > 0) throw new Error(`${c.name}: ${c.task.failed} commands failed`);
  return {
    task: c.name,
    "commands/s": Math.round(ops).toLocaleString("en-US"),
    // The null device copies nothing: its "MB/s" would be fiction.
    "MB/s": c.dev === nul ? "(zero fill, not counted)" : ((ops * c.task.bytes) / 1e6).toFixed(0),
  };
});
console.table(rows);
const r4 = opsOf("RAM disk READ(10) 4 KiB");
const w4 = opsOf("RAM disk WRITE(10) 4 KiB");
const r128 = opsOf("RAM disk READ(10) 128 KiB");
const n4 = opsOf("null device READ(10) 4 KiB");
console.table([
  { ratio: "RAM disk READ 4 KiB / null device (commands/s)", value: (r4 / n4).toFixed(3) },
  { ratio: "RAM disk WRITE 4 KiB / READ 4 KiB (commands/s)", value: (w4 / r4).toFixed(3) },
  { ratio: "READ 128 KiB / READ 4 KiB (MB/s)", value: ((r128 * 32) / r4).toFixed(2) },
]);
