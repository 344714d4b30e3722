import type { GuestFs } from "../guest-fs.js";
import type { GuestScsi } from "../midlayer.js";

/** What a guest command prints and returns. */
export interface CommandResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * A guest command: runs inside the guest against its SCSI midlayer, reaching files only through
 * the guest's own filesystem `fs`.
 */
export type GuestCommand = (argv: readonly string[], scsi: GuestScsi, fs: GuestFs) => Promise<CommandResult>;
