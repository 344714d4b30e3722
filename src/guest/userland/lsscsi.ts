import type { GuestScsi } from "../midlayer.js";
import { fail, ok } from "./_common.js";
import type { CommandResult } from "./command.js";

/** `lsscsi [-g]`: the attached devices as sg3_utils' lsscsi lists them. */
export async function lsscsi(argv: readonly string[], scsi: GuestScsi): Promise<CommandResult> {
  const bad = argv.find((a) => a !== "-g" && a !== "--generic");
  if (bad !== undefined) return fail(`lsscsi: unrecognised option '${bad}' (supported: -g)`);
  return ok(scsi.lsscsi(argv.length > 0));
}
