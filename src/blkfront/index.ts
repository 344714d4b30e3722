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
export {
  BLKFRONT_MAX_RING_PAGE_ORDER,
  BlkfrontDevice,
  type BlkfrontEnv,
  type BlockLayer,
} from "./frontend-device.js";
export {
  type BlkfrontDiskReport,
  BlkfrontDriver,
  type BlkfrontDriverOptions,
  type BlkfrontRingReport,
} from "./frontend-driver.js";
export { type BlkfrontParams, parseBlkfrontParams } from "./module-params.js";
export type { GrantAccess, GuestMemory, Notifier } from "./ports.js";
export { XenDisk, type XenDiskInfo } from "./xen-disk.js";
