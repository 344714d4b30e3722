/**
 * pvscsi: a userspace emulator of Xen's paravirtualised SCSI split driver. This entry names the
 * pieces most programs start from; each layer has its own entry with the details
 * (`pvscsi/ring`, `pvscsi/vscsiif`, `pvscsi/front`, `pvscsi/back`, `pvscsi/scsi`,
 * `pvscsi/targets`, `pvscsi/xen`, `pvscsi/xenstore`, `pvscsi/system`, `pvscsi/testing`).
 * @module
 */
export {
  VscsiifFrontChecker,
  type VscsiifFrontCheckerOptions,
  type VscsiifRule,
  type VscsiifViolation,
} from "./checker/vscsiif-checker.js";
export { DomainContext, type DomainContextOptions } from "./hypervisor/context.js";
export { type DomainBacking, Hypervisor, type HypervisorOptions } from "./hypervisor/hypervisor.js";
export { MachineMemory } from "./hypervisor/machine-memory.js";
export { type DomainReport, describeLeaks } from "./hypervisor/report.js";
export { BackRing } from "./ring/back-ring.js";
export { FrontRing } from "./ring/front-ring.js";
export { SharedRing } from "./ring/shared-ring.js";
export { DataBuffer } from "./scsi/data-buffer.js";
export {
  type DataDirection,
  type DeviceInfo,
  type Initiator,
  SAM_STAT_CHECK_CONDITION,
  SAM_STAT_GOOD,
  type ScsiDevice,
  type ScsiTask,
  type TmfResponse,
  TYPE_DISK,
  TYPE_ROM,
  TYPE_TAPE,
} from "./scsi/device.js";
export { decodeSense, senseCode, writeSense } from "./scsi/sense.js";
export { type GrantMapper, MappedFrame } from "./scsiback/ports.js";
export { Vhost, type VhostOptions } from "./scsiback/vhost.js";
export { FrontCommand, Frontend, type FrontendOptions } from "./scsifront/frontend.js";
export type { GrantAccess, GuestMemory, Notifier } from "./scsifront/ports.js";
export type { ExtraDevices } from "./system/backend-kernel.js";
export { LocalSystem, type LocalSystemOptions } from "./system/single-thread.js";
export type { System } from "./system/system.js";
export { ThreadedSystem, type ThreadedSystemOptions } from "./system/threaded-system.js";
export { Disk, type DiskOptions } from "./targets/sbc/disk.js";
export { RamStore } from "./targets/sbc/ram-store.js";
export { ScsiTarget } from "./targets/target.js";
export {
  type DomainRow,
  type DomainSpec,
  Host,
  type HostOptions,
  type ScsiListRow,
  type ToolstackOptions,
} from "./toolstack/host.js";
export { type MigrationReport, migrateOut } from "./toolstack/migrate.js";
export { SAVE_FORMAT_VERSION } from "./toolstack/save-file.js";
export { type Converted, domxmlFromNative, domxmlToNative, PVSCSI_XML_NAMESPACE } from "./toolstack/virsh.js";
export {
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_NONE,
  DMA_TO_DEVICE,
  makeRslt,
  rsltHost,
  rsltStatus,
  VSCSIIF_ACT_SCSI_CDB,
} from "./vscsiif/constants.js";
export { VscsiifRequest } from "./vscsiif/request.js";
export { VscsiifResponse } from "./vscsiif/response.js";
export { inspectWasmImage, type WasmImage } from "./wasm/image.js";
export {
  GNTCOPY_MAX_SEGMENTS,
  type WasmFault,
  WasmKernel,
  type WasmKernelOptions,
  wasmDomainBacking,
} from "./wasm/kernel.js";
export { PvscsiError } from "./xen/errors.js";
export { XEN_PAGE_SIZE } from "./xen/page.js";
export { VSCSIIF_ENTRY_SIZE } from "./xen/vscsiif-layout.js";
export { XenstoreClient } from "./xenstore/client.js";
export { XenstoreDb } from "./xenstore/database.js";
