import type { GuestScsi, GuestScsiDevice, ScsiResult } from "./midlayer.js";

/** READ CAPACITY(10) (SBC-3 §5.15). */
const READ_CAPACITY_10 = 0x25;
/** SERVICE ACTION IN(16) with READ CAPACITY(16) (SBC-3 §5.16). */
const SERVICE_ACTION_IN_16 = 0x9e;
const SAI_READ_CAPACITY_16 = 0x10;
/** The RETURNED LOGICAL BLOCK ADDRESS READ CAPACITY(10) gives when the disk is too big for it. */
const LBA_TOO_BIG_FOR_10 = 0xffffffff;
/** READ(16) and WRITE(16) (SBC-3 §5.8, §5.35). */
export const READ_16 = 0x88;
export const WRITE_16 = 0x8a;

/** A disk's size as READ CAPACITY reports it. */
export interface SdCapacity {
  readonly blocks: bigint;
  readonly blockSize: number;
}

/** Which READ CAPACITY failed, and how. */
export interface SdCapacityFailure {
  readonly command: "READ CAPACITY(10)" | "READ CAPACITY(16)";
  readonly result: ScsiResult;
}

/**
 * The disk's capacity, as Linux's sd `sd_read_capacity` asks for it: READ CAPACITY(10) first
 * (unless `long`), and READ CAPACITY(16) when that fails to fit (last LBA 0xffffffff).
 */
export async function readCapacity(
  scsi: GuestScsi,
  dev: GuestScsiDevice,
  long: boolean,
): Promise<SdCapacity | SdCapacityFailure> {
  if (!long) {
    const r = await scsi.execute(dev, {
      cdb: [READ_CAPACITY_10, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      dataInLength: 8,
    });
    if (r.host !== 0 || r.status !== 0 || r.data.length < 8)
      return { command: "READ CAPACITY(10)", result: r };
    const dv = new DataView(r.data.buffer, r.data.byteOffset, 8);
    const last = dv.getUint32(0);
    if (last !== LBA_TOO_BIG_FOR_10) return { blocks: BigInt(last) + 1n, blockSize: dv.getUint32(4) };
  }
  const r = await scsi.execute(dev, {
    cdb: [SERVICE_ACTION_IN_16, SAI_READ_CAPACITY_16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0],
    dataInLength: 32,
  });
  if (r.host !== 0 || r.status !== 0 || r.data.length < 12)
    return { command: "READ CAPACITY(16)", result: r };
  const dv = new DataView(r.data.buffer, r.data.byteOffset, 12);
  return { blocks: dv.getBigUint64(0) + 1n, blockSize: dv.getUint32(8) };
}

/** A READ(16) or WRITE(16) CDB (`op`) for `blocks` blocks at `lba`, as sd's `sd_setup_rw16_cmnd` builds it. */
export function rw16(op: number, lba: number, blocks: number): number[] {
  const hi = Math.floor(lba / 2 ** 32);
  const lo = lba >>> 0;
  return [
    op,
    0,
    hi >>> 24,
    (hi >>> 16) & 255,
    (hi >>> 8) & 255,
    hi & 255,
    lo >>> 24,
    (lo >>> 16) & 255,
    (lo >>> 8) & 255,
    lo & 255,
    blocks >>> 24,
    (blocks >>> 16) & 255,
    (blocks >>> 8) & 255,
    blocks & 255,
    0,
    0,
  ];
}
