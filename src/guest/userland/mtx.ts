import type { ScsiResult } from "../midlayer.js";
import { request, type ScsiExec, type ToolResult } from "../sg.js";

/** A data transfer element as `mtx status` shows it. */
export interface MtxDrive {
  readonly address: number;
  readonly full: boolean;
  /** 1-based storage element the cartridge came from, or 0 when unknown. */
  readonly sourceSlot: number;
  readonly volumeTag: string;
}

/** A storage (or import/export) element as `mtx status` numbers it (1-based). */
export interface MtxSlot {
  readonly number: number;
  readonly address: number;
  readonly full: boolean;
  readonly importExport: boolean;
  readonly volumeTag: string;
}

/** What a `runMtx` run learnt. */
export interface MtxData {
  readonly transportAddress: number;
  readonly drives: readonly MtxDrive[];
  readonly slots: readonly MtxSlot[];
}

/** Options of {@link runMtx}. */
export interface MtxOptions {
  /** The device in messages (mtx's `-f`), default `/dev/changer` as mtx's. */
  readonly device?: string;
}

/** mtx's `FatalError`: print and exit 1. */
class Fatal extends Error {}

/** Element status as mtx's `ReadElementStatus` builds it (storage includes import/export). */
interface ElementStatus {
  transport: number;
  dtAddress: number[];
  dtFull: boolean[];
  dtSource: number[];
  dtTag: string[];
  stAddress: number[];
  stFull: boolean[];
  stIe: boolean[];
  stTag: string[];
  ieCount: number;
}

const SENSE_KEYS = [
  "No Sense",
  "Recovered Error",
  "Not Ready",
  "Medium Error",
  "Hardware Error",
  "Illegal Request",
  "Unit Attention",
  "Data Protect",
  "Blank Check",
  "0x09",
  "0x0a",
  "Aborted Command",
  "0x0c",
  "Volume Overflow",
  "Miscompare",
  "0x0f",
];

const PERIPHERAL_TYPES = [
  "Disk Drive",
  "Tape Drive",
  "Printer",
  "Processor",
  "Write-once",
  "CD-ROM",
  "Scanner",
  "Optical",
  "Medium Changer",
];

const hex2 = (v: number) => v.toString(16).toUpperCase().padStart(2, "0");

/** mtx.h: the element counts mtx assumes when the Element Address Assignment page fails. */
const MAX_STORAGE_ELEMENTS = 64;
const MAX_TRANSFER_ELEMENTS = 2;
const MAX_TRANSPORT_ELEMENTS = 1;

/**
 * `mtx` against a medium changer through `exec`, following mtx 1.3's `mtx.c`/`mtxl.c`: it reads
 * the Element Address Assignment page, then READ ELEMENT STATUS for storage, import/export,
 * data transfer and transport elements (volume tags unless `nobarcode`), and runs `status`,
 * `inquiry`, `load <slot> [drive]`, `unload [slot] [drive]`, `transfer <from> <to>` and
 * `inventory` — several per line as mtx allows. Output is mtx's, byte for byte: two leading
 * spaces on the header, slots counted with the import/export elements ("9 Slots ( 1
 * Import/Export )" for 8 slots and a mail slot), volume tags as the changer pads them; errors as
 * mtx's FatalError (`mtx: …`, exit 1) and PrintRequestSense.
 */
export async function runMtx(
  argv: readonly string[],
  exec: ScsiExec,
  options: MtxOptions = {},
): Promise<ToolResult<MtxData>> {
  let device = options.device ?? "/dev/changer";
  let out = "";
  let err = "";
  let status: ElementStatus | null = null;
  let noBarcodes = false;
  const data = (): MtxData => ({
    transportAddress: status?.transport ?? 0,
    drives: (status?.dtAddress ?? []).map((address, i) => ({
      address,
      full: status!.dtFull[i]!,
      sourceSlot: status!.dtSource[i]! + 1,
      volumeTag: status!.dtTag[i]!,
    })),
    slots: (status?.stAddress ?? []).map((address, i) => ({
      number: i + 1,
      address,
      full: status!.stFull[i]!,
      importExport: status!.stIe[i]!,
      volumeTag: status!.stTag[i]!,
    })),
  });
  const fatal = (msg: string): never => {
    err += `mtx: ${msg}`;
    throw new Fatal(msg);
  };
  const printSense = (r: ScsiResult) => {
    err += requestSenseReport(r.sense);
  };
  const run = (cdb: number[], d: { dataOut?: Uint8Array; dataInLength?: number } = {}) =>
    exec(request(cdb, d));
  const needStatus = async (): Promise<ElementStatus> => {
    if (status) return status;
    const inq = await run([0x12, 0, 0, 0, 96, 0], { dataInLength: 96 });
    if (inq.status !== 0) {
      printSense(inq);
      fatal("INQUIRY command Failed\n");
    }
    status = await readElementStatus(run, noBarcodes, (r, msg) => {
      printSense(r);
      err += msg;
    });
    if (!status) fatal("READ ELEMENT STATUS Command Failed\n");
    if (status!.dtAddress.length === 0) fatal("no Data Transfer Element reported\n");
    if (status!.stAddress.length === 0) fatal("no Storage Elements reported\n");
    return status!;
  };
  const move = async (src: number, dst: number) => {
    const s = await needStatus();
    const r = await run([
      0xa5,
      0,
      s.transport >>> 8,
      s.transport & 0xff,
      src >>> 8,
      src & 0xff,
      dst >>> 8,
      dst & 0xff,
      0,
      0,
      0,
      0,
    ]);
    if (r.status === 0) return;
    const asc = r.sense[12] ?? 0;
    const ascq = r.sense[13] ?? 0;
    if (asc === 0x30 && ascq === 0x03) fatal("Cleaning Cartridge Installed and Ejected\n");
    if (asc === 0x3a && ascq === 0x00) fatal("Drive needs offline before move\n");
    if (asc === 0x3b && ascq === 0x0d) fatal(`Destination Element Address ${dst} is Already Full\n`);
    if (asc === 0x3b && ascq === 0x0e) fatal(`Source Element Address ${src} is Empty\n`);
    printSense(r);
    fatal(`MOVE MEDIUM from Element Address ${src} to ${dst} Failed\n`);
  };

  const argAt = (k: number): number => {
    const a = argv[k];
    return a !== undefined && /^\d/.test(a) ? Number.parseInt(a, 10) : -1;
  };

  try {
    if (argv.length === 0) fatal("Usage: mtx [ -f <loader-dev> ] command ...\n");
    for (let i = 0; i < argv.length; ) {
      const word = argv[i]!;
      if (word === "-f") {
        const d = argv[i + 1];
        if (d === undefined) fatal("Usage: mtx [ -f <loader-dev> ] command ...\n");
        device = d!;
        status = null;
        i += 2;
        continue;
      }
      i++;
      const nargs = { status: 0, inquiry: 0, inventory: 0, nobarcode: 0, load: 2, unload: 2, transfer: 2 }[
        word
      ];
      if (nargs === undefined)
        fatal(
          `unknown command '${word}' (supported: status, inquiry, inventory, nobarcode, load, unload, transfer)\n`,
        );
      let arg1 = -1;
      let arg2 = -1;
      if (nargs! > 0) {
        arg1 = argAt(i);
        if (arg1 !== -1) i++;
        if (arg1 !== -1) {
          arg2 = argAt(i);
          if (arg2 !== -1) i++;
        }
      }
      switch (word) {
        case "nobarcode":
          noBarcodes = true;
          break;
        case "inquiry": {
          const r = await run([0x12, 0, 0, 0, 96, 0], { dataInLength: 96 });
          if (r.status !== 0) {
            printSense(r);
            fatal("INQUIRY Command Failed\n");
          }
          const b = r.data;
          const str = (from: number, to: number) => Buffer.from(b.subarray(from, to)).toString("latin1");
          const type = b[0]! & 0x1f;
          out += `Product Type: ${PERIPHERAL_TYPES[type] ?? (type === 0x1f ? "Unknown" : "Reserved")}\n`;
          out += `Vendor ID: '${str(8, 16)}'\nProduct ID: '${str(16, 32)}'\nRevision: '${str(32, 36)}'\n`;
          out += `Attached Changer API: ${b[6]! & 0x08 ? "Yes" : "No"}\n`;
          break;
        }
        case "inventory": {
          const r = await run([0x07, 0, 0, 0, 0, 0]);
          if (r.status !== 0) {
            err += "mtx:inventory failed\n";
            throw new Fatal("inventory");
          }
          break;
        }
        case "status": {
          const s = await needStatus();
          out += `  Storage Changer ${device}:${s.dtAddress.length} Drives, ${s.stAddress.length} Slots ( ${s.ieCount} Import/Export )\n`;
          for (let d = 0; d < s.dtAddress.length; d++) {
            out += `Data Transfer Element ${d}:`;
            if (s.dtFull[d]) {
              out +=
                s.dtSource[d]! > -1
                  ? `Full (Storage Element ${s.dtSource[d]! + 1} Loaded)`
                  : "Full (Unknown Storage Element Loaded)";
              if (s.dtTag[d]) out += `:VolumeTag = ${s.dtTag[d]}`;
              out += "\n";
            } else {
              out += "Empty\n";
            }
          }
          for (let k = 0; k < s.stAddress.length; k++) {
            out += `      Storage Element ${k + 1}${s.stIe[k] ? " IMPORT/EXPORT" : ""}:${s.stFull[k] ? "Full " : "Empty"}`;
            if (s.stTag[k]) out += `:VolumeTag=${s.stTag[k]}`;
            out += "\n";
          }
          break;
        }
        case "load": {
          if (arg1 < 1) fatal("No source specified\n");
          const drive = Math.max(0, arg2);
          const slot = arg1 - 1;
          const s = await needStatus();
          if (slot < 0 || slot >= s.stAddress.length)
            fatal(`Invalid <storage-element-number> argument '${slot + 1}' to 'load' command\n`);
          if (drive < 0 || drive >= s.dtAddress.length)
            fatal(`illegal <drive-number> argument '${drive}' to 'load' command\n`);
          if (s.dtFull[drive])
            fatal(`Drive ${drive} Full (Storage Element ${s.dtSource[drive]! + 1} loaded)\n`);
          out += `Loading media from Storage Element ${slot + 1} into drive ${drive}...`;
          await move(s.stAddress[slot]!, s.dtAddress[drive]!);
          out += "done\n";
          s.stFull[slot] = false;
          s.dtFull[drive] = true;
          s.dtSource[drive] = slot;
          s.dtTag[drive] = s.stTag[slot]!;
          s.stTag[slot] = "";
          break;
        }
        case "unload": {
          const drive = Math.max(0, arg2);
          const s = await needStatus();
          let slot: number;
          if (arg1 < 0) {
            slot = s.dtSource[drive] ?? -1;
            if (slot < 0) fatal(`No Source for tape in drive ${drive}!\n`);
          } else {
            slot = arg1 - 1;
          }
          if (slot >= s.stAddress.length)
            fatal(`illegal <storage-element-number> argument '${slot + 1}' to 'unload' command\n`);
          if (drive < 0 || drive >= s.dtAddress.length)
            fatal(`illegal <drive-number> argument '${drive}' to 'unload' command\n`);
          if (!s.dtFull[drive]) fatal(`Data Transfer Element ${drive} is Empty\n`);
          if (s.stFull[slot]) fatal(`Storage Element ${slot + 1} is Already Full\n`);
          out += `Unloading drive ${drive} into Storage Element ${slot + 1}...`;
          await move(s.dtAddress[drive]!, s.stAddress[slot]!);
          out += "done\n";
          s.stFull[slot] = true;
          s.stTag[slot] = s.dtTag[drive]!;
          s.dtFull[drive] = false;
          s.dtTag[drive] = "";
          break;
        }
        case "transfer": {
          if (arg1 < 1) fatal("No source specified\n");
          if (arg2 < 1) fatal("No destination specified\n");
          const s = await needStatus();
          if (arg1 > s.stAddress.length) fatal("Invalid source\n");
          if (arg2 > s.stAddress.length) fatal("Invalid destination\n");
          await move(s.stAddress[arg1 - 1]!, s.stAddress[arg2 - 1]!);
          s.stFull[arg2 - 1] = s.stFull[arg1 - 1]!;
          s.stTag[arg2 - 1] = s.stTag[arg1 - 1]!;
          s.stFull[arg1 - 1] = false;
          s.stTag[arg1 - 1] = "";
          break;
        }
      }
    }
  } catch (e) {
    if (!(e instanceof Fatal)) throw e;
    return { exitCode: 1, stdout: out, stderr: err, data: data() };
  }
  return { exitCode: 0, stdout: out, stderr: err, data: data() };
}

/** mtx's `PrintRequestSense`. */
export function requestSenseReport(sense: Uint8Array): string {
  const b = (i: number) => sense[i] ?? 0;
  const yes = (v: boolean) => (v ? "yes" : "no");
  const valid = (b(0) & 0x80) !== 0;
  const code = b(0) & 0x7f;
  const sksv = (b(15) & 0x80) !== 0;
  const bpv = (b(15) & 0x08) !== 0;
  let s = "mtx: Request Sense: Long Report=yes\n";
  s += `mtx: Request Sense: Valid Residual=${yes(valid)}\n`;
  s += `mtx: Request Sense: Error Code=${code.toString(16)} (${code === 0x70 ? "Current" : code === 0x71 ? "Deferred" : "Unknown?!"})\n`;
  s += `mtx: Request Sense: Sense Key=${SENSE_KEYS[b(2) & 0x0f]}\n`;
  s += `mtx: Request Sense: FileMark=${yes((b(2) & 0x80) !== 0)}\n`;
  s += `mtx: Request Sense: EOM=${yes((b(2) & 0x40) !== 0)}\n`;
  s += `mtx: Request Sense: ILI=${yes((b(2) & 0x20) !== 0)}\n`;
  if (valid) s += `mtx: Request Sense: Residual = ${hex2(b(3))} ${hex2(b(4))} ${hex2(b(5))} ${hex2(b(6))}\n`;
  s += `mtx: Request Sense: Additional Sense Code = ${hex2(b(12))}\n`;
  s += `mtx: Request Sense: Additional Sense Qualifier = ${hex2(b(13))}\n`;
  if (sksv) s += `mtx: Request Sense: Field in Error = ${hex2(b(15) & 0x07)}\n`;
  s += `mtx: Request Sense: BPV=${yes(bpv)}\n`;
  s += `mtx: Request Sense: Error in CDB=${yes((b(15) & 0x40) !== 0)}\n`;
  s += `mtx: Request Sense: SKSV=${yes(sksv)}\n`;
  if (bpv || sksv) s += `mtx: Request Sense: Field Pointer = ${hex2(b(16))} ${hex2(b(17))}\n`;
  return s;
}

/** mtx's `copy_barcode`: the tag up to its first character outside 32..127. */
function volumeTag(b: Uint8Array, at: number): string {
  let s = "";
  for (let i = 0; i < 36; i++) {
    const c = b[at + i] ?? 0;
    if (c < 32 || c > 127) break;
    s += String.fromCharCode(c);
  }
  return s;
}

type Run = (cdb: number[], d?: { dataInLength?: number }) => Promise<ScsiResult>;

/**
 * mtx's `ReadElementStatus` (the original, per-type polling): MODE SENSE page 1Dh for the
 * element ranges, then one READ ELEMENT STATUS per type, retried without VOLTAG when a changer
 * refuses it and with a larger allocation when the report says it is longer; source storage
 * addresses translated to slot numbers (or guessed from empty slots) as mtx does.
 */
async function readElementStatus(
  run: Run,
  noBarcodes: boolean,
  report: (r: ScsiResult, msg: string) => void,
): Promise<ElementStatus | null> {
  const ms = await run([0x1a, 0x08, 0x1d, 0, 136, 0], { dataInLength: 136 });
  let mt = { start: 0, n: MAX_TRANSPORT_ELEMENTS };
  let st = { start: 0, n: MAX_STORAGE_ELEMENTS };
  let ie = { start: 0, n: 0 };
  let dt = { start: 0, n: MAX_TRANSFER_ELEMENTS };
  if (ms.status !== 0 || ms.data.length < 4) {
    // mtx reports the failure and goes on with its defaults (a pending unit attention on the
    // changer's first command is the usual cause: SG_IO does not retry it).
    report(ms, "Mode sense (0x1A) for Page 0x1D failed\n");
  } else {
    const p = ms.data.subarray(4 + ms.data[3]!);
    const w = (i: number) => ((p[i] ?? 0) << 8) | (p[i + 1] ?? 0);
    mt = { start: w(2), n: w(4) };
    st = { start: w(6), n: w(8) };
    ie = { start: w(10), n: w(12) };
    dt = { start: w(14), n: w(16) };
  }
  const elements = mt.n + st.n + ie.n + dt.n;
  const maxData = 8 + 4 * 8 + elements * 92;
  const s: ElementStatus = {
    transport: 0,
    dtAddress: [],
    dtFull: [],
    dtSource: [],
    dtTag: [],
    stAddress: [],
    stFull: [],
    stIe: [],
    stTag: [],
    ieCount: 0,
  };
  const emptySlots: number[] = [];
  const request = async (type: number, start: number, count: number): Promise<Uint8Array | null> => {
    const send = async (voltag: boolean, bytes: number) =>
      run(
        [
          0xb8,
          (voltag ? 0x10 : 0) | type,
          start >>> 8,
          start & 0xff,
          count >>> 8,
          count & 0xff,
          0,
          (bytes >>> 16) & 0xff,
          (bytes >>> 8) & 0xff,
          bytes & 0xff,
          0,
          0,
        ],
        { dataInLength: bytes },
      );
    let voltag = !noBarcodes;
    let r = await send(voltag, maxData);
    if (r.status !== 0 && ((r.sense[2] ?? 0) & 0x0f) > 1) {
      voltag = false; // no barcode reader: ask again without volume tags
      r = await send(false, maxData);
    }
    if (r.status !== 0) {
      report(r, "");
      return null;
    }
    const real = ((r.data[5] ?? 0) << 16) + ((r.data[6] ?? 0) << 8) + (r.data[7] ?? 0) + 8;
    let asked = maxData;
    if (real > maxData) {
      asked = real;
      r = await send(voltag, real);
      if (r.status !== 0) return null;
    }
    // mtx parses its whole zeroed allocation (xzmalloc), not just the bytes that arrived: a
    // changer that sends fewer than its byte count says (tgtd drops a descriptor's last 8) still
    // reads as zeros there, as on Linux.
    const buf = new Uint8Array(Math.max(asked, r.data.length));
    buf.set(r.data);
    return buf;
  };
  const parse = (b: Uint8Array) => {
    let at = 8;
    let left = (b[2]! << 8) | b[3]!;
    while (left > 0 && at + 8 <= b.length) {
      const type = b[at]!;
      const pvoltag = (b[at + 1]! & 0x80) !== 0;
      const len = (b[at + 2]! << 8) | b[at + 3]!;
      let bytes = (b[at + 5]! << 16) | (b[at + 6]! << 8) | b[at + 7]!;
      at += 8;
      if (bytes <= 0 || len < 4) {
        left--;
        continue;
      }
      while (bytes > 0 && at + len <= b.length) {
        const d = b.subarray(at, at + len);
        const address = (d[0]! << 8) | d[1]!;
        const full = (d[2]! & 0x01) !== 0;
        const tag = len > 11 && pvoltag ? volumeTag(d, 12) : "";
        if (type === 1) s.transport = address;
        else if (type === 2) {
          if (!full) emptySlots.push(s.stAddress.length);
          s.stAddress.push(address);
          s.stFull.push(full);
          s.stIe.push(false);
          s.stTag.push(tag);
        } else if (type === 3) {
          s.stAddress.push(address);
          s.stFull.push(full);
          s.stIe.push(true);
          s.stTag.push(tag);
          s.ieCount++;
        } else if (type === 4) {
          s.dtAddress.push(address);
          s.dtFull.push(full);
          s.dtSource.push((d[10]! << 8) | d[11]!);
          s.dtTag.push(tag);
        }
        at += len;
        bytes -= len;
        left--;
      }
    }
  };
  for (const [type, range] of [
    [2, st],
    [3, ie],
    [4, dt],
    [1, { start: mt.start, n: Math.min(mt.n, 1) }],
  ] as const) {
    if (range.n === 0) continue;
    const b = await request(type, range.start, range.n);
    if (!b) return null;
    parse(b);
  }
  // Source addresses → slot indexes; a source that is not an empty slot is unknown, and mtx
  // then guesses the first empty slots for such drives.
  for (let i = 0; i < s.dtAddress.length; i++) {
    if (!s.dtFull[i]) continue;
    const raw = s.dtSource[i]!;
    s.dtSource[i] = -1;
    for (let j = 0; j < s.stAddress.length; j++)
      if (raw === s.stAddress[j] && !s.stFull[j]) s.dtSource[i] = j;
  }
  let guess = 0;
  for (let i = 0; i < s.dtAddress.length; i++) {
    if (s.dtFull[i] && s.dtSource[i]! < 0) s.dtSource[i] = emptySlots[guess++] ?? -1;
  }
  return s;
}
