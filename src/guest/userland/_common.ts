import { SAM_STAT_CHECK_CONDITION } from "../../scsi/device.js";
import { SENSE_KEY_NAMES } from "../../scsi/sense.js";
import type { GuestScsi, GuestScsiDevice, ScsiResult } from "../midlayer.js";
import { senseOf, senseText } from "../sg.js";
import type { CommandResult } from "./command.js";

/** A successful command printing `stdout`. */
export const ok = (stdout: string): CommandResult => ({ exitCode: 0, stdout, stderr: "" });
/** A failed command printing `stderr` (a newline added if missing). */
export const fail = (stderr: string, exitCode = 1): CommandResult => ({
  exitCode,
  stdout: "",
  stderr: stderr.endsWith("\n") ? stderr : `${stderr}\n`,
});

/** A CHECK CONDITION or transport failure, in words. */
export function describeFailure(r: ScsiResult): string {
  if (r.host !== 0)
    return `host byte 0x${r.host.toString(16).padStart(2, "0")} (${HOST_NAMES[r.host] ?? "unknown"})`;
  const sense = r.status === SAM_STAT_CHECK_CONDITION ? senseOf(r) : null;
  if (sense) return `CHECK CONDITION, sense ${senseText(r)} (${SENSE_KEY_NAMES[sense.key] ?? "?"})`;
  return `status 0x${hex2(r.status)}`;
}

/** Names of the Linux host bytes (`DID_*`) the guest tools print. */
export const HOST_NAMES: Record<number, string> = {
  1: "DID_NO_CONNECT",
  2: "DID_BUS_BUSY",
  3: "DID_TIME_OUT",
  5: "DID_ABORT",
  7: "DID_ERROR",
  8: "DID_RESET",
};

/** Two hex digits. */
export function hex2(n: number): string {
  return n.toString(16).padStart(2, "0");
}

/** `len` bytes at `off` as printable ASCII, trailing blanks trimmed. */
export function ascii(b: Uint8Array, off: number, len: number): string {
  let s = "";
  for (let i = off; i < Math.min(off + len, b.length); i++)
    s += b[i]! >= 0x20 && b[i]! < 0x7f ? String.fromCharCode(b[i]!) : " ";
  return s.trimEnd();
}

/** The device `name` names (`/dev/sda`, `/dev/sg0`), or the failure `tool` prints. */
export function device(
  scsi: GuestScsi,
  name: string | undefined,
  tool: string,
): GuestScsiDevice | CommandResult {
  if (name === undefined) return fail(`${tool}: missing device (e.g. /dev/sda, /dev/sg0)`);
  try {
    return scsi.resolve(name);
  } catch (e) {
    return fail(`${tool}: ${e instanceof Error ? e.message : e}`);
  }
}

/** A resolved SCSI address: the host and (channel, id, lun) on it. */
export type Address = ReturnType<GuestScsi["resolveAddress"]>;

/** A device name, or any h:c:t:l on an existing host (SG_IO-style addressing). */
export function address(scsi: GuestScsi, name: string | undefined, tool: string): Address | CommandResult {
  if (name === undefined) return fail(`${tool}: missing device (e.g. /dev/sda, /dev/sg0, 0:0:1:0)`);
  try {
    return scsi.resolveAddress(name);
  } catch (e) {
    return fail(`${tool}: ${e instanceof Error ? e.message : e}`);
  }
}
