import { directExec } from "../../../src/guest/direct.js";
import type { ScsiExec } from "../../../src/guest/sg.js";
import type { ScsiDevice } from "../../../src/scsi/device.js";

/** A direct runner whose first commands have consumed the power-on unit attention. */
export async function readyExec(device: Pick<ScsiDevice, "submit">): Promise<ScsiExec> {
  const exec = directExec(device);
  for (let i = 0; i < 4; i++) {
    const r = await exec({ channel: 0, id: 0, lun: 0, cdb: [0x03, 0, 0, 0, 18, 0], dataInLength: 18 });
    if (((r.data[2] ?? 0) & 0x0f) !== 0x06) break;
  }
  return exec;
}
