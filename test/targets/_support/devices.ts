import { type DeviceInfo, TYPE_DISK, TYPE_ROM } from "../../../src/scsi/device.js";
import { CD_BLOCK_SIZE, Cdrom } from "../../../src/targets/mmc/cdrom.js";
import { Disk, type DiskOptions } from "../../../src/targets/sbc/disk.js";

export const DISK_INFO: DeviceInfo = {
  type: TYPE_DISK,
  vendor: "PVSCSI",
  product: "RAMDISK",
  revision: "0001",
  scsiLevel: 5,
  removable: false,
  serial: "SN0001",
  wwn: "3000000000000001",
};

export const CD_INFO: DeviceInfo = {
  type: TYPE_ROM,
  vendor: "PVSCSI",
  product: "VIRTUAL-CDROM",
  revision: "0001",
  scsiLevel: 5,
  removable: true,
  serial: "CD0001",
  wwn: "3000000000000002",
};

/** A RAM disk of `blocks` blocks. */
export function ramDisk(blocks = 2048, blockSize = 512, options: Partial<DiskOptions> = {}): Disk {
  return Disk.ram(DISK_INFO, blocks, blockSize, options);
}

/** A recognisable CD image: every 2048-byte block starts with its LBA. */
export function cdImage(blocks: number): Uint8Array {
  const b = new Uint8Array(blocks * CD_BLOCK_SIZE);
  for (let i = 0; i < blocks; i++) {
    b[i * CD_BLOCK_SIZE] = i >>> 8;
    b[i * CD_BLOCK_SIZE + 1] = i & 0xff;
    b[i * CD_BLOCK_SIZE + 2] = 0xcd;
  }
  return b;
}

/** A CD-ROM drive with a 100-block disc. */
export function cdrom(blocks = 100): Cdrom {
  return Cdrom.buffer(CD_INFO, cdImage(blocks));
}

/** Bytes as lowercase hex (compact expectations). */
export function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}
