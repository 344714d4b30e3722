import type { GuestScsi, GuestScsiDevice } from "../midlayer.js";
import { readCapacity, type SdCapacity } from "../sd.js";
import { describeFailure } from "./_common.js";

/** READ CAPACITY(10) or (16) through sd; a message naming the failed command otherwise. */
export async function capacity(
  scsi: GuestScsi,
  dev: GuestScsiDevice,
  long: boolean,
): Promise<SdCapacity | string> {
  const r = await readCapacity(scsi, dev, long);
  return "command" in r ? `${r.command} failed: ${describeFailure(r.result)}` : r;
}
