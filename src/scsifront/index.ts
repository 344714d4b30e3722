/**
 * scsifront: the guest's half of PVSCSI, after Linux's `drivers/scsi/xen-scsifront.c` — the
 * sans-IO ring core ({@link Frontend}: build, grant, push, complete), the xenbus device and
 * driver around it, the ports it needs from its domain, and the interface it offers a SCSI
 * midlayer.
 * @module
 */

export {
  FrontCommand,
  Frontend,
  type FrontendMutation,
  type FrontendOptions,
  type FrontendState,
  RESUME_RSLT,
  SCSIFRONT_SG_ALL,
  SCSIFRONT_SG_MAX,
  type SubmitResult,
} from "./frontend.js";
export { FrontendDevice, type FrontendEnv } from "./frontend-device.js";
export { ScsifrontDriver, type ScsifrontDriverOptions } from "./frontend-driver.js";
export {
  DID_ABORT,
  DID_BAD_INTR,
  DID_BAD_TARGET,
  DID_BUS_BUSY,
  DID_ERROR,
  DID_IMM_RETRY,
  DID_NO_CONNECT,
  DID_OK,
  DID_PARITY,
  DID_PASSTHROUGH,
  DID_REQUEUE,
  DID_RESET,
  DID_SOFT_ERROR,
  DID_TIME_OUT,
  DID_TRANSPORT_DISRUPTED,
  DID_TRANSPORT_FAILFAST,
  DID_TRANSPORT_MARGINAL,
  scsifrontHostByte,
} from "./host-byte.js";
export type { GrantAccess, GuestMemory, Notifier } from "./ports.js";
export type { GuestScsiHost, ScsiMidlayer, ScsiRequest, ScsiResult } from "./scsi-host.js";
