import type { GuestScsi } from "../midlayer.js";
import { address, ascii, describeFailure, fail, hex2, ok } from "./_common.js";
import type { CommandResult } from "./command.js";

/** sg_inq's names of the peripheral device types (SPC-4 §6.4.2). */
const PDT_NAMES = [
  "disk",
  "tape",
  "printer",
  "processor",
  "write once optical disk",
  "cd/dvd",
  "scanner",
  "optical memory device",
  "medium changer",
  "communications",
];

/** `sg_inq <device>`: the standard INQUIRY decoded as sg3_utils prints it, plus VPD 0x80/0x83. */
export async function sgInq(argv: readonly string[], scsi: GuestScsi): Promise<CommandResult> {
  const dev = address(
    scsi,
    argv.find((a) => !a.startsWith("-")),
    "sg_inq",
  );
  if ("exitCode" in dev) return dev;
  const io = (cdb: number[], n: number) =>
    dev.host.execute({ channel: dev.channel, id: dev.id, lun: dev.lun, cdb, dataInLength: n });
  const r = await io([0x12, 0, 0, 0, 96, 0], 96);
  if (r.host !== 0 || r.status !== 0) return fail(`sg_inq: INQUIRY failed: ${describeFailure(r)}`);
  const d = r.data;
  const b = (i: number) => d[i] ?? 0;
  const pdt = b(0) & 0x1f;
  const lines = [
    "standard INQUIRY:",
    `  PQual=${b(0) >> 5}  PDT=${pdt}  RMB=${b(1) >> 7}  LU_CONG=${(b(1) >> 6) & 1}  hot_pluggable=${(b(1) >> 4) & 3}  version=0x${hex2(b(2))}  ${VERSIONS[b(2)] ?? ""}`.trimEnd(),
    `  [AERC=${b(3) >> 7}]  [TrmTsk=${(b(3) >> 6) & 1}]  NormACA=${(b(3) >> 5) & 1}  HiSup=${(b(3) >> 4) & 1}  Resp_data_format=${b(3) & 0x0f}`,
    `  SCCS=${b(5) >> 7}  ACC=${(b(5) >> 6) & 1}  TPGS=${(b(5) >> 4) & 3}  3PC=${(b(5) >> 3) & 1}  Protect=${b(5) & 1}  [BQue=${b(6) >> 7}]`,
    `  EncServ=${(b(6) >> 6) & 1}  MultiP=${(b(6) >> 4) & 1}  [MChngr=${(b(6) >> 3) & 1}]  [ACKREQQ=${(b(6) >> 2) & 1}]  Addr16=${b(6) & 1}`,
    `  [RelAdr=${b(7) >> 7}]  WBus16=${(b(7) >> 5) & 1}  Sync=${(b(7) >> 4) & 1}  [Linked=${(b(7) >> 3) & 1}]  [TranDis=${(b(7) >> 2) & 1}]  CmdQue=${(b(7) >> 1) & 1}`,
    `    length=${b(4) + 5} (0x${hex2(b(4) + 5)})   Peripheral device type: ${PDT_NAMES[pdt] ?? `0x${hex2(pdt)}`}`,
    ` Vendor identification: ${ascii(d, 8, 8)}`,
    ` Product identification: ${ascii(d, 16, 16)}`,
    ` Product revision level: ${ascii(d, 32, 4)}`,
  ];
  const serial = await io([0x12, 1, 0x80, 0, 252, 0], 252);
  if (serial.status === 0 && serial.host === 0 && serial.data.length > 4) {
    lines.push(` Unit serial number: ${ascii(serial.data, 4, serial.data[3] ?? 0).trim()}`);
  }
  const ids = await io([0x12, 1, 0x83, 0, 252, 0], 252);
  if (ids.status === 0 && ids.host === 0 && ids.data.length > 4) {
    const v = ids.data;
    const end = Math.min(v.length, 4 + ((v[2]! << 8) | v[3]!));
    for (let at = 4; at + 4 <= end; ) {
      const len = v[at + 3]!;
      const type = v[at + 1]! & 0x0f;
      const body = v.subarray(at + 4, Math.min(end, at + 4 + len));
      const assoc = (v[at + 1]! >> 4) & 3;
      if (type === 3)
        lines.push(
          `  ${assoc === 1 ? "Target port" : "Logical unit"} NAA: 0x${Buffer.from(body).toString("hex")}`,
        );
      else if (type === 1) lines.push(`  T10 vendor identification: ${ascii(body, 0, body.length)}`);
      at += 4 + len;
    }
  }
  return ok(`${lines.join("\n")}\n`);
}

const VERSIONS: Record<number, string> = {
  3: "[SPC]",
  4: "[SPC-2]",
  5: "[SPC-3]",
  6: "[SPC-4]",
  7: "[SPC-5]",
};
