/**
 * dom0's emulated "physical" SCSI devices: the ScsiDevice contract scsiback codes against, the
 * target that routes LUNs, the device types (disk, CD-ROM, tape drive, medium changer, null),
 * and the inventory that names and resolves them. Sub-modules (`./spc`, `./sbc`, `./mmc`,
 * `./ssc`, `./smc`, `./inventory`) export the details.
 * @module
 */
export { DataBuffer } from "../scsi/data-buffer.js";
export {
  type DataDirection,
  type DeviceInfo,
  type Initiator,
  SAM_STAT_ACA_ACTIVE,
  SAM_STAT_BUSY,
  SAM_STAT_CHECK_CONDITION,
  SAM_STAT_CONDITION_MET,
  SAM_STAT_GOOD,
  SAM_STAT_RESERVATION_CONFLICT,
  SAM_STAT_TASK_ABORTED,
  SAM_STAT_TASK_SET_FULL,
  SCSI_SENSE_BUFFERSIZE,
  type ScsiDevice,
  type ScsiTask,
  type TmfResponse,
  TYPE_DISK,
  TYPE_MEDIUM_CHANGER,
  TYPE_NO_LUN,
  TYPE_ROM,
  TYPE_TAPE,
} from "../scsi/device.js";
export { decodeSense, writeSense } from "../scsi/sense.js";
export {
  DEFAULT_HOST_CONFIG,
  type DeviceConfig,
  defaultStateDir,
  formatLsscsi,
  type HostConfig,
  Inventory,
  type InventoryEntry,
  type LsscsiRow,
  loadHostConfig,
  parseHostConfig,
} from "./inventory/index.js";
export { IscsiInitiatorDevice, type IscsiLunConfig, parsePortal } from "./iscsi-initiator-device.js";
export { Cdrom } from "./mmc/index.js";
export { NULL_DEVICE_INFO, NullDevice } from "./null-device.js";
export { Disk, type DiskOptions, FileStore, RamStore } from "./sbc/index.js";
export { MediumChanger, type MediumChangerOptions } from "./smc/index.js";
export { SpcDevice } from "./spc/index.js";
export {
  Cartridge,
  type CartridgeLibrary,
  FileCartridgeLibrary,
  MemoryCartridgeLibrary,
  TapeDrive,
  type TapeDriveOptions,
} from "./ssc/index.js";
export { MAX_LUN, ScsiTarget, type ScsiTargetOptions } from "./target.js";
export type { TargetMember, TargetPort } from "./target-port.js";
