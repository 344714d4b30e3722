/**
 * Medium changers (SMC-3): the autoloader/library device, its element layout and the state file
 * that keeps cartridge placement across restarts.
 * @module
 */

export {
  CHANGER_STATE_FORMAT,
  CHANGER_STATE_VERSION,
  decodeChangerState,
  encodeChangerState,
  type PlacedCartridge,
  readChangerState,
  writeChangerState,
} from "./changer-state.js";
export {
  ELEMENT_ALL,
  ELEMENT_DATA_TRANSFER,
  ELEMENT_IMPORT_EXPORT,
  ELEMENT_STORAGE,
  ELEMENT_TRANSPORT,
  ELEMENT_TYPE_NAMES,
  type ElementCounts,
  ElementMap,
  type ElementType,
  FIRST_DATA_TRANSFER,
  FIRST_IMPORT_EXPORT,
  FIRST_STORAGE,
  FIRST_TRANSPORT,
  MAX_DATA_TRANSFER,
  MAX_IMPORT_EXPORT,
  MAX_STORAGE,
  MAX_TRANSPORTS,
} from "./elements.js";
export { type DataTransferBinding, MediumChanger, type MediumChangerOptions } from "./medium-changer.js";
