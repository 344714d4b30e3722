/**
 * Node names of the block protocol's xenstore handshake (`io/blkif.h`, "Backend XenBus Nodes"
 * and "Frontend XenBus Nodes"), and what the toolstack writes for a disk (libxl's
 * `libxl__device_disk_add`).
 */
export const BlkifNode = Object.freeze({
  // toolstack → backend
  params: "params",
  mode: "mode",
  deviceType: "device-type",
  type: "type",
  removable: "removable",
  bootable: "bootable",
  dev: "dev",
  physicalDevice: "physical-device",
  // toolstack → frontend
  virtualDevice: "virtual-device",
  deviceTypeFront: "device-type",
  // backend → frontend
  featureFlushCache: "feature-flush-cache",
  featureBarrier: "feature-barrier",
  featureDiscard: "feature-discard",
  discardGranularity: "discard-granularity",
  discardAlignment: "discard-alignment",
  discardSecure: "discard-secure",
  featurePersistent: "feature-persistent",
  featureMaxIndirectSegments: "feature-max-indirect-segments",
  featureLargeSectorSize: "feature-large-sector-size",
  maxRingPageOrder: "max-ring-page-order",
  multiQueueMaxQueues: "multi-queue-max-queues",
  sectors: "sectors",
  sectorSize: "sector-size",
  physicalSectorSize: "physical-sector-size",
  info: "info",
  // frontend → backend
  ringRef: "ring-ref",
  eventChannel: "event-channel",
  protocol: "protocol",
  multiQueueNumQueues: "multi-queue-num-queues",
  ringPageOrder: "ring-page-order",
});

/** The device type's name in both paths: `backend/vbd/...`, `device/vbd/...`. */
export const VBD_DEVICE_TYPE = "vbd";
