import type { GuestScsi } from "../midlayer.js";
import { fail, ok } from "./_common.js";
import type { CommandResult } from "./command.js";

/** `cat /proc/scsi/scsi` (the only file the guest shell knows). */
export async function cat(argv: readonly string[], scsi: GuestScsi): Promise<CommandResult> {
  if (argv.length !== 1 || argv[0] !== "/proc/scsi/scsi")
    return fail(`cat: ${argv.join(" ") || "(no file)"}: only /proc/scsi/scsi exists in this guest`);
  return ok(scsi.procScsi());
}
