import type { GuestScsi } from "../midlayer.js";
import { capacity } from "./_capacity.js";
import { device, fail, ok } from "./_common.js";
import type { CommandResult } from "./command.js";

/** `sg_readcap [--16] <device>`. */
export async function sgReadcap(argv: readonly string[], scsi: GuestScsi): Promise<CommandResult> {
  const dev = device(
    scsi,
    argv.find((a) => !a.startsWith("-")),
    "sg_readcap",
  );
  if ("exitCode" in dev) return dev;
  const cap = await capacity(scsi, dev, argv.includes("--16") || argv.includes("-l"));
  if (typeof cap === "string") return fail(`sg_readcap: ${cap}`);
  const bytes = cap.blocks * BigInt(cap.blockSize);
  const mib = Number(bytes) / 1048576;
  return ok(
    [
      "Read Capacity results:",
      `   Last LBA=${cap.blocks - 1n} (0x${(cap.blocks - 1n).toString(16)}), Number of logical blocks=${cap.blocks}`,
      `   Logical block length=${cap.blockSize} bytes`,
      "Hence:",
      `   Device size: ${bytes} bytes, ${mib.toFixed(1)} MiB, ${(Number(bytes) / 1e9).toFixed(2)} GB`,
      "",
    ].join("\n"),
  );
}
