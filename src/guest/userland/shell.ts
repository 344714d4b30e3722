import type { GuestScsi } from "../midlayer.js";
import { fail, ok } from "./_common.js";
import { firstChanger, firstTape, tapeTool } from "./_tape-tool.js";
import { cat } from "./cat.js";
import type { CommandResult, GuestCommand } from "./command.js";
import { dd } from "./dd.js";
import { iobenchCommand } from "./iobench.js";
import { lsscsi } from "./lsscsi.js";
import { runMt } from "./mt.js";
import { runMtx } from "./mtx.js";
import { sgInq } from "./sg-inq.js";
import { sgLuns } from "./sg-luns.js";
import { sgReadcap } from "./sg-readcap.js";
import { sgReset } from "./sg-reset.js";
import { runTar } from "./tar.js";
import { vscsiifSend } from "./vscsiif-send.js";

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
