/**
 * Tape drive throughput without the ring: WRITE(6) and READ(6) of 64 KiB and 256 KiB variable
 * blocks to a file-backed cartridge (records checksummed, buffered-mode writes), next to the
 * same on a RAM cartridge. Reports MB/s and, measured in this run, file vs RAM and 256 KiB vs
 * 64 KiB.
 *
 * Run: `npm run bench tape`
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Bench } from "tinybench";
import { DataBuffer } from "../src/scsi/data-buffer.js";
import {
  type DataDirection,
  type DeviceInfo,
  type Initiator,
  SAM_STAT_GOOD,
  type ScsiTask,
  TYPE_TAPE,
} from "../src/scsi/device.js";
import { FileCartridgeLibrary, MemoryCartridgeLibrary } from "../src/targets/ssc/cartridge-library.js";
import { TapeDrive } from "../src/targets/ssc/tape-drive.js";
import { printBench } from "./_report.js";

const INFO: DeviceInfo = {
  type: TYPE_TAPE,
  vendor: "HP",
  product: "Ultrium 6-SCSI",
  revision: "35GD",
  scsiLevel: 6,
  removable: true,
  serial: "BENCH",
  wwn: "3000000000000b0c",
};
const INITIATOR: Initiator = { id: 1, name: "bench" };
/** Blocks pre-written for the read cases (then read round and round). */
const READ_BLOCKS = 256;
/** Bytes the write cases write before rewinding. */
const WRITE_SPAN = 64 << 20;

/** A reusable task over 4 KiB pages, as granted guest frames would be. */
class TapeTask implements ScsiTask {
  readonly cdb = new Uint8Array(6);
  readonly lun = 0;
  readonly initiator = INITIATOR;
  readonly tag = 1;
  readonly direction: DataDirection;
  readonly data: DataBuffer;
  readonly sense = new Uint8Array(252);
  failed = 0;
  private wake: (() => void) | null = null;

  constructor(
    readonly write: boolean,
    readonly bytes: number,
  ) {
    const pages = bytes / 4096;
    const mem = new Uint8Array(bytes).map((_, i) => i & 0xff);
    this.direction = write ? 1 : 2;
    this.data = new DataBuffer(pages);
    this.data.reset(!write);
    for (let p = 0; p < pages; p++) this.data.add(mem, p * 4096, 4096);
    this.cdb[0] = write ? 0x0a : 0x08;
    this.cdb[2] = (bytes >>> 16) & 0xff;
    this.cdb[3] = (bytes >>> 8) & 0xff;
    this.cdb[4] = bytes & 0xff;
  }

  done(status: number): void {
    if (status !== SAM_STAT_GOOD) this.failed++;
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** Submit and wait for completion (a synchronous drive completes inside submit). */
  run(drive: TapeDrive): Promise<void> | undefined {
    let p: Promise<void> | undefined;
    if (!drive.cartridge?.io?.sync) p = new Promise((r) => (this.wake = r));
    drive.submit(this);
    return p;
  }
}

/** A command with no data (REWIND, LOCATE, TEST UNIT READY). */
function control(drive: TapeDrive, cdb: number[]): Promise<void> {
  return new Promise((resolve) => {
    const t: ScsiTask = {
      cdb: Uint8Array.from(cdb),
      lun: 0,
      initiator: INITIATOR,
      tag: 2,
      direction: 3,
      data: DataBuffer.of(new Uint8Array(0)),
      sense: new Uint8Array(252),
      done: () => resolve(),
    };
    drive.submit(t);
  });
}

const dir = await mkdtemp(join(tmpdir(), "pvscsi-tape-bench-"));
try {
  const fileLib = new FileCartridgeLibrary(dir, { capacity: 64 * 2 ** 30 });
  const memLib = new MemoryCartridgeLibrary({ capacity: 2 ** 30 });
  const drives: Record<string, TapeDrive> = {};
  for (const [name, cart] of [
    ["file-w64", await fileLib.openAsync("W064")],
    ["file-w256", await fileLib.openAsync("W256")],
    ["file-r64", await fileLib.openAsync("R064")],
    ["file-r256", await fileLib.openAsync("R256")],
    ["ram-w256", memLib.openNow("M256")],
    ["ram-r256", memLib.openNow("N256")],
  ] as const) {
    const d = new TapeDrive({ info: INFO });
    d.insert(cart);
    await control(d, [0, 0, 0, 0, 0, 0]); // the power-on unit attention
    drives[name] = d;
  }
  // Read cases read a pre-written stretch round and round.
  for (const [name, size] of [
    ["file-r64", 65536],
    ["file-r256", 262144],
    ["ram-r256", 262144],
  ] as const) {
    const w = new TapeTask(true, size);
    for (let i = 0; i < READ_BLOCKS; i++) await w.run(drives[name]!);
    await control(drives[name]!, [0x01, 0, 0, 0, 0, 0]);
  }
  const cases = [
    { name: "file WRITE(6) 64 KiB", drive: drives["file-w64"]!, task: new TapeTask(true, 65536) },
    { name: "file WRITE(6) 256 KiB", drive: drives["file-w256"]!, task: new TapeTask(true, 262144) },
    { name: "file READ(6) 64 KiB", drive: drives["file-r64"]!, task: new TapeTask(false, 65536) },
    { name: "file READ(6) 256 KiB", drive: drives["file-r256"]!, task: new TapeTask(false, 262144) },
    { name: "RAM WRITE(6) 256 KiB", drive: drives["ram-w256"]!, task: new TapeTask(true, 262144) },
    { name: "RAM READ(6) 256 KiB", drive: drives["ram-r256"]!, task: new TapeTask(false, 262144) },
  ];
  const bench = new Bench({ time: 1500, warmupTime: 300 });
  for (const c of cases) {
    // Reads go round READ_BLOCKS blocks; writes round 64 MiB (the rewind is a sync point, and
    // writing from BOT again drops the old records), so the files stay small.
    const wrap = c.task.write ? WRITE_SPAN / c.task.bytes : READ_BLOCKS;
    bench.add(c.name, async () => {
      if (c.drive.position >= wrap) await control(c.drive, [0x01, 0, 0, 0, 0, 0]);
      await c.task.run(c.drive);
    });
  }
  await bench.run();
  printBench("Tape drive READ(6)/WRITE(6), variable blocks, no ring", bench);
  const ops = (name: string): number => {
    const r = bench.tasks.find((t) => t.name === name)?.result;
    return r && r.state === "completed" ? r.throughput.mean : Number.NaN;
  };
  console.table(
    cases.map((c) => {
      if (c.task.failed > 0) throw new Error(`${c.name}: ${c.task.failed} commands failed`);
      return { task: c.name, "MB/s": ((ops(c.name) * c.task.bytes) / 1e6).toFixed(0) };
    }),
  );
  const mbs = (name: string, bytes: number) => ops(name) * bytes;
  console.table([
    {
      ratio: "file WRITE 256 KiB / RAM WRITE 256 KiB (MB/s)",
      value: (mbs("file WRITE(6) 256 KiB", 1) / mbs("RAM WRITE(6) 256 KiB", 1)).toFixed(3),
    },
    {
      ratio: "file READ 256 KiB / RAM READ 256 KiB (MB/s)",
      value: (mbs("file READ(6) 256 KiB", 1) / mbs("RAM READ(6) 256 KiB", 1)).toFixed(3),
    },
    {
      ratio: "file WRITE 256 KiB / 64 KiB (MB/s)",
      value: ((4 * ops("file WRITE(6) 256 KiB")) / ops("file WRITE(6) 64 KiB")).toFixed(2),
    },
    {
      ratio: "file READ 256 KiB / 64 KiB (MB/s)",
      value: ((4 * ops("file READ(6) 256 KiB")) / ops("file READ(6) 64 KiB")).toFixed(2),
    },
  ]);
  for (const d of Object.values(drives)) await d.close();
} finally {
  await rm(dir, { recursive: true, force: true });
}
