import type { BlkCommand } from "../../blkfront/blkfront-ring.js";
import type { XenDisk } from "../../blkfront/xen-disk.js";
import { blockLayerOf, type GuestBlock } from "../block-layer.js";
import {
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  type FrontCommand,
  type GuestScsi,
  type GuestScsiDevice,
} from "../midlayer.js";
import { READ_16, WRITE_16 } from "../sd.js";
import { fail } from "./_common.js";
import type { GuestCommand } from "./command.js";
import { parseBlockSize } from "./iobench.js";

/** One fio job line, as far as pvscsi's runner takes it. */
export interface FioOptions {
  /** `read`, `write`, `randread`, `randwrite` or `randrw`. */
  readonly rw: "read" | "write" | "randread" | "randwrite" | "randrw";
  /** Percentage of reads in `randrw` (`rwmixread`, default 50). */
  readonly rwmixread: number;
  readonly bs: number;
  /** Jobs per device; each keeps `iodepth` I/Os in flight (`ioengine=psync` is iodepth 1). */
  readonly numjobs: number;
  readonly iodepth: number;
  readonly runtimeMs: number;
  /** Stop after this many I/Os per job (fio's `number_ios`). */
  readonly numberIos: number;
  /** Bytes of each device the jobs address (fio's `size`); 0 = the whole device. */
  readonly size: number;
}

/** What one device's jobs did. */
export interface FioDeviceResult {
  readonly device: string;
  readonly reads: number;
  readonly writes: number;
  readonly bytes: number;
  readonly errors: number;
  /** Mean completion latency of an I/O, µs. */
  readonly latUs: number;
}

/** What a run measured, per device and in total. */
export interface FioResult {
  readonly seconds: number;
  readonly devices: readonly FioDeviceResult[];
  readonly ios: number;
  readonly bytes: number;
  readonly errors: number;
}

/** One fio I/O in flight: its pieces (the block layer's split) issued together. */
interface Unit {
  start(write: boolean, sector: number): void;
  release(): void;
}

/** How a device's I/Os reach its frontend, and their completions come back. */
interface Engine {
  readonly name: string;
  /** Size in 512-byte sectors. */
  readonly sectors: number;
  unit(bs: number, done: (ok: boolean) => void): Unit;
  /** Publish what was queued. */
  push(): void;
}

/**
 * `sdX` through scsifront: READ(16)/WRITE(16) prepared once per piece, resubmitted from their
 * completions; a piece the ring refuses (16 slots, shared by every LUN of the controller) waits in
 * a FIFO for the next completion, as the SCSI host's queue makes a request wait.
 */
function sdEngine(dev: GuestScsiDevice, sectors: number, blockSize: number, waiting: FrontCommand[]): Engine {
  const host = dev.host;
  const kick = () => {
    while (waiting.length > 0 && host.submitPrepared(waiting[0]!)) waiting.shift();
  };
  return {
    name: dev.devNode ?? "",
    sectors,
    push: () => host.flushPrepared(),
    unit(bs, done) {
      const max = Math.floor(host.maxTransfer / blockSize) * blockSize;
      const mk = (dir: 1 | 2) => {
        const out: FrontCommand[] = [];
        for (let left = bs; left > 0; left -= max)
          out.push(host.prepareCommand(dev.channel, dev.id, dev.lun, dir, Math.min(max, left)));
        return out;
      };
      const reads = mk(DMA_FROM_DEVICE);
      const writes = mk(DMA_TO_DEVICE);
      let left = 0;
      let good = true;
      const onComplete = (c: FrontCommand) => {
        if (c.host !== 0 || c.status !== 0 || c.residual !== 0) good = false;
        kick();
        if (--left === 0) done(good);
      };
      for (const c of [...reads, ...writes]) {
        c.onComplete = onComplete;
        c.setCdb(new Array<number>(16).fill(0));
      }
      return {
        start(write, sector) {
          const cmds = write ? writes : reads;
          left = cmds.length;
          good = true;
          let lba = (sector * 512) / blockSize;
          for (const c of cmds) {
            const blocks = c.length / blockSize;
            const cdb = c.cdb;
            cdb[0] = write ? WRITE_16 : READ_16;
            const hi = Math.floor(lba / 2 ** 32);
            const lo = lba >>> 0;
            cdb[2] = hi >>> 24;
            cdb[3] = (hi >>> 16) & 255;
            cdb[4] = (hi >>> 8) & 255;
            cdb[5] = hi & 255;
            cdb[6] = lo >>> 24;
            cdb[7] = (lo >>> 16) & 255;
            cdb[8] = (lo >>> 8) & 255;
            cdb[9] = lo & 255;
            cdb[10] = blocks >>> 24;
            cdb[11] = (blocks >>> 16) & 255;
            cdb[12] = (blocks >>> 8) & 255;
            cdb[13] = blocks & 255;
            lba += blocks;
            if (waiting.length > 0 || !host.submitPrepared(c)) waiting.push(c);
          }
        },
        release() {
          for (const c of [...reads, ...writes]) host.releasePrepared(c);
        },
      };
    },
  };
}

/** `xvdX` through blkfront: BlkCommands prepared once per piece; the disk queues what its rings refuse. */
function xvdEngine(block: GuestBlock, disk: XenDisk): Engine {
  return {
    name: `/dev/${disk.info.name}`,
    sectors: disk.info.sectors,
    push: () => disk.push(),
    unit(bs, done) {
      const cmds: BlkCommand[] = block.prepare(disk, bs);
      let left = 0;
      let good = true;
      const onComplete = (c: BlkCommand) => {
        if (c.status !== 0) good = false;
        if (--left === 0) done(good);
      };
      for (const c of cmds) c.onComplete = onComplete;
      return {
        start(write, sector) {
          left = cmds.length;
          good = true;
          let s = sector;
          for (const c of cmds) {
            c.op = write ? 1 : 0;
            c.sector = s;
            s += c.length / 512;
            disk.submit(c, false);
          }
        },
        release() {
          block.releaseCommands(cmds);
        },
      };
    },
  };
}

/** Resolve `/dev/sdX` or `/dev/xvdX` to an engine; `queues` holds one wait FIFO per SCSI host (its ring is shared by its LUNs). */
async function engineFor(
  scsi: GuestScsi,
  name: string,
  queues: Map<unknown, FrontCommand[]>,
): Promise<Engine> {
  if (/^\/dev\/xvd[a-z]+$/.test(name)) {
    const block = blockLayerOf(scsi);
    const disk = block?.find(name);
    if (!block || !disk) throw new Error(`${name}: no such device`);
    return xvdEngine(block, disk);
  }
  const dev = scsi.resolve(name);
  const r = await dev.host.execute({
    channel: dev.channel,
    id: dev.id,
    lun: dev.lun,
    cdb: [0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0],
    dataInLength: 32,
  });
  if (r.host !== 0 || r.status !== 0 || r.data.length < 12)
    throw new Error(`${name}: READ CAPACITY(16) failed`);
  const dv = new DataView(r.data.buffer, r.data.byteOffset, 12);
  const blockSize = dv.getUint32(8);
  const sectors = ((Number(dv.getBigUint64(0)) + 1) * blockSize) / 512;
  let q = queues.get(dev.host);
  if (!q) {
    q = [];
    queues.set(dev.host, q);
  }
  return sdEngine(dev, sectors, blockSize, q);
}

/**
 * fio's job model over the guest's PV disks: on each device, `numjobs` jobs each keep `iodepth`
 * I/Os of `bs` in flight (psync is iodepth 1: QD = numjobs); sequential jobs start at spread
 * offsets, random ones pick aligned offsets with a per-job xorshift; `randrw` reads with
 * probability `rwmixread`%. An I/O larger than the frontend's maximum transfer goes as several
 * requests at once (the block layer's split), and completes when all have. No Promise, closure or
 * buffer per I/O.
 */
export async function runFio(scsi: GuestScsi, devices: readonly string[], o: FioOptions): Promise<FioResult> {
  const engines: Engine[] = [];
  const queues = new Map<unknown, FrontCommand[]>();
  for (const d of devices) engines.push(await engineFor(scsi, d, queues));
  const stats = engines.map(() => ({ reads: 0, writes: 0, bytes: 0, errors: 0, latSum: 0 }));
  const units: Unit[] = [];
  let inFlight = 0;
  let stopping = false;
  let finish!: () => void;
  const finished = new Promise<void>((r) => {
    finish = r;
  });
  const t0 = performance.now();
  const deadline = t0 + o.runtimeMs;
  let jobSeed = 0x9e3779b9;
  for (let e = 0; e < engines.length; e++) {
    const eng = engines[e]!;
    const st = stats[e]!;
    const span = Math.floor((o.size > 0 ? Math.min(o.size, eng.sectors * 512) : eng.sectors * 512) / o.bs);
    if (span < 1) throw new Error(`${eng.name}: smaller than bs=${o.bs}`);
    const perBs = o.bs / 512;
    for (let j = 0; j < o.numjobs; j++) {
      jobSeed = (jobSeed * 1664525 + 1013904223) >>> 0;
      let rnd = jobSeed | 1;
      let seq = Math.floor((span * j) / o.numjobs);
      let ios = 0;
      const next = () => {
        rnd ^= rnd << 13;
        rnd ^= rnd >>> 17;
        rnd ^= rnd << 5;
        return rnd >>> 0;
      };
      for (let d = 0; d < o.iodepth; d++) {
        let started = 0;
        let write = false;
        const unit: Unit = eng.unit(o.bs, (good) => {
          inFlight--;
          st.latSum += performance.now() - started;
          if (!good) {
            st.errors++;
            stopping = true;
          } else if (write) st.writes++;
          else st.reads++;
          if (good) st.bytes += o.bs;
          if (!stopping && (ios >= o.numberIos || performance.now() >= deadline)) stopping = true;
          if (!stopping) issue();
          else if (inFlight === 0) finish();
        });
        const issue = () => {
          let slot: number;
          if (o.rw === "read" || o.rw === "write") {
            slot = seq;
            seq = (seq + 1) % span;
          } else slot = next() % span;
          write =
            o.rw === "write" || o.rw === "randwrite" || (o.rw === "randrw" && next() % 100 >= o.rwmixread);
          ios++;
          inFlight++;
          started = performance.now();
          unit.start(write, slot * perBs);
          eng.push();
        };
        units.push(unit);
        issue();
      }
    }
  }
  if (inFlight === 0) finish();
  await finished;
  const seconds = (performance.now() - t0) / 1000;
  for (const u of units) u.release();
  const devs = engines.map((e, i) => {
    const s = stats[i]!;
    const n = s.reads + s.writes + s.errors;
    return {
      device: e.name,
      reads: s.reads,
      writes: s.writes,
      bytes: s.bytes,
      errors: s.errors,
      latUs: n > 0 ? (s.latSum / n) * 1000 : 0,
    };
  });
  return {
    seconds,
    devices: devs,
    ios: devs.reduce((a, d) => a + d.reads + d.writes, 0),
    bytes: devs.reduce((a, d) => a + d.bytes, 0),
    errors: devs.reduce((a, d) => a + d.errors, 0),
  };
}

/**
 * `fio --rw=<read|write|randread|randwrite|randrw> [--rwmixread=50] [--bs=4k] [--numjobs=1]
 * [--iodepth=1] [--runtime=2] [--number_ios=N] [--size=N] [--json] --filename=/dev/sda[:/dev/sdb...]`:
 * fio's job options; unlike fio, `numjobs` jobs run on each device of `--filename`.
 */
export const fioCommand: GuestCommand = async (argv, scsi) => {
  let rw: FioOptions["rw"] = "read";
  let rwmixread = 50;
  let bs = 4096;
  let numjobs = 1;
  let iodepth = 1;
  let runtime = 2;
  let numberIos = Number.MAX_SAFE_INTEGER;
  let size = 0;
  let json = false;
  let files: string[] = [];
  for (const a of argv) {
    const [k, v] = a.split("=", 2) as [string, string | undefined];
    const int = (min: number, max: number) =>
      v !== undefined && /^\d+$/.test(v) && +v >= min && +v <= max ? +v : null;
    if (k === "--rw" && v && ["read", "write", "randread", "randwrite", "randrw", "rw"].includes(v))
      rw = v === "rw" ? "randrw" : (v as FioOptions["rw"]);
    else if (k === "--rwmixread" && int(0, 100) !== null) rwmixread = int(0, 100)!;
    else if (k === "--bs" && v && parseBlockSize(v) !== null) bs = parseBlockSize(v)!;
    else if (k === "--numjobs" && int(1, 64) !== null) numjobs = int(1, 64)!;
    else if (k === "--iodepth" && int(1, 256) !== null) iodepth = int(1, 256)!;
    else if (k === "--runtime" && v && /^\d+(\.\d+)?$/.test(v)) runtime = Number(v);
    else if (k === "--number_ios" && int(1, Number.MAX_SAFE_INTEGER) !== null)
      numberIos = int(1, Number.MAX_SAFE_INTEGER)!;
    else if (k === "--size" && v && parseBlockSize(v) !== null) size = parseBlockSize(v)!;
    else if (k === "--filename" && v) files = v.split(":");
    else if (k === "--json" && v === undefined) json = true;
    else if (["--ioengine", "--direct", "--name", "--group_reporting"].includes(k)) continue;
    else return fail(`fio: bad option '${a}'`);
  }
  if (files.length === 0) return fail("fio: --filename=<device>[:<device>...] is required");
  if (bs === 0 || bs % 4096 !== 0) return fail("fio: --bs must be a multiple of 4k (whole guest pages)");
  let r: FioResult;
  try {
    r = await runFio(scsi, files, {
      rw,
      rwmixread,
      bs,
      numjobs,
      iodepth,
      runtimeMs: runtime * 1000,
      numberIos,
      size,
    });
  } catch (e) {
    return fail(`fio: ${e instanceof Error ? e.message : e}`);
  }
  if (json) return { exitCode: r.errors === 0 ? 0 : 1, stdout: `${JSON.stringify(r)}\n`, stderr: "" };
  const lines = r.devices.map(
    (d) =>
      `  ${d.device}: read=${d.reads} write=${d.writes} IOPS=${Math.round((d.reads + d.writes) / r.seconds)} BW=${(d.bytes / r.seconds / 1048576).toFixed(1)}MiB/s lat=${d.latUs.toFixed(0)}us errors=${d.errors}`,
  );
  return {
    exitCode: r.errors === 0 ? 0 : 1,
    stdout: `${rw}: bs=${bs} numjobs=${numjobs} iodepth=${iodepth}: IOPS=${Math.round(r.ios / r.seconds)}, BW=${(r.bytes / r.seconds / 1048576).toFixed(1)}MiB/s (${(r.seconds * 1000).toFixed(0)}msec)\n${lines.join("\n")}\n`,
    stderr: "",
  };
};
