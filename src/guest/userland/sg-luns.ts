import type { GuestScsi } from "../midlayer.js";
import { address, describeFailure, fail, hex2, ok } from "./_common.js";
import type { CommandResult } from "./command.js";

/** `sg_luns [-s N] <device>`: REPORT LUNS, listed as sg3_utils' sg_luns prints them (8-byte LUNs in hex). */
export async function sgLuns(argv: readonly string[], scsi: GuestScsi): Promise<CommandResult> {
  let select = 0;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "-s" || argv[i] === "--select") select = Number(argv[++i]);
    else rest.push(argv[i]!);
  }
  if (!Number.isInteger(select) || select < 0 || select > 255)
    return fail("sg_luns: --select must be 0..255");
  const dev = address(scsi, rest[0], "sg_luns");
  if ("exitCode" in dev) return dev;
  const alloc = 8192;
  const r = await dev.host.execute({
    channel: dev.channel,
    id: dev.id,
    lun: dev.lun,
    cdb: [0xa0, 0, select, 0, 0, 0, 0, 0, alloc >> 8, 0, 0, 0],
    dataInLength: alloc,
  });
  if (r.host !== 0 || r.status !== 0) return fail(`sg_luns: REPORT LUNS failed: ${describeFailure(r)}`);
  const d = r.data;
  const listLen = d.length >= 4 ? ((d[0]! << 24) | (d[1]! << 16) | (d[2]! << 8) | d[3]!) >>> 0 : 0;
  const n = Math.floor(listLen / 8);
  let out = `Lun list length = ${listLen} which imples ${n} lun entr${n === 1 ? "y" : "ies"}\nReport luns [select_report=0x${hex2(select)}]:\n`;
  for (let i = 0; i < n && 8 + 8 * i + 8 <= d.length; i++) {
    out += `    ${Buffer.from(d.subarray(8 + 8 * i, 16 + 8 * i)).toString("hex")}\n`;
  }
  return ok(out);
}
