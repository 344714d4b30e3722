import { readFile } from "node:fs/promises";
import { errnoText, type GuestFs, GuestPathError } from "../guest-fs.js";
import type { GuestScsi } from "../midlayer.js";
import type { CommandResult } from "./command.js";

/**
 * `cat <file>...`: `/proc/scsi/scsi` (the kernel's, not a file), or files of the guest's own
 * filesystem. Exit status as coreutils' cat: 1 when any file could not be read, the others
 * still printed.
 */
export async function cat(argv: readonly string[], scsi: GuestScsi, fs: GuestFs): Promise<CommandResult> {
  if (argv.length === 0) return { exitCode: 1, stdout: "", stderr: "cat: missing file operand\n" };
  let stdout = "";
  let stderr = "";
  for (const name of argv) {
    if (name === "/proc/scsi/scsi") {
      stdout += scsi.procScsi();
      continue;
    }
    try {
      stdout += await readFile(await fs.resolve(name), "utf8");
    } catch (e) {
      stderr += `cat: ${name}: ${e instanceof GuestPathError ? e.reason : errnoText(e)}\n`;
    }
  }
  return { exitCode: stderr === "" ? 0 : 1, stdout, stderr };
}
