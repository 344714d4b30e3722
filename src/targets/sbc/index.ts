/**
 * Direct-access block devices (SBC-3): the Disk and its RAM, file and buffer stores.
 * @module
 */

export type { BlockStore, StoreCallback } from "./block-store.js";
export { BufferStore } from "./buffer-store.js";
export {
  Disk,
  type DiskOptions,
  MAX_COMPARE_AND_WRITE_BLOCKS,
  MAX_UNMAP_BLOCKS,
  MAX_UNMAP_DESCRIPTORS,
  MAX_WRITE_SAME_BLOCKS,
} from "./disk.js";
export { FileStore, type FileStoreOptions } from "./file-store.js";
export { RAM_CHUNK_SIZE, RamStore } from "./ram-store.js";
