import type { ScsiExec, ToolResult } from "../sg.js";
import {
  GMT_BOT,
  GMT_CLN,
  GMT_DR_OPEN,
  GMT_EOD,
  GMT_EOF,
  GMT_EOT,
  GMT_IM_REP_EN,
  GMT_ONLINE,
  GMT_SM,
  GMT_WR_PROT,
  StError,
  type StState,
  StTape,
} from "../st.js";

/** What `mt status` reports, as data. */
export interface MtStatus {
  readonly fileno: number;
  readonly blkno: number;
  readonly partition: number;
  readonly blockSize: number;
  readonly density: number;
  readonly densityName: string;
  readonly gstat: number;
  readonly flags: readonly string[];
}

/** What a `runMt` run produced besides text. */
export interface MtData {
  /** The command run (after abbreviation), or null on a usage error. */
  readonly command: string | null;
  /** `status`'s report. */
  readonly status?: MtStatus;
  /** `tell`'s block. */
  readonly block?: number;
  /** The errno of a failed operation. */
  readonly errno?: string;
}

/** Options of {@link runMt}. */
export interface MtOptions {
  /** The device name in messages (mt's `-f`), default `/dev/nst0`. */
  readonly device?: string;
  /** The st driver's state for this device, kept by the caller between runs. */
  readonly state?: StState;
}

/** mt-st's density names (`mt.c` density_tbl), those a pvscsi drive can report. */
const DENSITIES: Record<number, string> = {
  0: "default",
  64: "DLT1 40 GB, or Ultrium",
  66: "LTO-2",
  68: "LTO-3",
  70: "LTO-4",
  88: "LTO-5",
  90: "LTO-6",
  92: "LTO-7",
  93: "LTO-7-M8",
  94: "LTO-8",
};

type Op = "status" | "count" | "none";

/** mt-st's commands (`mt.c` cmds[]): name, argument kind, open for writing, needs a tape. */
const COMMANDS: ReadonlyArray<readonly [string, Op, boolean, boolean]> = [
  ["weof", "count", true, true],
  ["wset", "count", true, true],
  ["eof", "count", true, true],
  ["fsf", "count", false, true],
  ["fsfm", "count", false, true],
  ["bsf", "count", false, true],
  ["bsfm", "count", false, true],
  ["fsr", "count", false, true],
  ["bsr", "count", false, true],
  ["rewind", "none", false, true],
  ["offline", "none", false, true],
  ["rewoffl", "none", false, true],
  ["eject", "none", false, true],
  ["retension", "none", false, true],
  ["eod", "none", false, true],
  ["seod", "none", false, true],
  ["seek", "count", false, true],
  ["tell", "none", false, true],
  ["status", "status", false, false],
  ["erase", "count", true, true],
  ["setblk", "count", false, false],
  ["lock", "none", false, true],
  ["unlock", "none", false, true],
  ["load", "count", false, false],
  ["compression", "count", false, false],
  ["setdensity", "count", false, false],
];

const USAGE = "usage: mt [-v] [--version] [-h] [ -f device ] command [ count ]\n";

/**
 * `mt` (mt-st) against a tape through `exec`: `status`, `rewind`, `fsf`/`bsf`/`fsr`/`bsr N`,
 * `weof N`, `eod`, `erase`, `load`, `unload`/`offline`/`eject`, `setblk N`, `tell`, `seek N`,
 * `lock`/`unlock`, `compression N`, `setdensity N`. Commands may be abbreviated as mt-st allows;
 * counts take mt-st's k/M/G suffixes. Output and exit codes are mt-st's: a failed operation
 * prints `<device>: <strerror>` and exits 2; `status` prints mt-st's report.
 */
export async function runMt(
  argv: readonly string[],
  exec: ScsiExec,
  options: MtOptions = {},
): Promise<ToolResult<MtData>> {
  let device = options.device ?? "/dev/nst0";
  let out = "";
  let err = "";
  const done = (exitCode: number, data: MtData): ToolResult<MtData> => ({
    exitCode,
    stdout: out,
    stderr: err,
    data,
  });
  let i = 0;
  for (; i < argv.length && argv[i]!.startsWith("-"); i++) {
    const a = argv[i]!;
    if (a === "-f" || a === "-t") {
      const d = argv[++i];
      if (d === undefined) {
        err += USAGE;
        return done(1, { command: null });
      }
      device = d;
    } else if (a === "-v" || a === "--version") {
      out += "mt-st v. 1.1 (pvscsi)\n";
      return done(0, { command: null });
    } else {
      err += USAGE;
      return done(a === "-h" ? 0 : 1, { command: null });
    }
  }
  const word = argv[i++];
  if (word === undefined) {
    err += USAGE;
    return done(1, { command: null });
  }
  const matches = COMMANDS.filter(([name]) => name.startsWith(word));
  const exact = matches.find(([name]) => name === word);
  const cmd = exact ?? (matches.length === 1 ? matches[0] : undefined);
  if (!cmd) {
    err += matches.length > 1 ? `mt: ambiguous command "${word}"\n` : `mt: unknown command "${word}"\n`;
    err += USAGE;
    return done(1, { command: null });
  }
  const [name, kind, write, online] = cmd;
  const rest = argv.slice(i);
  if (rest.length > (kind === "count" ? 1 : 0)) {
    err += `mt: too many arguments for the command '${name}'.\n`;
    return done(1, { command: name });
  }
  let count = 1;
  if (kind === "count" && rest.length === 1) {
    const m = /^(-?(?:0x[0-9a-f]+|\d+))([kMG]?)$/i.exec(rest[0]!);
    count = m ? Number(m[1]) * ({ "": 1, k: 1024, K: 1024, M: 1 << 20, G: 1 << 30 }[m[2]!] ?? 1) : 0;
    if (count < 0) {
      err += "mt: negative repeat count\n";
      return done(1, { command: name });
    }
  }
  const tape = new StTape(exec, options.state);
  try {
    await tape.open({ write, nonBlocking: !online });
  } catch (e) {
    if (!(e instanceof StError)) throw e;
    // mt-st: open(2) failed → perror(tape_name), exit(1).
    err += `${device}: ${e.message}\n`;
    return done(1, { command: name, errno: e.errno });
  }
  try {
    switch (name) {
      case "status": {
        const status = statusOf(tape);
        out += formatStatus(status);
        return done(0, { command: name, status });
      }
      case "tell": {
        const block = await tape.tell();
        out += `At block ${block}.\n`;
        return done(0, { command: name, block });
      }
      case "weof":
      case "eof":
        await tape.weof(count);
        break;
      case "wset":
        throw new StError("EINVAL"); // setmarks are not supported by LTO
      case "fsf":
      case "fsfm":
        await tape.fsf(count);
        if (name === "fsfm") await tape.bsf(1);
        break;
      case "bsf":
      case "bsfm":
        await tape.bsf(count);
        if (name === "bsfm") await tape.fsf(1);
        break;
      case "fsr":
        await tape.fsr(count);
        break;
      case "bsr":
        await tape.bsr(count);
        break;
      case "rewind":
      case "retension":
        await tape.rewind();
        break;
      case "offline":
      case "rewoffl":
      case "eject":
        await tape.offline();
        break;
      case "eod":
      case "seod":
        await tape.eod();
        break;
      case "seek":
        await tape.seek(count);
        break;
      case "erase":
        await tape.erase();
        break;
      case "setblk":
        await tape.setBlock(count);
        break;
      case "setdensity":
        await tape.setBlock(tape.blockSize, count);
        break;
      case "lock":
      case "unlock":
        await tape.lock(name === "lock");
        break;
      case "load":
        await tape.load();
        break;
      case "compression":
        await tape.compression(count !== 0);
        break;
    }
    return done(0, { command: name });
  } catch (e) {
    if (!(e instanceof StError)) throw e;
    // mt-st's do_standard: perror(tape_name), return 2; test_error explains an offline device.
    err += `${device}: ${e.message}\n`;
    if (online && tape.ready !== "ready") err += "mt: The device is offline (not powered on, no tape ?).\n";
    return done(2, { command: name, errno: e.errno });
  }
}

function statusOf(tape: StTape): MtStatus {
  const g = tape.gstat;
  const names: Array<[number, string]> = [
    [GMT_EOF, "EOF"],
    [GMT_BOT, "BOT"],
    [GMT_EOT, "EOT"],
    [GMT_SM, "SM"],
    [GMT_EOD, "EOD"],
    [GMT_WR_PROT, "WR_PROT"],
    [GMT_ONLINE, "ONLINE"],
    [GMT_DR_OPEN, "DR_OPEN"],
    [GMT_IM_REP_EN, "IM_REP_EN"],
    [GMT_CLN, "CLN"],
  ];
  return {
    fileno: tape.state.fileno,
    blkno: tape.state.blkno,
    partition: 0,
    blockSize: tape.blockSize,
    density: tape.density,
    densityName: DENSITIES[tape.density] ?? "no translation",
    gstat: g,
    flags: names.filter(([bit]) => (g & bit) !== 0).map(([, n]) => n),
  };
}

/** mt-st's `do_status` output for a SCSI-2 drive. */
export function formatStatus(s: MtStatus): string {
  return (
    "SCSI 2 tape drive:\n" +
    `File number=${s.fileno}, block number=${s.blkno}, partition=${s.partition}.\n` +
    `Tape block size ${s.blockSize} bytes. Density code 0x${s.density.toString(16)} (${s.densityName}).\n` +
    "Soft error count since last status=0\n" +
    `General status bits on (${s.gstat.toString(16)}):\n` +
    `${s.flags.map((f) => ` ${f}`).join("")}\n`
  );
}
