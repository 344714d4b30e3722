/**
 * The JS references of the goal table, measured in this process (or two plain workers): a naive
 * SharedArrayBuffer ring, `Uint8Array.set` between SharedArrayBuffers, the device called
 * directly without the ring, and "the one-thread ceiling" — scsifront and scsiback of
 * `pvscsi/testing`'s Pair (FakeGuest grants) in one thread, with no waits.
 */
import { Worker } from "node:worker_threads";
import { DataBuffer } from "../src/scsi/data-buffer.js";
import type { DataDirection, Initiator, ScsiDevice, ScsiTask } from "../src/scsi/device.js";
import type { FrontCommand } from "../src/scsifront/frontend.js";
import { NULL_DEVICE_INFO, NullDevice } from "../src/targets/null-device.js";
import { Disk } from "../src/targets/sbc/disk.js";
import { Pair, rw10 } from "../src/testing/pair.js";

/** A rate: `count` things (requests, bytes) over `seconds`. */
export interface Rate {
  readonly count: number;
  readonly seconds: number;
  readonly perSecond: number;
}
const rate = (count: number, seconds: number): Rate => ({ count, seconds, perSecond: count / seconds });

/** Call `step` (which does `unit` things) until `seconds` pass; the clock is read every 64 calls. */
function timed(seconds: number, unit: number, step: () => void): Rate {
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  let n = 0;
  for (;;) {
    for (let i = 0; i < 64; i++) step();
    n += 64;
    const t = performance.now();
    if (t >= end) return rate(n * unit, (t - t0) / 1000);
  }
}

/** The naive SharedArrayBuffer ring between two workers (bench/_sab-ring-worker.mjs), QD16. */
export async function sabRing(variant: "spin" | "wait", seconds: number): Promise<Rate> {
  const sab = new SharedArrayBuffer(4096);
  const url = new URL("./_sab-ring-worker.mjs", import.meta.url);
  const data = { sab, variant, seconds, depth: 16 };
  const back = new Worker(url, { workerData: { ...data, role: "back" } });
  const front = new Worker(url, { workerData: { ...data, role: "front" } });
  const exited = (w: Worker) =>
    new Promise<void>((resolve, reject) => {
      w.once("error", reject);
      w.once("exit", () => resolve());
    });
  const result = new Promise<{ requests: number; seconds: number }>((resolve, reject) => {
    front.once("message", resolve);
    front.once("error", reject);
  });
  const [r] = await Promise.all([result, exited(front), exited(back)]);
  return rate(r.requests, r.seconds);
}

/**
 * `Uint8Array.set` from one SharedArrayBuffer into another, `size` bytes at a time: the source
 * walks 64 MiB (as a RAM disk read walks the disk), the destination cycles over 16 buffers
 * (as 16 commands in flight reuse their guest pages). Bytes per second.
 */
export function copyRate(size: number, seconds: number): Rate {
  const src = new Uint8Array(new SharedArrayBuffer(64 << 20)).fill(0x5a);
  const dst = new Uint8Array(new SharedArrayBuffer(16 * size));
  const srcSlots = src.length / size;
  let i = 0;
  return timed(seconds, size, () => {
    dst.set(src.subarray((i % srcSlots) * size, (i % srcSlots) * size + size), (i & 15) * size);
    i++;
  });
}

const INITIATOR: Initiator = { id: 1, name: "bench" };

/** One reusable READ(10) task over 4 KiB pages, walking the device. */
class ReadTask implements ScsiTask {
  readonly cdb = new Uint8Array(10);
  readonly lun = 0;
  readonly initiator = INITIATOR;
  readonly tag = 1;
  readonly direction: DataDirection = 2;
  readonly data: DataBuffer;
  readonly sense = new Uint8Array(252);
  failed = 0;
  private lba = 0;

  constructor(
    readonly bytes: number,
    private readonly spanBlocks: number,
  ) {
    const mem = new Uint8Array(new SharedArrayBuffer(bytes));
    this.data = new DataBuffer(bytes / 4096);
    this.data.reset(true);
    for (let p = 0; p < bytes / 4096; p++) this.data.add(mem, p * 4096, 4096);
    this.cdb[0] = 0x28;
    this.cdb[7] = (bytes / 512) >>> 8;
    this.cdb[8] = (bytes / 512) & 0xff;
  }

  next(): this {
    const blocks = this.bytes / 512;
    this.lba = (this.lba + blocks) % (this.spanBlocks - blocks);
    this.cdb[2] = this.lba >>> 24;
    this.cdb[3] = (this.lba >>> 16) & 0xff;
    this.cdb[4] = (this.lba >>> 8) & 0xff;
    this.cdb[5] = this.lba & 0xff;
    return this;
  }

  done(status: number): void {
    if (status !== 0) this.failed++;
  }
}

function unitAttentionTaken(dev: ScsiDevice): void {
  const t = new ReadTask(4096, 8);
  t.cdb.fill(0); // TEST UNIT READY takes the power-on unit attention
  dev.submit(t);
}

/** The null device (4 KiB) or a 64 MiB RAM disk (`bytes` per read), called directly: commands/s. */
export function deviceDirect(kind: "null" | "ram", bytes: number, seconds: number): Rate {
  const RAM = 64 << 20;
  const dev =
    kind === "null" ? new NullDevice() : Disk.ram({ ...NULL_DEVICE_INFO, product: "RAMDISK" }, RAM / 512);
  unitAttentionTaken(dev);
  const task = new ReadTask(bytes, kind === "null" ? 1 << 21 : RAM / 512);
  if (kind === "ram") {
    // Write every chunk once, so reads copy data rather than zero-fill unallocated chunks.
    const w = new ReadTask(128 << 10, RAM / 512);
    w.cdb[0] = 0x2a;
    (w as { direction: DataDirection }).direction = 1;
    w.data.reset(false);
    for (let i = 0; i < RAM / (128 << 10); i++) dev.submit(w.next());
  }
  const r = timed(seconds, 1, () => dev.submit(task.next()));
  if (task.failed > 0) throw new Error(`device direct: ${task.failed} commands failed`);
  return r;
}

/**
 * The one-thread ceiling: a scsifront and a scsiback (Pair) over one ring in this thread, the
 * null device behind, 16 READ(10) of 4 KiB kept in flight, no waits — submit, flush, let the
 * backend serve, take the responses, resubmit. Requests/s.
 */
export function oneThreadCeiling(seconds: number): Rate {
  const pair = new Pair();
  const dev = new NullDevice();
  unitAttentionTaken(dev);
  pair.attach(0, 0, 0, dev);
  let done = 0;
  let failed = 0;
  let running = true;
  const cmds: FrontCommand[] = [];
  const ready: FrontCommand[] = [];
  for (let i = 0; i < 16; i++) {
    const c = pair.command([0, 0, 0], rw10(0x28, i * 8, 8), 2, pair.buffer(1), 4096);
    // Resubmitted by the loop, not from the completion: scsifront publishes in batches as it
    // submits, so a resubmit inside the pump would keep the pump from ever settling.
    c.onComplete = (cmd) => {
      done++;
      if (cmd.host !== 0 || cmd.status !== 0) failed++;
      if (running) ready.push(cmd);
    };
    cmds.push(c);
  }
  for (const c of cmds) if (pair.front.submit(c) !== "queued") throw new Error("one-thread ceiling: busy");
  const r = timed(seconds, 0, () => {
    for (let i = 0; i < ready.length; i++) if (pair.front.submit(ready[i]!) !== "queued") failed++;
    ready.length = 0;
    pair.front.flush();
    pair.pump();
  });
  running = false;
  const count = done;
  pair.front.flush();
  pair.pump();
  if (failed > 0) throw new Error(`one-thread ceiling: ${failed} commands failed`);
  return rate(count, r.seconds);
}
