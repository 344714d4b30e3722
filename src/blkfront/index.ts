/**
 * blkfront: the guest's half of Xen's block protocol (VBD).
 * @module
 */
export {
  BLKFRONT_MAX_INDIRECT_SEGMENTS,
  BlkCommand,
  BlkfrontRing,
  type BlkfrontRingOptions,
  type BlkfrontState,
} from "./blkfront-ring.js";
export { BlkfrontDevice, type BlkfrontEnv, type BlockLayer } from "./frontend-device.js";
export { BlkfrontDriver, type BlkfrontDriverOptions } from "./frontend-driver.js";
export type { GrantAccess, GuestMemory, Notifier } from "./ports.js";
export { XenDisk, type XenDiskInfo } from "./xen-disk.js";
