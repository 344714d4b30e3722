/**
 * Sequential-access devices (SSC-3): the tape drive, cartridges (the cartridge file format, its
 * in-memory index, file and RAM stores) and the libraries cartridges are opened from.
 * @module
 */

export { Cartridge, type CartridgeIo, type IoCallback } from "./cartridge.js";
export {
  blankHeader,
  CARTRIDGE_HEADER_SIZE,
  CARTRIDGE_MAGIC,
  CARTRIDGE_VERSION,
  type CartridgeHeader,
  decodeHeader,
  encodeHeader,
  MAX_BARCODE_LENGTH,
  RECORD_DATA,
  RECORD_FILEMARK,
  RECORD_HEADER_SIZE,
} from "./cartridge-format.js";
export {
  CARTRIDGE_SUFFIX,
  type CartridgeLibrary,
  defaultEarlyWarning,
  FileCartridgeLibrary,
  isValidBarcode,
  type LibraryOptions,
  MemoryCartridgeLibrary,
} from "./cartridge-library.js";
export { type Density, type DriveDensities, LTO_DENSITIES, ltoDrive } from "./densities.js";
export {
  type CartridgeGeometry,
  FileCartridgeIo,
  type OpenCartridgeOptions,
  openCartridgeFile,
} from "./file-cartridge.js";
export { MemoryCartridgeIo, MemoryImage } from "./memory-cartridge.js";
export {
  MAX_FILEMARKS_PER_COMMAND,
  TAPE_MAX_BLOCK,
  TAPE_MAX_TRANSFER,
  TapeDrive,
  type TapeDriveOptions,
  type TapeState,
} from "./tape-drive.js";
export { TapeIndex } from "./tape-index.js";
export { TapeCounters } from "./tape-log.js";
