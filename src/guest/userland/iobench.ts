import { createHistogram, type RecordableHistogram } from "node:perf_hooks";
import { DMA_FROM_DEVICE, DMA_TO_DEVICE, type FrontCommand, type GuestScsi } from "../midlayer.js";
import type { CommandResult } from "./command.js";

/** READ CAPACITY(10) (SBC-3 §5.15). */
const READ_CAPACITY_10 = 0x25;
/** READ(10) and WRITE(10) (SBC-3 §5.11, §5.37). */
const READ_10 = 0x28;
const WRITE_10 = 0x2a;

/** What an I/O benchmark run measured. */
export interface IoBenchResult {
  readonly ops: number;
  readonly bytes: number;
  readonly seconds: number;
  readonly errors: number;
  /** With `latency`: fio's clat, submission to completion per command, in ns. */
  readonly clat?: IoBenchLatency;
}

/** Completion latency percentiles (ns), fio's `clat` in its JSON output. */
export interface IoBenchLatency {
  readonly samples: number;
  readonly mean: number;
  readonly p50: number;
  readonly p99: number;
  readonly p99_9: number;
  readonly max: number;
}

/** Options of {@link runIoBench}. */
export interface IoBenchOptions {
  readonly write: boolean;
  readonly random: boolean;
  readonly blockSize: number;
  readonly depth: number;
  /** Stop after this long (ms)… */
  readonly runtimeMs: number;
  /** …or after this many commands, whichever comes first. */
  readonly maxOps: number;
  /** Record each command's completion latency (a clock read per command). */
  readonly latency?: boolean;
}

/**
 * A fio-like load generator inside the guest, driving its scsifront directly: `depth` commands
 * kept in flight, each preallocated once with its own guest pages, resubmitted from its
 * completion callback — no Promise, closure or buffer per command — so what it measures is the
 * PV path, not the guest shell. READ(10)/WRITE(10); the LBA advances sequentially or at random
 * over the device's capacity.
 */
export async function runIoBench(
  scsi: GuestScsi,
  devName: string,
  o: IoBenchOptions,
): Promise<IoBenchResult> {
  const dev = scsi.resolve(devName);
  const host = dev.host;
  const blockSize = 512;
  const blocks = o.blockSize / blockSize;
  // Stay inside the device: READ CAPACITY (the null device reports none: use its first 1 GiB).
  const cap = await host.execute({
    channel: dev.channel,
    id: dev.id,
    lun: dev.lun,
    cdb: [READ_CAPACITY_10, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    dataInLength: 8,
  });
  let capacityBytes = 1 << 30;
  if (cap.host === 0 && cap.status === 0 && cap.data.length === 8) {
    const dv = new DataView(cap.data.buffer, cap.data.byteOffset, 8);
    const size = (dv.getUint32(0) + 1) * dv.getUint32(4);
    if (size > 0) capacityBytes = Math.min(size, 2 ** 31);
  }
  const span = Math.max(1, Math.floor(capacityBytes / o.blockSize));
  const cmds: FrontCommand[] = [];
  let issued = 0;
  let done = 0;
  let errors = 0;
  let bytes = 0;
  let nextSeq = 0;
  let stopping = false;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const t0 = performance.now();
  const deadline = t0 + o.runtimeMs;
  let rnd = 0x2545f491;
  const hist: RecordableHistogram | null = o.latency ? createHistogram() : null;
  const submitted = new Float64Array(o.depth);

  const arm = (c: FrontCommand): void => {
    let slot: number;
    if (o.random) {
      rnd ^= rnd << 13;
      rnd ^= rnd >>> 17;
      rnd ^= rnd << 5;
      slot = (rnd >>> 0) % span;
    } else {
      slot = nextSeq++ % span;
    }
    const lba = slot * blocks;
    const cdb = c.cdb;
    cdb[2] = (lba >>> 24) & 0xff;
    cdb[3] = (lba >>> 16) & 0xff;
    cdb[4] = (lba >>> 8) & 0xff;
    cdb[5] = lba & 0xff;
    issued++;
    if (hist) submitted[cmds.indexOf(c)] = performance.now();
    if (!host.submitPrepared(c)) {
      errors++;
      issued--;
      stopping = true;
    }
  };
  // A command the frontend refuses (one larger than its sg_tablesize allows) completes inside
  // submitPrepared; rearming it from there recursed until the stack overflowed. Completions
  // that arrive while arming are queued here (at most `depth`, preallocated) and armed by the
  // outermost call, a loop instead of recursion.
  const rearm: FrontCommand[] = [];
  let arming = false;
  const armLoop = (c: FrontCommand): void => {
    rearm.push(c);
    if (arming) return;
    arming = true;
    while (rearm.length > 0) {
      const next = rearm.pop()!;
      if (!stopping) arm(next);
    }
    arming = false;
    if (stopping && done === issued) finish();
  };
  const onComplete = (c: FrontCommand): void => {
    if (hist) hist.record(Math.max(1, Math.round((performance.now() - submitted[cmds.indexOf(c)]!) * 1e6)));
    done++;
    // fio stops a job at its first I/O error (continue_on_error=none, its default).
    if (c.host !== 0 || c.status !== 0) {
      errors++;
      stopping = true;
    } else bytes += o.blockSize - c.residual;
    // The clock is read every 64 completions, not per command.
    if (!stopping && (issued >= o.maxOps || ((done & 63) === 0 && performance.now() >= deadline)))
      stopping = true;
    if (!stopping) armLoop(c);
    else if (done === issued && !arming) finish();
  };

  for (let i = 0; i < o.depth; i++) {
    let c: FrontCommand;
    try {
      c = host.prepareCommand(
        dev.channel,
        dev.id,
        dev.lun,
        o.write ? DMA_TO_DEVICE : DMA_FROM_DEVICE,
        o.blockSize,
      );
    } catch {
      throw new Error("iobench: guest out of memory for its buffers");
    }
    c.setCdb([o.write ? WRITE_10 : READ_10, 0, 0, 0, 0, 0, 0, (blocks >>> 8) & 0xff, blocks & 0xff, 0]);
    c.onComplete = onComplete;
    cmds.push(c);
  }
  // Never more than --count commands, even when the depth is larger.
  arming = true;
  for (const c of cmds) if (!stopping && issued < o.maxOps) arm(c);
  while (rearm.length > 0) {
    const next = rearm.pop()!;
    if (!stopping) arm(next);
  }
  arming = false;
  host.flushPrepared();
  if (issued === 0 || (stopping && done === issued)) finish();
  await finished;
  const seconds = (performance.now() - t0) / 1000;
  for (const c of cmds) host.releasePrepared(c);
  if (hist === null || hist.count === 0) return { ops: done, bytes, seconds, errors };
  const clat: IoBenchLatency = {
    samples: hist.count,
    mean: hist.mean,
    p50: hist.percentile(50),
    p99: hist.percentile(99),
    p99_9: hist.percentile(99.9),
    max: hist.max,
  };
  return { ops: done, bytes, seconds, errors, clat };
}

/** fio's size suffixes (k, m, g; `KiB`, `kB`, `MB`...: powers of 1024, fio's default kb_base). */
const SIZE_UNITS: Record<string, number> = { "": 1, k: 1 << 10, m: 1 << 20, g: 1 << 30 };

/** `--bs`'s value in bytes, or null when it is not a size. */
export function parseBlockSize(v: string): number | null {
  const m = /^(\d+)(?:([kKmMgG])(?:i?[bB])?)?$/.exec(v);
  if (!m) return null;
  const n = Number(m[1]) * SIZE_UNITS[(m[2] ?? "").toLowerCase()]!;
  return Number.isSafeInteger(n) ? n : null;
}

/**
 * `iobench [--rw=read|write|randread|randwrite] [--bs=4k] [--iodepth=16] [--runtime=2] [--count=N] [--lat] [--json] <dev>`:
 * fio's job line, over the PV path; `--lat` adds completion latency percentiles (fio's clat).
 */
export async function iobenchCommand(argv: readonly string[], scsi: GuestScsi): Promise<CommandResult> {
  let rw = "read";
  let bs = 4096;
  let bsText = "4k";
  let depth = 16;
  let runtime = 2;
  let count = Number.MAX_SAFE_INTEGER;
  let json = false;
  let latency = false;
  let dev: string | undefined;
  for (const a of argv) {
    const [k, v] = a.split("=", 2) as [string, string | undefined];
    if (k === "--rw" && v && ["read", "write", "randread", "randwrite"].includes(v)) rw = v;
    else if (k === "--bs" && v && parseBlockSize(v) !== null) {
      bs = parseBlockSize(v)!;
      bsText = v;
    } else if (k === "--iodepth" && v && /^\d+$/.test(v)) depth = Number(v);
    else if (k === "--runtime" && v && /^\d+(\.\d+)?$/.test(v)) runtime = Number(v);
    else if (k === "--count" && v && /^\d+$/.test(v)) count = Number(v);
    else if (k === "--json" && v === undefined) json = true;
    else if (k === "--lat" && v === undefined) latency = true;
    else if (!a.startsWith("-") && dev === undefined) dev = a;
    else return { exitCode: 1, stdout: "", stderr: `iobench: bad argument '${a}'\n` };
  }
  if (dev === undefined) return { exitCode: 1, stdout: "", stderr: "iobench: missing device\n" };
  if (bs % 512 !== 0 || bs === 0)
    return { exitCode: 1, stdout: "", stderr: "iobench: --bs must be a multiple of 512\n" };
  let max: number;
  try {
    max = scsi.resolve(dev).host.maxTransfer;
  } catch (e) {
    return { exitCode: 1, stdout: "", stderr: `iobench: ${e instanceof Error ? e.message : e}\n` };
  }
  // One command carries at most what the ring's segments (and indirect pages) can grant.
  if (bs > max)
    return {
      exitCode: 1,
      stdout: "",
      stderr: `iobench: --bs=${bsText} (${bs} bytes) is more than the frontend's maximum transfer (${max} bytes)\n`,
    };
  if (depth < 1 || depth > 16)
    return { exitCode: 1, stdout: "", stderr: "iobench: --iodepth must be 1..16 (the ring has 16 slots)\n" };
  const r = await runIoBench(scsi, dev, {
    write: rw.endsWith("write"),
    random: rw.startsWith("rand"),
    blockSize: bs,
    depth,
    runtimeMs: runtime * 1000,
    maxOps: count,
    latency,
  });
  if (json) return { exitCode: r.errors === 0 ? 0 : 1, stdout: `${JSON.stringify(r)}\n`, stderr: "" };
  const iops = r.ops / r.seconds;
  const mibs = r.bytes / r.seconds / 1048576;
  const us = (ns: number) => (ns / 1000).toFixed(1);
  const clat = r.clat
    ? `  clat (usec): p50=${us(r.clat.p50)}, p99=${us(r.clat.p99)}, p99.9=${us(r.clat.p99_9)}, max=${us(r.clat.max)}, avg=${us(r.clat.mean)}\n`
    : "";
  return {
    exitCode: r.errors === 0 ? 0 : 1,
    stdout: `${rw}: IOPS=${Math.round(iops)}, BW=${mibs.toFixed(1)}MiB/s (${(r.bytes / r.seconds / 1e6).toFixed(1)}MB/s)(${(r.bytes / 1048576).toFixed(1)}MiB/${(r.seconds * 1000).toFixed(0)}msec) bs=${bs} iodepth=${depth} errors=${r.errors}\n${clat}`,
    stderr: "",
  };
}
