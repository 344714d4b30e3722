/**
 * Big-endian field access for CDBs and parameter data, by plain arithmetic (no DataView, no
 * allocation). Out-of-bounds bytes read as 0, so a short CDB can never throw.
 */

/** Unsigned 16-bit big-endian at `at`. */
export function be16(b: Uint8Array, at: number): number {
  return ((b[at] ?? 0) << 8) | (b[at + 1] ?? 0);
}

/** Unsigned 24-bit big-endian at `at`. */
export function be24(b: Uint8Array, at: number): number {
  return ((b[at] ?? 0) << 16) | ((b[at + 1] ?? 0) << 8) | (b[at + 2] ?? 0);
}

/** Unsigned 32-bit big-endian at `at`. */
export function be32(b: Uint8Array, at: number): number {
  return (((b[at] ?? 0) << 24) | ((b[at + 1] ?? 0) << 16) | ((b[at + 2] ?? 0) << 8) | (b[at + 3] ?? 0)) >>> 0;
}

/**
 * Unsigned 64-bit big-endian at `at`, as a number. Values above 2^53 lose low bits but stay above
 * 2^53, which is all a range check needs: no device is that large.
 */
export function be64(b: Uint8Array, at: number): number {
  return be32(b, at) * 0x1_0000_0000 + be32(b, at + 4);
}

/** Store `v` (0..0xffff) big-endian. */
export function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 8) & 0xff;
  b[at + 1] = v & 0xff;
}

/** Store `v` (0..0xffffff) big-endian. */
export function put24(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 16) & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
  b[at + 2] = v & 0xff;
}

/** Store `v` (0..0xffffffff) big-endian. */
export function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 24) & 0xff;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

/** Store a non-negative safe integer as 64-bit big-endian. */
export function put64(b: Uint8Array, at: number, v: number): void {
  const hi = Math.floor(v / 0x1_0000_0000);
  put32(b, at, hi >>> 0);
  put32(b, at + 4, (v - hi * 0x1_0000_0000) >>> 0);
}

/** Copy `s` into `b` at `at` as ASCII, space-padded (or cut) to `width` (INQUIRY strings). */
export function putAscii(b: Uint8Array, at: number, s: string, width: number): void {
  for (let i = 0; i < width; i++) b[at + i] = i < s.length ? s.charCodeAt(i) & 0x7f : 0x20;
}
