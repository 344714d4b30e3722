/**
 * Domains: the toolstack's hypervisor (create, destroy, report), the handles it sends to workers,
 * and the per-thread context through which a worker acts as one domain.
 * @module
 */
export {
  DEFAULT_GRANT_FRAMES,
  DEFAULT_MAPTRACK_ENTRIES,
  type DomainConfig,
  MAX_DOMAIN_FRAMES,
  MAX_GRANT_FRAMES,
  MAX_MAPTRACK_ENTRIES,
} from "./config.js";
export { DomainContext, type DomainContextOptions } from "./context.js";
export { FrameAllocator } from "./frame-allocator.js";
export { checkDomainHandle, type DomainHandle } from "./handle.js";
export { Hypervisor } from "./hypervisor.js";
export type { BoundPort, DomainReport, HeldMapping, LiveGrant, MappedGrant } from "./report.js";
export { DomainView } from "./view.js";
