import { DataBuffer } from "../scsi/data-buffer.js";
import {
  type DataDirection,
  type Initiator,
  SAM_STAT_GOOD,
  SCSI_SENSE_BUFFERSIZE,
  type ScsiDevice,
  type ScsiTask,
  TYPE_DISK,
  TYPE_ROM,
} from "../scsi/device.js";
import type { VbdDisk } from "./vbd-ring.js";

/** One command and its result, run at probe time (never on the I/O path). */
function run(
  device: ScsiDevice,
  initiator: Initiator,
  lun: number,
  cdb: number[],
  dataIn: number,
): Promise<{ status: number; data: Uint8Array; transferred: number }> {
  const buf = new Uint8Array(dataIn);
  const data = dataIn > 0 ? DataBuffer.of(buf, true) : new DataBuffer(1);
  return new Promise((resolve) => {
    const task: ScsiTask = {
      cdb: Uint8Array.from(cdb),
      lun,
      initiator,
      tag: 0xfffe,
      direction: (dataIn > 0 ? 2 : 3) as DataDirection,
      data,
      sense: new Uint8Array(SCSI_SENSE_BUFFERSIZE),
      done: (status, transferred) => resolve({ status, data: buf, transferred }),
    };
    device.submit(task);
  });
}

/** Run a command, retrying the unit attentions a new nexus sees first (as sd's probe does). */
async function runRetried(
  device: ScsiDevice,
  initiator: Initiator,
  lun: number,
  cdb: number[],
  dataIn: number,
): Promise<{ status: number; data: Uint8Array; transferred: number }> {
  let r = await run(device, initiator, lun, cdb, dataIn);
  for (let i = 0; i < 5 && r.status !== SAM_STAT_GOOD; i++)
    r = await run(device, initiator, lun, cdb, dataIn);
  return r;
}

/** What the toolstack asked for a VBD besides its device. */
export interface VbdRequest {
  /** `mode = r` (or a `devtype=cdrom` disk): the guest may not write. */
  readonly readonly: boolean;
}

/**
 * Learn what the VBD's backing unit is, as Linux blkback learns it from the block device
 * (`xen_vbd_create`, `xen_blkbk_discard`, `xen_blkbk_flush_diskcache`) — which sd learnt with
 * the same commands: READ CAPACITY(10), then (16) for a large disk or for its LBPME bit (thin
 * provisioning: `feature-discard`); MODE SENSE(6) of the Caching page for WCE (a write-back
 * cache: `feature-flush-cache`) and the WP bit. A CD-ROM is read-only with 2048-byte blocks and
 * may have no medium (0 sectors). Returns a reason string when the unit cannot back a VBD.
 */
export async function queryVbdDisk(
  device: ScsiDevice,
  lun: number,
  initiator: Initiator,
  request: VbdRequest,
): Promise<VbdDisk | string> {
  const type = device.info.type;
  if (type !== TYPE_DISK && type !== TYPE_ROM) return `not a block device (SCSI peripheral type ${type})`;
  const cdrom = type === TYPE_ROM;
  let blocks = 0;
  let blockSize = cdrom ? 2048 : 512;
  let thin = false;
  const rc10 = await runRetried(device, initiator, lun, [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], 8);
  if (rc10.status === SAM_STAT_GOOD && rc10.transferred >= 8) {
    const dv = new DataView(rc10.data.buffer);
    const last = dv.getUint32(0);
    blockSize = dv.getUint32(4) || blockSize;
    blocks = last + 1;
    if (!cdrom) {
      const rc16 = await runRetried(
        device,
        initiator,
        lun,
        [0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0],
        32,
      );
      if (rc16.status === SAM_STAT_GOOD && rc16.transferred >= 16) {
        const d16 = new DataView(rc16.data.buffer);
        blocks = Number(d16.getBigUint64(0)) + 1;
        blockSize = d16.getUint32(8);
        thin = (rc16.data[14]! & 0x80) !== 0;
      }
    }
  } else if (!cdrom) {
    return "READ CAPACITY failed (is the device ready?)";
  }
  if (blockSize < 512 || blockSize % 512 !== 0 || blockSize > 4096)
    return `logical block size ${blockSize} is not a multiple of 512 up to 4096`;
  let wp = false;
  let wce = false;
  if (!cdrom) {
    const ms = await runRetried(device, initiator, lun, [0x1a, 0, 0x08, 0, 64, 0], 64);
    if (ms.status === SAM_STAT_GOOD && ms.transferred >= 4) {
      wp = (ms.data[2]! & 0x80) !== 0;
      const bd = ms.data[3]!;
      const page = 4 + bd;
      if (ms.transferred > page + 2 && (ms.data[page]! & 0x3f) === 0x08)
        wce = (ms.data[page + 2]! & 0x04) !== 0;
    }
  }
  return {
    device,
    lun,
    initiator,
    sectors: (blocks * blockSize) / 512,
    blockSize,
    readonly: request.readonly || wp || cdrom,
    flush: !cdrom && wce,
    discard: !cdrom && thin,
  };
}
