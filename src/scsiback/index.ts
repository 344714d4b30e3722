/**
 * scsiback: dom0's half of PVSCSI.
 * @module
 */
export { BackendDevice, type BackendEnv, type ResolvedPdev } from "./backend-device.js";
export { ScsibackDriver, type ScsibackDriverOptions, type VhostReport } from "./backend-driver.js";
export { PendingRequest } from "./pending.js";
export {
  type Completion,
  checkCondition,
  MUNGING_POLICIES,
  type MungingFilter,
  MungingPolicy,
  PVOPS_POLICY,
  RAW_POLICY,
  XENLINUX_POLICY,
  XENLINUX_WHITELIST,
} from "./policy.js";
export { type GrantMapper, MappedFrame, type Notifier } from "./ports.js";
export { emulateReportLuns, REPORT_LUNS } from "./report-luns.js";
export { type TranslationEntry, TranslationTable, type VirtualAddress } from "./translation.js";
export {
  DEFAULT_SERVICE_BUDGET,
  type RejectCause,
  SCSIBACK_SG_GRANT,
  Vhost,
  type VhostMutation,
  type VhostOptions,
  type VhostState,
  type VhostStats,
} from "./vhost.js";
