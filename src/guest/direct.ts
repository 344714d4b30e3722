import { DataBuffer } from "../scsi/data-buffer.js";
import {
  type DataDirection,
  type Initiator,
  SCSI_SENSE_BUFFERSIZE,
  type ScsiDevice,
  type ScsiTask,
} from "../scsi/device.js";
import { DID_OK } from "../scsifront/host-byte.js";
import type { ScsiResult } from "../scsifront/scsi-host.js";
import type { ScsiExec } from "./sg.js";

/** Initiator the direct runner uses unless told otherwise. */
export const DIRECT_INITIATOR: Initiator = { id: 0x7fff, name: "pvscsi:direct" };

/**
 * Run guest tools against a dom0 {@link ScsiDevice} directly, without the PV ring: each request
 * becomes a task over `DataBuffer.of` its own bytes, submitted to `device` (a unit or a target;
 * `lun` addresses a target's units). Tests use it; so can dom0 maintenance.
 */
export function directExec(
  device: Pick<ScsiDevice, "submit">,
  options: { initiator?: Initiator; lun?: number } = {},
): ScsiExec {
  const initiator = options.initiator ?? DIRECT_INITIATOR;
  let tag = 0;
  return (req) =>
    new Promise<ScsiResult>((resolve) => {
      const out = req.dataOut;
      const inLen = req.dataInLength ?? 0;
      const mem = out ? out.slice() : new Uint8Array(inLen);
      const sense = new Uint8Array(SCSI_SENSE_BUFFERSIZE);
      const task: ScsiTask = {
        cdb: Uint8Array.from(req.cdb),
        lun: options.lun ?? 0,
        initiator,
        tag: ++tag,
        direction: (out ? 1 : inLen > 0 ? 2 : 3) as DataDirection,
        data: DataBuffer.of(mem, !out),
        sense,
        done(status, transferred, senseLength) {
          const moved = Math.max(0, Math.min(transferred, mem.length));
          resolve({
            status,
            host: DID_OK,
            sense: sense.slice(0, senseLength),
            residual: mem.length - moved,
            data: out ? new Uint8Array(0) : mem.slice(0, moved),
          });
        },
      };
      device.submit(task);
    });
}
