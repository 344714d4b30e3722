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
} from "../xen/domain-config.js";
export {
  checkDomainHandle,
  type DomainHandle,
  domainMemoryBytes,
  type MachineSlot,
} from "../xen/domain-handle.js";
export { DomainView } from "../xen/domain-view.js";
export { FrameAllocator } from "../xen/frame-allocator.js";
export { DomainContext, type DomainContextOptions } from "./context.js";
export { type DomainBacking, Hypervisor, type HypervisorOptions } from "./hypervisor.js";
export { MachineMemory } from "./machine-memory.js";
export type { BoundPort, DomainReport, HeldMapping, LiveGrant, MappedGrant } from "./report.js";
