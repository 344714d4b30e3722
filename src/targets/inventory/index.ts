/**
 * dom0's emulated physical SCSI subsystem: the host config file, the inventory built from it,
 * Linux names and p-dev resolution.
 * @module
 */

export { DEFAULT_HOST_CONFIG, DEFAULT_HOST_CONFIG_SOURCE } from "./default-config.js";
export { compareHctl, formatHct, formatHctl, type Hctl, MAX_HCT, parseHct, parseHctl } from "./hctl.js";
export {
  type CdromConfig,
  type DeviceConfig,
  type DeviceKind,
  type DiskConfig,
  type HostConfig,
  loadHostConfig,
  type NullConfig,
  parseHostConfig,
  parseSize,
  parseWwn,
} from "./host-config.js";
export {
  formatLsscsi,
  Inventory,
  type InventoryEntry,
  type LsscsiRow,
} from "./inventory.js";
export { type DeviceNames, LinuxNamer, sdIndex, sdName } from "./names.js";
