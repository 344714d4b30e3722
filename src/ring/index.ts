/**
 * A generic Xen shared ring (`io/ring.h`) over page-aligned SharedArrayBuffer memory.
 * @module
 */

export { XEN_PAGE_SHIFT, XEN_PAGE_SIZE } from "../xen/page.js";
export { rd32, ringSize } from "../xen/ring-size.js";
export {
  SRING_REQ_EVENT,
  SRING_REQ_PROD,
  SRING_RING,
  SRING_RSP_EVENT,
  SRING_RSP_PROD,
} from "../xen/sring-layout.js";
export { BackRing } from "./back-ring.js";
export { RingEntry } from "./entry.js";
export { FrontRing } from "./front-ring.js";
export { PUBLISH_BATCH_MIN, PUBLISH_BATCH_START, PublishBatch } from "./publish-batch.js";
export { SharedRing } from "./shared-ring.js";
