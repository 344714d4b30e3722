import { createHash } from "node:crypto";
import type { GuestScsi, ScsiResult } from "../midlayer.js";
import { READ_16, rw16, WRITE_16 } from "../sd.js";
import { capacity } from "./_capacity.js";
import { describeFailure, device, fail, ok } from "./_common.js";
import type { CommandResult } from "./command.js";

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

/** A deterministic byte stream (xorshift32) for `if=pattern:<seed>`, so a reader can check it. */
export function fillPattern(buf: Uint8Array, seed: number, offset: number): void {
  let x = (seed ^ Math.imul(offset + 1, 0x9e3779b1)) >>> 0 || 0x12345678;
  for (let i = 0; i < buf.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf[i] = x & 0xff;
  }
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
 * takes them (`bs`, `count`, `skip`, `seek`), whole blocks of the device. Prints dd's summary
 * and the SHA-256 of the bytes moved, so a write and a later read can be compared.
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
    if (!["if", "of", "bs", "count", "skip", "seek"].includes(k))
      return fail(`dd: unrecognized operand '${k}='`);
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
  const hash = createHash("sha256");
  const t0 = performance.now();
  const elapsed = () => Math.max((performance.now() - t0) / 1000, 1e-6);
  if (!reading && output === "/dev/null") {
    // Nothing but the generator: /dev/null takes every record whole.
    const data = new Uint8Array(bsN);
    for (let rec = 0; rec < countN; rec++) {
      if (source.kind === "pattern") fillPattern(data, source.seed, rec * bsN);
      hash.update(data);
    }
    return ok(`${stats(countN, 0, countN, 0, countN * bsN, elapsed())}sha256 ${hash.digest("hex")}\n`);
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
  let moved = 0;
  let full = 0;
  let partial = 0;
  let noSpace = false;
  for (let rec = 0; rec < countN; rec++) {
    let lba = (startN + rec) * recBlocks;
    const avail = cap.blocks > BigInt(lba) ? Number(cap.blocks - BigInt(lba)) : 0;
    const blocksNow = Math.min(recBlocks, avail);
    const bytesNow = blocksNow * cap.blockSize;
    for (let done = 0; done < bytesNow; ) {
      const n = Math.min(chunkMax, bytesNow - done);
      const blocks = n / cap.blockSize;
      const cdb = rw16(reading ? READ_16 : WRITE_16, lba, blocks);
      let r: ScsiResult;
      if (reading) {
        r = await scsi.execute(dev, { cdb, dataInLength: n });
        if (r.host === 0 && r.status === 0) hash.update(r.data);
      } else {
        const data = new Uint8Array(n);
        if (source.kind === "pattern") fillPattern(data, source.seed, lba);
        hash.update(data);
        r = await scsi.execute(dev, { cdb, dataOut: data });
      }
      if (r.host !== 0 || r.status !== 0) {
        return {
          exitCode: 1,
          stdout: "",
          stderr:
            `dd: ${reading ? "reading" : "writing"} ${devName} at LBA ${lba}: ${describeFailure(r)}\n` +
            stats(full, partial, full, partial, moved, elapsed()),
        };
      }
      done += n;
      lba += blocks;
      moved += n;
    }
    if (blocksNow === recBlocks) full++;
    else {
      if (blocksNow > 0) partial++;
      noSpace = !reading; // a read just meets the end (EOF); a write has more to put
      break;
    }
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
  return ok(`${stats(full, partial, full, partial, moved, elapsed())}sha256 ${hash.digest("hex")}\n`);
}
