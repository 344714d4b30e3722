import { createHash, type Hash } from "node:crypto";
import { blockLayerOf } from "../block-layer.js";
import type { GuestScsi } from "../midlayer.js";
import { fail, ok } from "./_common.js";
import type { CommandResult, GuestCommand } from "./command.js";
import { dd } from "./dd.js";
import { fillPattern } from "./pattern.js";

const SIZES: Record<string, number> = { "": 1, c: 1, w: 2, b: 512, k: 1024, K: 1024, M: 1 << 20, G: 1 << 30 };

function size(v: string | undefined, what: string, dflt: number): number | string {
  if (v === undefined) return dflt;
  const m = /^(\d+)(c|w|b|k|K|M|G)?$/.exec(v);
  if (!m) return `dd: invalid number '${v}' for ${what}`;
  const n = Number(m[1]) * SIZES[m[2] ?? ""]!;
  return Number.isSafeInteger(n) ? n : `dd: ${what} too large`;
}

/** `lsblk`: the guest's Xen virtual disks (NAME MAJ:MIN RM SIZE RO TYPE), as util-linux prints them. */
export const lsblk: GuestCommand = async (argv, scsi) => {
  if (argv.length > 0) return fail(`lsblk: unrecognized option '${argv[0]}'`);
  const block = blockLayerOf(scsi);
  return ok(block ? block.lsblk() : "NAME MAJ:MIN RM SIZE RO TYPE\n");
};

/**
 * `dd` over a Xen virtual disk (`if=/dev/xvdX` or `of=/dev/xvdX`), with the operands and output
 * of the SCSI disks' dd (`bs`, `count`, `skip`, `seek`, `status=hash`, `pattern:<seed>`), records
 * moved as O_DIRECT does: split at the frontend's maximum transfer, every piece in flight at once.
 * Any other device goes to the SCSI dd.
 */
export const ddAny: GuestCommand = async (argv, scsi) => {
  const opts = new Map<string, string>();
  for (const a of argv) {
    const eq = a.indexOf("=");
    if (eq > 0) opts.set(a.slice(0, eq), a.slice(eq + 1));
  }
  const xvd = (v: string | undefined) => v !== undefined && /^\/dev\/xvd[a-z]+$/.test(v);
  if (!xvd(opts.get("if")) && !xvd(opts.get("of"))) return dd(argv, scsi);
  return xvdDd(opts, scsi);
};

async function xvdDd(opts: Map<string, string>, scsi: GuestScsi): Promise<CommandResult> {
  for (const k of opts.keys())
    if (!["if", "of", "bs", "count", "skip", "seek", "status"].includes(k))
      return fail(`dd: unrecognized operand '${k}='`);
  const status = opts.get("status");
  if (status !== undefined && status !== "hash") return fail(`dd: invalid status level '${status}'`);
  const hash: Hash | null = status === "hash" ? createHash("sha256") : null;
  const input = opts.get("if") ?? "pattern:0";
  const output = opts.get("of") ?? "/dev/null";
  const reading = input.startsWith("/dev/xvd");
  if (reading && output !== "/dev/null")
    return fail(`dd: if=${input} of=${output}: one side must be /dev/null`);
  const seed = !reading && /^pattern:\d+$/.test(input) ? Number(input.slice(8)) : null;
  if (!reading && seed === null && input !== "/dev/zero")
    return fail(`dd: if=${input}: expected /dev/zero or pattern:<seed>`);
  const devName = reading ? input : output;
  const block = blockLayerOf(scsi);
  const disk = block?.find(devName);
  if (!block || !disk) return fail(`dd: failed to open '${devName}': No such file or directory`);
  if (!reading && disk.info.readonly) return fail(`dd: failed to open '${devName}': Read-only file system`);
  const bs = size(opts.get("bs"), "bs", 512);
  const count = size(opts.get("count"), "count", 1);
  const start = size(opts.get(reading ? "skip" : "seek"), reading ? "skip" : "seek", 0);
  for (const v of [bs, count, start]) if (typeof v === "string") return fail(v);
  const [bsN, countN, startN] = [bs as number, count as number, start as number];
  if (bsN === 0 || bsN % disk.info.sectorSize !== 0)
    return fail(`dd: bs=${bsN} is not a multiple of the ${disk.info.sectorSize}-byte sector size`);
  const t0 = performance.now();
  const buf = new Uint8Array(bsN);
  const diskBytes = disk.info.sectors * 512;
  let moved = 0;
  let full = 0;
  let partial = 0;
  let noSpace = false;
  for (let rec = 0; rec < countN; rec++) {
    const at = (startN + rec) * bsN;
    const n = Math.max(0, Math.min(bsN, diskBytes - at));
    if (n > 0) {
      const view = buf.subarray(0, n);
      if (!reading) {
        if (seed !== null) fillPattern(view, seed, at);
        else view.fill(0);
      }
      const st = await block.transfer(disk, !reading, at / 512, view);
      if (st !== 0) {
        const secs = Math.max((performance.now() - t0) / 1000, 1e-6);
        return {
          exitCode: 1,
          stdout: "",
          stderr: `dd: ${reading ? "error reading" : "error writing"} '${devName}': Input/output error\n${stats(full, partial, moved, secs)}`,
        };
      }
      hash?.update(view);
      moved += n;
    }
    if (n === bsN) full++;
    else {
      if (n > 0) partial++;
      noSpace = !reading;
      break;
    }
  }
  if (!reading) await block.flush(disk); // fsync at close, as dd's conv=fsync would
  const secs = Math.max((performance.now() - t0) / 1000, 1e-6);
  if (noSpace)
    return {
      exitCode: 1,
      stdout: "",
      stderr: `dd: error writing '${devName}': No space left on device\n${stats(full + 1, 0, moved, secs, full, partial)}`,
    };
  return ok(`${stats(full, partial, moved, secs)}${hash ? `sha256 ${hash.digest("hex")}\n` : ""}`);
}

function stats(
  inFull: number,
  inPartial: number,
  moved: number,
  secs: number,
  outFull = inFull,
  outPartial = inPartial,
): string {
  const mb = moved / 1e6;
  return (
    `${inFull}+${inPartial} records in\n${outFull}+${outPartial} records out\n` +
    `${moved} bytes (${mb.toFixed(1)} MB, ${(moved / 1048576).toFixed(1)} MiB) copied, ${secs.toFixed(4)} s, ${(mb / secs).toFixed(1)} MB/s\n`
  );
}
