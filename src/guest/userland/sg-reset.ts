import type { GuestScsi } from "../midlayer.js";
import { address, fail, ok } from "./_common.js";
import type { CommandResult } from "./command.js";

/** `sg_reset -d <device>`: a device (LUN) reset through the host (`VSCSIIF_ACT_SCSI_RESET`). */
export async function sgReset(argv: readonly string[], scsi: GuestScsi): Promise<CommandResult> {
  if (!argv.includes("-d") && !argv.includes("--device"))
    return fail("sg_reset: only a device reset is supported: sg_reset -d <device>");
  const dev = address(
    scsi,
    argv.find((a) => !a.startsWith("-")),
    "sg_reset",
  );
  if ("exitCode" in dev) return dev;
  const done = await dev.host.reset(dev.channel, dev.id, dev.lun);
  return done
    ? ok("sg_reset: starting device reset\nsg_reset: completed device reset\n")
    : fail("sg_reset: device reset failed (0x2003)");
}
