/**
 * dom0's emulated physical SCSI subsystem: the host config file, the inventory built from it,
 * Linux names and p-dev resolution, and where state that outlives a run is kept.
 * @module
 */

export {
  compareHctl,
  formatHct,
  formatHctl,
  type Hctl,
  MAX_HCT,
  parseHct,
  parseHctl,
} from "../../scsi/hctl.js";
export { DEFAULT_HOST_CONFIG, DEFAULT_HOST_CONFIG_SOURCE } from "./default-config.js";
export {
  type CartridgeDefaults,
  type CdromConfig,
  type ChangerConfig,
  DEFAULT_CARTRIDGE_CAPACITY,
  type DeviceConfig,
  type DeviceKind,
  type DiskConfig,
  type HostConfig,
  type HostConfigSource,
  type IscsiConfig,
  loadHostConfig,
  type NullConfig,
  parseHostConfig,
  parseSize,
  parseWwn,
  readHostConfigSource,
  type TapeConfig,
} from "./host-config.js";
export {
  formatLsscsi,
  Inventory,
  type InventoryEntry,
  type LsscsiRow,
} from "./inventory.js";
export { type DeviceNames, LinuxNamer, sdIndex, sdName } from "./names.js";
export { defaultStateDir } from "./state-dir.js";
