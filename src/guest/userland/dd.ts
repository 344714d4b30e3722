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

/**
 * `dd if=<device> ...` reads; `dd of=<device> [if=/dev/zero|pattern:<seed>] ...` writes. Sizes as
 * dd takes them (`bs`, `count`, `skip`, `seek`), whole blocks of the device. Prints dd's summary
 * and the SHA-256 of the bytes moved, so a write and a later read can be compared.
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
  const input = opts.get("if") ?? "pattern:0";
  const output = opts.get("of");
  const reading = output === undefined;
  const devName = reading ? input : output;
  const dev = device(scsi, devName, "dd");
  if ("exitCode" in dev) return dev;
  const bs = parseSize(opts.get("bs") ?? "512", "bs");
  const count = parseSize(opts.get("count") ?? "1", "count");
  const offsetOpt = parseSize(opts.get(reading ? "skip" : "seek") ?? "0", reading ? "skip" : "seek");
  for (const v of [bs, count, offsetOpt]) if (typeof v === "string") return fail(v);
  const [bsN, countN, startN] = [bs as number, count as number, offsetOpt as number];
  const cap = await capacity(scsi, dev, false);
  if (typeof cap === "string") return fail(`dd: ${devName}: ${cap}`);
  if (bsN === 0 || bsN % cap.blockSize !== 0)
    return fail(`dd: bs=${bsN} is not a multiple of the ${cap.blockSize}-byte block size`);
  let source: "zero" | { seed: number } | null = null;
  if (!reading) {
    if (input === "/dev/zero") source = "zero";
    else if (/^pattern:\d+$/.test(input)) source = { seed: Number(input.slice(8)) };
    else return fail(`dd: if=${input}: writing takes /dev/zero or pattern:<seed>`);
  }
  const hash = createHash("sha256");
  const chunkMax = Math.max(cap.blockSize, Math.floor(dev.host.maxTransfer / cap.blockSize) * cap.blockSize);
  const t0 = performance.now();
  let moved = 0;
  let records = 0;
  for (let rec = 0; rec < countN; rec++) {
    let lba = (startN + rec) * (bsN / cap.blockSize);
    if (BigInt(lba) + BigInt(bsN / cap.blockSize) > cap.blocks) break;
    for (let done = 0; done < bsN; ) {
      const n = Math.min(chunkMax, bsN - done);
      const blocks = n / cap.blockSize;
      const cdb = rw16(reading ? READ_16 : WRITE_16, lba, blocks);
      let r: ScsiResult;
      if (reading) {
        r = await scsi.execute(dev, { cdb, dataInLength: n });
        if (r.host === 0 && r.status === 0) hash.update(r.data);
      } else {
        const data = new Uint8Array(n);
        if (source !== "zero") fillPattern(data, (source as { seed: number }).seed, lba);
        hash.update(data);
        r = await scsi.execute(dev, { cdb, dataOut: data });
      }
      if (r.host !== 0 || r.status !== 0) {
        return {
          exitCode: 1,
          stdout: "",
          stderr: `dd: ${reading ? "reading" : "writing"} ${devName} at LBA ${lba}: ${describeFailure(r)}\n${records}+0 records ${reading ? "in" : "out"}\n`,
        };
      }
      done += n;
      lba += blocks;
      moved += n;
    }
    records++;
  }
  const secs = Math.max((performance.now() - t0) / 1000, 1e-6);
  const mb = moved / 1e6;
  return ok(
    `${records}+0 records in\n${records}+0 records out\n` +
      `${moved} bytes (${mb.toFixed(1)} MB, ${(moved / 1048576).toFixed(1)} MiB) copied, ${secs.toFixed(4)} s, ${(mb / secs).toFixed(1)} MB/s\n` +
      `sha256 ${hash.digest("hex")}\n`,
  );
}
