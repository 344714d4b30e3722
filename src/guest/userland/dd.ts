import { createHash, type Hash } from "node:crypto";
import type { GuestScsi } from "../midlayer.js";
import { capacity } from "./_capacity.js";
import { describeFailure, device, fail, ok } from "./_common.js";
import { RecordIo } from "./_record-io.js";
import type { CommandResult } from "./command.js";
import { fillPattern } from "./pattern.js";

/** dd's size suffixes: c 1, w 2, b 512, k/K 1024, M, G. */
function parseSize(v: string | undefined, what: string): number | string {
  if (v === undefined) return `dd: missing value for ${what}`;
  const m = /^(\d+)(c|w|b|k|K|KiB|M|MiB|G|GiB)?$/.exec(v);
  if (!m) return `dd: invalid number '${v}' for ${what}`;
  const mult: Record<string, number> = {
    c: 1,
    w: 2,
    b: 512,
    k: 1024,
    K: 1024,
    KiB: 1024,
    M: 1 << 20,
    MiB: 1 << 20,
    G: 1 << 30,
    GiB: 1 << 30,
  };
  const n = Number(m[1]) * (m[2] ? mult[m[2]]! : 1);
  return Number.isSafeInteger(n) ? n : `dd: ${what} too large`;
}

/** What dd copies from: a disk, or a generated stream. */
type Source =
  | { readonly kind: "device" }
  | { readonly kind: "zero" }
  | { readonly kind: "pattern"; readonly seed: number };

/** GNU dd's transfer statistics (dd.c print_xfer_stats): records in and out, bytes, rate. */
function stats(
  inFull: number,
  inPartial: number,
  outFull: number,
  outPartial: number,
  moved: number,
  secs: number,
): string {
  const mb = moved / 1e6;
  return (
    `${inFull}+${inPartial} records in\n${outFull}+${outPartial} records out\n` +
    `${moved} bytes (${mb.toFixed(1)} MB, ${(moved / 1048576).toFixed(1)} MiB) copied, ${secs.toFixed(4)} s, ${(mb / secs).toFixed(1)} MB/s\n`
  );
}

/**
 * `dd if=<device> [of=/dev/null] ...` reads a disk; `dd of=<device> [if=/dev/zero|pattern:<seed>]
 * ...` writes one; `dd if=/dev/zero|pattern:<seed> of=/dev/null` only generates. Sizes as dd
 * takes them (`bs`, `count`, `skip`, `seek`), whole blocks of the device. Prints dd's summary;
 * with `status=hash` also the SHA-256 of the bytes moved, so a write and a later read can be
 * compared (not by default: hashing costs more than the ring does).
 *
 * The copy is what `iflag=direct`/`oflag=direct` does on Linux: one buffer of `bs` for the whole
 * run, each record moved between it and the disk by commands of at most the frontend's maximum
 * transfer, several in flight (the block layer's split), so any `bs` works.
 *
 * At the end of the disk it behaves as GNU dd on a block device: a read stops there (a short
 * last record counts as `+1`, exit 0); a write that does not fit writes what fits, then reports
 * "error writing '<dev>': No space left on device" with the statistics and exits 1 — the
 * kernel's ENOSPC for a write past a block device's end (fs/block_dev.c, blkdev_write_iter).
 */
export async function dd(argv: readonly string[], scsi: GuestScsi): Promise<CommandResult> {
  const opts = new Map<string, string>();
  for (const a of argv) {
    const eq = a.indexOf("=");
    if (eq < 1) return fail(`dd: unrecognized operand '${a}'`);
    opts.set(a.slice(0, eq), a.slice(eq + 1));
  }
  for (const k of opts.keys())
    if (!["if", "of", "bs", "count", "skip", "seek", "status"].includes(k))
      return fail(`dd: unrecognized operand '${k}='`);
  const status = opts.get("status");
  if (status !== undefined && status !== "hash") return fail(`dd: invalid status level '${status}'`);
  const hash: Hash | null = status === "hash" ? createHash("sha256") : null;
  const hashLine = () => (hash ? `sha256 ${hash.digest("hex")}\n` : "");
  const output = opts.get("of") ?? "/dev/null";
  const inputOpt = opts.get("if");
  const input = inputOpt ?? (output === "/dev/null" ? undefined : "pattern:0");
  let source: Source;
  if (input === "/dev/zero") source = { kind: "zero" };
  else if (input !== undefined && /^pattern:\d+$/.test(input))
    source = { kind: "pattern", seed: Number(input.slice(8)) };
  else source = { kind: "device" };
  const reading = source.kind === "device";
  if (reading && output !== "/dev/null")
    return fail(
      `dd: if=${input ?? "(none)"} of=${output}: one side must be /dev/zero, pattern:<seed> or /dev/null`,
    );
  const bs = parseSize(opts.get("bs") ?? "512", "bs");
  const count = parseSize(opts.get("count") ?? "1", "count");
  const offsetOpt = parseSize(opts.get(reading ? "skip" : "seek") ?? "0", reading ? "skip" : "seek");
  for (const v of [bs, count, offsetOpt]) if (typeof v === "string") return fail(v);
  const [bsN, countN, startN] = [bs as number, count as number, offsetOpt as number];
  if (bsN === 0) return fail("dd: invalid number '0' for bs");
  const t0 = performance.now();
  const elapsed = () => Math.max((performance.now() - t0) / 1000, 1e-6);
  if (!reading && output === "/dev/null") {
    // Nothing but the generator: /dev/null takes every record whole.
    const data = new Uint8Array(bsN);
    for (let rec = 0; rec < countN; rec++) {
      if (source.kind === "pattern") fillPattern(data, source.seed, rec * bsN);
      hash?.update(data);
    }
    return ok(`${stats(countN, 0, countN, 0, countN * bsN, elapsed())}${hashLine()}`);
  }
  const devName = reading ? input! : output;
  const dev = device(scsi, devName, "dd");
  if ("exitCode" in dev) return dev;
  const cap = await capacity(scsi, dev, false);
  if (typeof cap === "string") return fail(`dd: ${devName}: ${cap}`);
  if (bsN % cap.blockSize !== 0)
    return fail(`dd: bs=${bsN} is not a multiple of the ${cap.blockSize}-byte block size`);
  const chunkMax = Math.max(cap.blockSize, Math.floor(dev.host.maxTransfer / cap.blockSize) * cap.blockSize);
  const recBlocks = bsN / cap.blockSize;
  // The run's one buffer (dd's ibuf): a record is generated into it or read into it.
  let buf: Uint8Array;
  let io: RecordIo;
  try {
    buf = new Uint8Array(bsN);
    io = RecordIo.open(scsi, dev, reading, cap.blockSize, chunkMax, bsN);
  } catch (e) {
    return fail(`dd: ${devName}: ${e instanceof Error ? e.message : e}`);
  }
  let moved = 0;
  let full = 0;
  let partial = 0;
  let noSpace = false;
  try {
    for (let rec = 0; rec < countN; rec++) {
      const lba = (startN + rec) * recBlocks;
      const avail = cap.blocks > BigInt(lba) ? Number(cap.blocks - BigInt(lba)) : 0;
      const blocksNow = Math.min(recBlocks, avail);
      const bytesNow = blocksNow * cap.blockSize;
      if (bytesNow > 0) {
        // A pattern is addressed by the disk's byte offset, so a reader can check any part.
        if (source.kind === "pattern")
          fillPattern(buf.subarray(0, bytesNow), source.seed, lba * cap.blockSize);
        const failed = await io.run(buf, bytesNow, lba);
        if (failed !== null) {
          // What completed before the failing command was moved (sequential dd's count).
          const done = (failed.lba - lba) * cap.blockSize;
          moved += done;
          return {
            exitCode: 1,
            stdout: "",
            stderr:
              `dd: ${reading ? "reading" : "writing"} ${devName} at LBA ${failed.lba}: ${describeFailure(failed.result)}\n` +
              stats(full, partial, full, partial, moved, elapsed()),
          };
        }
        if (hash) {
          if (reading)
            for (let i = 0, at = 0; at < bytesNow; i++, at += chunkMax)
              hash.update(buf.subarray(at, at + io.got[i]!));
          else hash.update(buf.subarray(0, bytesNow));
        }
        moved += bytesNow;
      }
      if (blocksNow === recBlocks) full++;
      else {
        if (blocksNow > 0) partial++;
        noSpace = !reading; // a read just meets the end (EOF); a write has more to put
        break;
      }
    }
  } catch (e) {
    return fail(`dd: ${devName}: ${e instanceof Error ? e.message : e}`);
  } finally {
    io.close();
  }
  if (noSpace) {
    // The record that did not fit was read whole from the input: GNU dd counts it in, and out
    // only as the partial record that fit.
    return {
      exitCode: 1,
      stdout: "",
      stderr:
        `dd: error writing '${devName}': No space left on device\n` +
        stats(full + 1, 0, full, partial, moved, elapsed()),
    };
  }
  return ok(`${stats(full, partial, full, partial, moved, elapsed())}${hashLine()}`);
}
