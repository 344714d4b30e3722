/**
 * blkback: the backend half of Xen's block protocol (VBD), serving the backend domain's SCSI
 * units as virtual block devices.
 * @module
 */
export {
  BLKBACK_DEFAULT_MAX_INDIRECT,
  BLKBACK_MAX_RING_PAGE_ORDER,
  BlkbackDevice,
  type BlkbackEnv,
  type ResolvedTarget,
} from "./backend-device.js";
export { BlkbackDriver, type BlkbackDriverOptions, type VbdReport } from "./backend-driver.js";
export { queryVbdDisk, type VbdRequest } from "./disk-query.js";
export { BlkPending, type BlkPendingOwner, type BlkPendingPhase } from "./pending.js";
export { type GrantMapper, MappedFrame, type Notifier } from "./ports.js";
export {
  BLKBACK_MAX_INDIRECT_SEGMENTS,
  BLKBACK_MAX_PERSISTENT_GRANTS,
  BLKBACK_SERVICE_BUDGET,
  sumVbdStats,
  type VbdDisk,
  type VbdRejectCause,
  VbdRing,
  type VbdRingOptions,
  type VbdRingState,
  type VbdStats,
} from "./vbd-ring.js";
