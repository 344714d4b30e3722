import { createHash } from "node:crypto";
import { SENSE_KEY_NAMES } from "../../scsi/sense.js";
import type { ScsiResult } from "../../scsifront/scsi-host.js";
import type { VscsiifRequest } from "../../vscsiif/request.js";
import type { GuestScsi, GuestScsiDevice } from "../midlayer.js";
import { bindScsiHost, senseOf, senseText } from "../scsi-exec.js";
import { newStState, type StState } from "../st.js";
import type { CommandResult, GuestCommand } from "./command.js";
import { iobenchCommand } from "./iobench.js";
import { runMt } from "./mt.js";
import { runMtx } from "./mtx.js";
import { runTar } from "./tar.js";

const ok = (stdout: string): CommandResult => ({ exitCode: 0, stdout, stderr: "" });
const fail = (stderr: string, exitCode = 1): CommandResult => ({
  exitCode,
  stdout: "",
  stderr: stderr.endsWith("\n") ? stderr : `${stderr}\n`,
});

/** `cat /proc/scsi/scsi` (the only file the guest shell knows). */
async function cat(argv: readonly string[], scsi: GuestScsi): Promise<CommandResult> {
  if (argv.length !== 1 || argv[0] !== "/proc/scsi/scsi")
    return fail(`cat: ${argv.join(" ") || "(no file)"}: only /proc/scsi/scsi exists in this guest`);
  return ok(scsi.procScsi());
}

async function lsscsi(argv: readonly string[], scsi: GuestScsi): Promise<CommandResult> {
  const bad = argv.find((a) => a !== "-g" && a !== "--generic");
  if (bad !== undefined) return fail(`lsscsi: unrecognised option '${bad}' (supported: -g)`);
  return ok(scsi.lsscsi(argv.length > 0));
}

/** A CHECK CONDITION or transport failure, in words. */
export function describeFailure(r: ScsiResult): string {
  if (r.host !== 0)
    return `host byte 0x${r.host.toString(16).padStart(2, "0")} (${HOST_NAMES[r.host] ?? "unknown"})`;
  const sense = r.status === 0x02 ? senseOf(r) : null;
  if (sense) return `CHECK CONDITION, sense ${senseText(r)} (${SENSE_KEY_NAMES[sense.key] ?? "?"})`;
  return `status 0x${hex2(r.status)}`;
}

const HOST_NAMES: Record<number, string> = {
  1: "DID_NO_CONNECT",
  2: "DID_BUS_BUSY",
  3: "DID_TIME_OUT",
  5: "DID_ABORT",
  7: "DID_ERROR",
  8: "DID_RESET",
};
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

function hex2(n: number): string {
  return n.toString(16).padStart(2, "0");
}

function ascii(b: Uint8Array, off: number, len: number): string {
  let s = "";
  for (let i = off; i < Math.min(off + len, b.length); i++)
    s += b[i]! >= 0x20 && b[i]! < 0x7f ? String.fromCharCode(b[i]!) : " ";
  return s.trimEnd();
}

function device(scsi: GuestScsi, name: string | undefined, tool: string): GuestScsiDevice | CommandResult {
  if (name === undefined) return fail(`${tool}: missing device (e.g. /dev/sda, /dev/sg0)`);
  try {
    return scsi.resolve(name);
  } catch (e) {
    return fail(`${tool}: ${e instanceof Error ? e.message : e}`);
  }
}

type Address = ReturnType<GuestScsi["resolveAddress"]>;

/** A device name, or any h:c:t:l on an existing host (SG_IO-style addressing). */
function address(scsi: GuestScsi, name: string | undefined, tool: string): Address | CommandResult {
  if (name === undefined) return fail(`${tool}: missing device (e.g. /dev/sda, /dev/sg0, 0:0:1:0)`);
  try {
    return scsi.resolveAddress(name);
  } catch (e) {
    return fail(`${tool}: ${e instanceof Error ? e.message : e}`);
  }
}

/** `sg_inq <device>`: the standard INQUIRY decoded as sg3_utils prints it, plus VPD 0x80/0x83. */
async function sgInq(argv: readonly string[], scsi: GuestScsi): Promise<CommandResult> {
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

/** `sg_luns [-s N] <device>`: REPORT LUNS, listed as sg3_utils' sg_luns prints them (8-byte LUNs in hex). */
async function sgLuns(argv: readonly string[], scsi: GuestScsi): Promise<CommandResult> {
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

/** `sg_reset -d <device>`: a device (LUN) reset through the host (`VSCSIIF_ACT_SCSI_RESET`). */
async function sgReset(argv: readonly string[], scsi: GuestScsi): Promise<CommandResult> {
  if (!argv.includes("-d") && !argv.includes("--device"))
    return fail("sg_reset: only a device reset is supported: sg_reset -d <device>");
  const dev = address(
    scsi,
    argv.find((a) => !a.startsWith("-")),
    "sg_reset",
  );
  if ("exitCode" in dev) return dev;
  const done = await dev.host.reset(dev.channel, dev.id, dev.lun);
  return done
    ? ok("sg_reset: starting device reset\nsg_reset: completed device reset\n")
    : fail("sg_reset: device reset failed (0x2003)");
}

/**
 * `vscsiif-send <h:c:t:l> [field=value ...]`: a protocol developer's probe. Builds a request
 * (a TEST UNIT READY unless `cdb=` says otherwise), lets any field of `struct vscsiif_request`
 * be overridden — `act`, `cmd_len`, `sc_data_direction`, `nr_segments`, `ref_rqid`,
 * `timeout_per_command`, `rqid`, `seg<i>=gref:offset:length` — puts it on the ring and prints
 * the raw response. `--overflow=N` instead pushes `req_prod` N slots past what was produced
 * (a hostile frontend) and notifies the backend.
 */
async function vscsiifSend(argv: readonly string[], scsi: GuestScsi): Promise<CommandResult> {
  const target = argv[0];
  const dev = address(scsi, target, "vscsiif-send");
  if ("exitCode" in dev) return dev;
  const fields = new Map<string, string>();
  let overflow = 0;
  for (const a of argv.slice(1)) {
    if (a.startsWith("--overflow=")) {
      overflow = Number(a.slice(11));
      continue;
    }
    const eq = a.indexOf("=");
    if (eq < 1) return fail(`vscsiif-send: expected field=value, got '${a}'`);
    fields.set(a.slice(0, eq), a.slice(eq + 1));
  }
  if (overflow > 0) {
    const ring = dev.host.frontend.sharedRing;
    if (!ring) return fail("vscsiif-send: the controller is not connected");
    ring.reqProd = (ring.reqProd + overflow) >>> 0;
    dev.host.frontend.kick();
    return ok(`req_prod advanced by ${overflow} to ${ring.reqProd} (past the ring); backend notified\n`);
  }
  const num = (k: string) => {
    const v = fields.get(k);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${k}=${v} is not an unsigned integer`);
    return n;
  };
  const cdbHex = fields.get("cdb") ?? "000000000000";
  if (!/^([0-9a-fA-F]{2}){1,16}$/.test(cdbHex)) return fail("vscsiif-send: cdb= takes 1 to 16 bytes in hex");
  const cdb = Array.from(Buffer.from(cdbHex, "hex"));
  let patch: (r: VscsiifRequest) => void;
  try {
    const act = num("act");
    const cmdLen = num("cmd_len");
    const dir = num("sc_data_direction") ?? num("dir");
    const nrSeg = num("nr_segments");
    const ref = num("ref_rqid");
    const timeout = num("timeout_per_command");
    const rqid = num("rqid");
    const segs: Array<[number, number, number, number]> = [];
    for (const [k, v] of fields) {
      const m = /^seg(\d+)$/.exec(k);
      if (!m) continue;
      const parts = v.split(":").map(Number);
      if (parts.length !== 3 || parts.some((x) => !Number.isInteger(x) || x < 0))
        throw new Error(`${k}=${v}: expected gref:offset:length`);
      segs.push([Number(m[1]), parts[0]!, parts[1]!, parts[2]!]);
    }
    const known = new Set([
      "act",
      "cmd_len",
      "sc_data_direction",
      "dir",
      "nr_segments",
      "ref_rqid",
      "timeout_per_command",
      "rqid",
      "cdb",
    ]);
    for (const k of fields.keys())
      if (!known.has(k) && !/^seg\d+$/.test(k)) throw new Error(`unknown field '${k}'`);
    patch = (r) => {
      if (act !== undefined) r.act = act;
      if (cmdLen !== undefined) r.cmdLen = cmdLen;
      if (dir !== undefined) r.scDataDirection = dir;
      if (nrSeg !== undefined) r.nrSegments = nrSeg;
      if (ref !== undefined) r.refRqid = ref;
      if (timeout !== undefined) r.timeoutPerCommand = timeout;
      if (rqid !== undefined) r.rqid = rqid;
      for (const [i, gref, off, len] of segs) if (i < 26) r.setSeg(i, gref, off, len);
    };
  } catch (e) {
    return fail(`vscsiif-send: ${e instanceof Error ? e.message : e}`);
  }
  const c = await dev.host.executeRaw({ channel: dev.channel, id: dev.id, lun: dev.lun, cdb }, patch);
  const state = dev.host.frontend.state;
  const hostByte = (c.rslt >>> 16) & 0xff;
  return ok(
    `rslt=0x${(c.rslt >>> 0).toString(16).padStart(8, "0")} (host ${hostByte}${HOST_NAMES[hostByte] ? ` ${HOST_NAMES[hostByte]}` : ""}, status 0x${hex2(c.rslt & 0xff)}) ` +
      `sense_len=${c.senseLength}${c.senseLength > 0 ? ` sense=${Buffer.from(c.sense.subarray(0, c.senseLength)).toString("hex")}` : ""} residual_len=${c.residual}\n` +
      (state === "error" ? `scsifront: host in error state: ${dev.host.frontend.errorReason}\n` : ""),
  );
}

/** READ CAPACITY(10) or (16); null and a message on failure. */
async function capacity(
  scsi: GuestScsi,
  dev: GuestScsiDevice,
  long: boolean,
): Promise<{ blocks: bigint; blockSize: number } | string> {
  if (!long) {
    const r = await scsi.execute(dev, { cdb: [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], dataInLength: 8 });
    if (r.host !== 0 || r.status !== 0 || r.data.length < 8)
      return `READ CAPACITY(10) failed: ${describeFailure(r)}`;
    const dv = new DataView(r.data.buffer, r.data.byteOffset, 8);
    const last = dv.getUint32(0);
    if (last !== 0xffffffff) return { blocks: BigInt(last) + 1n, blockSize: dv.getUint32(4) };
  }
  const r = await scsi.execute(dev, {
    cdb: [0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0],
    dataInLength: 32,
  });
  if (r.host !== 0 || r.status !== 0 || r.data.length < 12)
    return `READ CAPACITY(16) failed: ${describeFailure(r)}`;
  const dv = new DataView(r.data.buffer, r.data.byteOffset, 12);
  return { blocks: dv.getBigUint64(0) + 1n, blockSize: dv.getUint32(8) };
}

/** `sg_readcap [--16] <device>`. */
async function sgReadcap(argv: readonly string[], scsi: GuestScsi): Promise<CommandResult> {
  const dev = device(
    scsi,
    argv.find((a) => !a.startsWith("-")),
    "sg_readcap",
  );
  if ("exitCode" in dev) return dev;
  const cap = await capacity(scsi, dev, argv.includes("--16") || argv.includes("-l"));
  if (typeof cap === "string") return fail(`sg_readcap: ${cap}`);
  const bytes = cap.blocks * BigInt(cap.blockSize);
  const mib = Number(bytes) / 1048576;
  return ok(
    [
      "Read Capacity results:",
      `   Last LBA=${cap.blocks - 1n} (0x${(cap.blocks - 1n).toString(16)}), Number of logical blocks=${cap.blocks}`,
      `   Logical block length=${cap.blockSize} bytes`,
      "Hence:",
      `   Device size: ${bytes} bytes, ${mib.toFixed(1)} MiB, ${(Number(bytes) / 1e9).toFixed(2)} GB`,
      "",
    ].join("\n"),
  );
}

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
async function dd(argv: readonly string[], scsi: GuestScsi): Promise<CommandResult> {
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
  const chunkMax = Math.max(
    cap.blockSize,
    Math.floor(dev.host.frontend.maxTransfer / cap.blockSize) * cap.blockSize,
  );
  const t0 = performance.now();
  let moved = 0;
  let records = 0;
  for (let rec = 0; rec < countN; rec++) {
    let lba = (startN + rec) * (bsN / cap.blockSize);
    if (BigInt(lba) + BigInt(bsN / cap.blockSize) > cap.blocks) break;
    for (let done = 0; done < bsN; ) {
      const n = Math.min(chunkMax, bsN - done);
      const blocks = n / cap.blockSize;
      const cdb = rw16(reading ? 0x88 : 0x8a, lba, blocks);
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

function rw16(op: number, lba: number, blocks: number): number[] {
  const hi = Math.floor(lba / 2 ** 32);
  const lo = lba >>> 0;
  return [
    op,
    0,
    hi >>> 24,
    (hi >>> 16) & 255,
    (hi >>> 8) & 255,
    hi & 255,
    lo >>> 24,
    (lo >>> 16) & 255,
    (lo >>> 8) & 255,
    lo & 255,
    blocks >>> 24,
    (blocks >>> 16) & 255,
    (blocks >>> 8) & 255,
    blocks & 255,
    0,
    0,
  ];
}

/** The st driver's per-device state (block size, file and block numbers), kept between commands as the kernel keeps it. */
const stStates = new WeakMap<GuestScsiDevice, StState>();

function stState(dev: GuestScsiDevice): StState {
  let s = stStates.get(dev);
  if (!s) {
    s = newStState();
    stStates.set(dev, s);
  }
  return s;
}

/**
 * The device a tool's argv names with `-f` (or mt's `-t`), also inside grouped flags as tar
 * takes them (`-cvf /dev/nst0`, `-xf/dev/nst0`); else `fallback`.
 */
function deviceArg(
  argv: readonly string[],
  letters: string,
  fallback: string | undefined,
): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith("-") || a.startsWith("--") || a.length < 2) continue;
    for (let k = 1; k < a.length; k++) {
      if (!letters.includes(a[k]!)) continue;
      return k + 1 < a.length ? a.slice(k + 1) : argv[i + 1];
    }
  }
  return fallback;
}

/** Tape tools: bind the tool to the device it names, over this guest's scsifront. */
function tapeTool(
  tool: string,
  letters: string,
  defaultDevice: (scsi: GuestScsi) => string | undefined,
  run: typeof runMt | typeof runMtx | typeof runTar,
): GuestCommand {
  return async (argv, scsi) => {
    const name = deviceArg(argv, letters, defaultDevice(scsi));
    const dev = device(scsi, name, tool);
    if ("exitCode" in dev) return dev;
    const r = await run(argv, bindScsiHost(dev.host, dev), { device: name!, state: stState(dev) });
    return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
  };
}

const firstTape = (scsi: GuestScsi) => scsi.list().find((d) => d.type === 1)?.nonRewindNode ?? "/dev/nst0";
const firstChanger = (scsi: GuestScsi) => scsi.list().find((d) => d.type === 8)?.devNode ?? "/dev/sch0";

/** The guest's commands, by name. Other modules (tape tools) add theirs with {@link registerGuestCommand}. */
const commands = new Map<string, GuestCommand>([
  ["cat", cat],
  ["lsscsi", lsscsi],
  ["sg_inq", sgInq],
  ["sg_readcap", sgReadcap],
  ["sg_luns", sgLuns],
  ["sg_reset", sgReset],
  ["vscsiif-send", vscsiifSend],
  ["iobench", iobenchCommand],
  ["dd", dd],
  ["mt", tapeTool("mt", "ft", firstTape, runMt)],
  ["mtx", tapeTool("mtx", "f", firstChanger, runMtx)],
  ["tar", tapeTool("tar", "f", firstTape, runTar)],
]);

/** Make `name` runnable in the guest shell. */
export function registerGuestCommand(name: string, command: GuestCommand): void {
  commands.set(name, command);
}

/** Names of the commands the guest shell knows. */
export function guestCommandNames(): string[] {
  return [...commands.keys()].sort();
}

/** Run `argv` in the guest. Unknown commands and thrown errors become exit codes, never exceptions. */
export async function runGuestCommand(argv: readonly string[], scsi: GuestScsi): Promise<CommandResult> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help") {
    return ok(`guest commands: ${guestCommandNames().join(", ")}\n`);
  }
  const cmd = commands.get(name);
  if (!cmd)
    return fail(`${name}: command not found (guest commands: ${guestCommandNames().join(", ")})`, 127);
  try {
    return await cmd(rest, scsi);
  } catch (e) {
    return fail(`${name}: ${e instanceof Error ? e.message : String(e)}`);
  }
}
