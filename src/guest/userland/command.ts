import type { GuestScsi } from "../midlayer.js";

/** What a guest command prints and returns. */
export interface CommandResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A guest command: runs inside the guest against its SCSI midlayer. */
export type GuestCommand = (argv: readonly string[], scsi: GuestScsi) => Promise<CommandResult>;
