/**
 * CD/DVD-ROM drives (MMC-6).
 * @module
 */
export {
  bufferMedium,
  CD_BLOCK_SIZE,
  CD_MAX_BLOCKS,
  Cdrom,
  PROFILE_CD_ROM,
  PROFILE_DVD_ROM,
} from "./cdrom.js";
