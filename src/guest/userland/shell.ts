import type { GuestFs } from "../guest-fs.js";
import type { GuestScsi } from "../midlayer.js";
import { fail, ok } from "./_common.js";
import { firstChanger, firstTape, tapeTool } from "./_tape-tool.js";
import { USAGES } from "./_usage.js";
import { cat } from "./cat.js";
import type { CommandResult, GuestCommand } from "./command.js";
import { fioCommand } from "./fio.js";
import { iobenchCommand } from "./iobench.js";
import { ISCSI_TARGET_USAGE, iscsiTarget } from "./iscsi-target.js";
import { lsscsi } from "./lsscsi.js";
import { runMt } from "./mt.js";
import { runMtx } from "./mtx.js";
import { sgInq } from "./sg-inq.js";
import { sgLuns } from "./sg-luns.js";
import { sgReadcap } from "./sg-readcap.js";
import { sgReset } from "./sg-reset.js";
import { runTar } from "./tar.js";
import { vscsiifSend } from "./vscsiif-send.js";
import { ddAny, lsblk } from "./xvd.js";

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
  ["dd", ddAny], // sdX through the SCSI dd, xvdX through the block layer
  ["lsblk", lsblk],
  ["fio", fioCommand],
  ["mt", tapeTool("mt", "ft", firstTape, runMt)],
  ["mtx", tapeTool("mtx", "f", firstChanger, runMtx)],
  ["tar", tapeTool("tar", "f", firstTape, runTar)],
]);

/** Usage texts of commands added with {@link registerGuestCommand}. */
const extraUsages = new Map<string, { readonly summary: string; readonly usage: string }>();

/** Make `name` runnable in the guest shell; with `usage`, it answers `--help` and `help` lists it. */
export function registerGuestCommand(
  name: string,
  command: GuestCommand,
  usage?: { readonly summary: string; readonly usage: string },
): void {
  commands.set(name, command);
  if (usage) extraUsages.set(name, usage);
}

/** Names of the commands the guest shell knows. */
export function guestCommandNames(): string[] {
  return [...commands.keys()].sort();
}

function usageOf(name: string): { readonly summary: string; readonly usage: string } | undefined {
  return USAGES[name] ?? extraUsages.get(name);
}

/** `help`: every command with its one-line summary, and how to get its options. */
function helpText(): string {
  const names = guestCommandNames();
  const width = Math.max(...names.map((n) => n.length));
  const lines = names.map((n) => `  ${n.padEnd(width)}  ${usageOf(n)?.summary ?? ""}`.trimEnd());
  return `guest commands:\n${lines.join("\n")}\nRun '<command> --help' for a command's options.\n`;
}

/**
 * Run `argv` in the guest, its files in `fs`. Unknown commands and thrown errors become exit
 * codes, never exceptions. `--help` anywhere prints the command's usage and exits 0, as GNU
 * tools do (GNU Coding Standards, "--help").
 */
export async function runGuestCommand(
  argv: readonly string[],
  scsi: GuestScsi,
  fs: GuestFs,
): Promise<CommandResult> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help") return ok(helpText());
  const cmd = commands.get(name);
  if (!cmd)
    return fail(`${name}: command not found (guest commands: ${guestCommandNames().join(", ")})`, 127);
  const usage = usageOf(name);
  if (usage && rest.includes("--help")) return ok(usage.usage);
  try {
    return await cmd(rest, scsi, fs);
  } catch (e) {
    return fail(`${name}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

registerGuestCommand("iscsi-target", iscsiTarget, ISCSI_TARGET_USAGE);
