/**
 * Guest-side tape tools, written against a {@link ScsiExec} bound to one device so they run the
 * same over the PV path (`bindScsiHost`) and against a dom0 device directly (`directExec`):
 * `mt` (mt-st), `mtx` (mtx 1.3) and a ustar `tar` for tapes, over an st-like tape layer.
 * Each entry returns `{ exitCode, stdout, stderr, data }`. Also sd's READ CAPACITY and
 * READ/WRITE(16) helpers.
 * @module
 */

export { DIRECT_INITIATOR, directExec } from "./direct.js";
export {
  type ExportedLun,
  type FittedCommand,
  fitToEdtl,
  IscsiExport,
  type IscsiExportOptions,
} from "./iscsi-export.js";
export {
  READ_16,
  readCapacity,
  rw16,
  type SdCapacity,
  type SdCapacityFailure,
  WRITE_16,
} from "./sd.js";
export {
  bindScsiHost,
  request,
  type ScsiExec,
  senseOf,
  senseText,
  signedInformation,
  type ToolResult,
} from "./sg.js";
export { newStState, type StEof, StError, type StReady, type StState, StTape } from "./st.js";
export { formatStatus, type MtData, type MtOptions, type MtStatus, runMt } from "./userland/mt.js";
export {
  type MtxData,
  type MtxDrive,
  type MtxOptions,
  type MtxSlot,
  requestSenseReport,
  runMtx,
} from "./userland/mtx.js";
export {
  CHECKSUM_MEMBER,
  DEFAULT_BLOCKING_FACTOR,
  runTar,
  type TarData,
  type TarFile,
  type TarOptions,
} from "./userland/tar.js";
export {
  type DecodedTarHeader,
  decodeTarHeader,
  encodeTarHeader,
  isZeroBlock,
  parsePaxRecords,
  TAR_BLOCK,
  type TarEntry,
  type TarType,
} from "./userland/ustar.js";
