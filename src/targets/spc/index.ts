/**
 * The SPC layer every pvscsi logical unit shares: command tables, unit attentions, reservations,
 * mode pages, INQUIRY/VPD, and the SpcDevice base class. The SCSI vocabulary it speaks (sense
 * data, CDB fields) is `src/scsi/`.
 * @module
 */

export {
  CMD_DATA_IN,
  CMD_DATA_OUT,
  CMD_NEEDS_READY,
  CMD_PR_COMMAND,
  CMD_PR_READ,
  CMD_PR_WRITE,
  CMD_RESERVE6_OK,
  CMD_UA_EXEMPT,
  CommandTable,
  HANDLED,
  type Handled,
  putTimeoutsDescriptor,
  type ScsiCommand,
  TIMEOUTS_DESCRIPTOR_LENGTH,
  usage,
  writeAllCommands,
  writeOneCommand,
} from "./command.js";
export {
  type DeviceIdentity,
  STANDARD_INQUIRY_LENGTH,
  VERSION_SAM5,
  VERSION_SBC3,
  VERSION_SMC3,
  VERSION_SPC3,
  VERSION_SPC4,
  VERSION_SSC3,
  writeNoLunInquiry,
  writeStandardInquiry,
  writeVpdDeviceIdentification,
  writeVpdSerial,
  writeVpdSupportedPages,
  wwnBytes,
} from "./inquiry.js";
export {
  ModePage,
  ModePageSet,
  PC_CHANGEABLE,
  PC_CURRENT,
  PC_DEFAULT,
  PC_SAVED,
  SELECT_OK,
} from "./mode-pages.js";
export {
  PR_CONFLICT,
  PR_GOOD,
  PR_IN_READ_FULL_STATUS,
  PR_IN_READ_KEYS,
  PR_IN_READ_RESERVATION,
  PR_IN_REPORT_CAPABILITIES,
  PR_OUT_CLEAR,
  PR_OUT_PARAMETER_LIST_LENGTH,
  PR_OUT_PREEMPT,
  PR_OUT_REGISTER,
  PR_OUT_REGISTER_AND_IGNORE_EXISTING_KEY,
  PR_OUT_RELEASE,
  PR_OUT_RESERVE,
  PR_TYPE_EXCLUSIVE_ACCESS,
  PR_TYPE_EXCLUSIVE_ACCESS_ALL_REGISTRANTS,
  PR_TYPE_EXCLUSIVE_ACCESS_REGISTRANTS_ONLY,
  PR_TYPE_WRITE_EXCLUSIVE,
  PR_TYPE_WRITE_EXCLUSIVE_ALL_REGISTRANTS,
  PR_TYPE_WRITE_EXCLUSIVE_REGISTRANTS_ONLY,
  Reservations,
  sasAddressOf,
} from "./reservations.js";
export { SerialSpcDevice } from "./serial-device.js";
export { Nexus, SpcDevice } from "./spc-device.js";
export { UnitAttentionQueue } from "./unit-attention.js";
