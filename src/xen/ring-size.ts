import { invalidArgument } from "./errors.js";
import { SRING_RING } from "./sring-layout.js";

/** `__RD32`: round a u32 down to a power of two (0 stays 0). */
export function rd32(x: number): number {
  x >>>= 0;
  if (x === 0) return 0;
  return 2 ** (31 - Math.clz32(x));
}

/**
 * `__RING_SIZE` / `__CONST_RING_SIZE`: how many entries of `entrySize` bytes fit in a shared ring
 * of `byteLength` bytes after the 64-byte header, rounded down to a power of two so indices can be
 * masked with `size - 1`. Returns 0 when not even one entry fits.
 *
 * @example ringSize(4096, 252) === 16; ringSize(8 * 4096, 252) === 128 // 129 fit, rounded down
 */
export function ringSize(byteLength: number, entrySize: number): number {
  if (!Number.isInteger(entrySize) || entrySize <= 0) {
    throw invalidArgument("entrySize", "a positive integer", entrySize);
  }
  if (byteLength <= SRING_RING) return 0;
  return rd32(Math.floor((byteLength - SRING_RING) / entrySize));
}
