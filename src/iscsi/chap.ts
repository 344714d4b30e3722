/**
 * CHAP for iSCSI login (RFC 7143 §12.1.3, RFC 1994): CHAP_A=5 (MD5) only, the one algorithm
 * every target offers. The response is `MD5(CHAP_I ‖ secret ‖ CHAP_C)`; binary values travel
 * as `0x…` hex or `0b…` base64 (RFC 7143 §6.1). MD5 (RFC 1321) is written out here because
 * this layer does no IO and imports nothing from Node.
 * @module
 */

/** The CHAP algorithm number of MD5 (RFC 1994, IANA PPP authentication algorithms). */
export const CHAP_MD5 = 5;

/** CHAP credentials of an initiator: its own, and the target's for mutual CHAP. */
export interface ChapCredentials {
  /** CHAP_N we send (the account name the target knows us by). */
  readonly username: string;
  /** Our secret (the target's account password). */
  readonly secret: string;
  /** Mutual CHAP: the name the target must answer with (CHAP_N); any name when omitted. */
  readonly targetUsername?: string;
  /** Mutual CHAP: the target's secret. When set, the target must prove it knows it. */
  readonly targetSecret?: string;
}

const S = [
  7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9,
  14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15,
  21, 6, 10, 15, 21,
];
const K = Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) >>> 0);

/** MD5 of `data` (RFC 1321), 16 bytes. Test vectors in test/iscsi/chap.test.ts. */
export function md5(data: Uint8Array): Uint8Array {
  const bitLen = data.length * 8;
  const padded = new Uint8Array((((data.length + 8) >> 6) + 1) * 64);
  padded.set(data);
  padded[data.length] = 0x80;
  const dv = new DataView(padded.buffer);
  dv.setUint32(padded.length - 8, bitLen >>> 0, true);
  dv.setUint32(padded.length - 4, Math.floor(bitLen / 2 ** 32), true);
  let a0 = 0x67452301;
  let b0 = 0xefcdab89;
  let c0 = 0x98badcfe;
  let d0 = 0x10325476;
  const m = new Uint32Array(16);
  for (let off = 0; off < padded.length; off += 64) {
    for (let i = 0; i < 16; i++) m[i] = dv.getUint32(off + i * 4, true);
    let a = a0;
    let b = b0;
    let c = c0;
    let d = d0;
    for (let i = 0; i < 64; i++) {
      let f: number;
      let g: number;
      if (i < 16) {
        f = (b & c) | (~b & d);
        g = i;
      } else if (i < 32) {
        f = (d & b) | (~d & c);
        g = (5 * i + 1) & 15;
      } else if (i < 48) {
        f = b ^ c ^ d;
        g = (3 * i + 5) & 15;
      } else {
        f = c ^ (b | ~d);
        g = (7 * i) & 15;
      }
      const t = d;
      d = c;
      c = b;
      const x = (a + f + K[i]! + m[g]!) >>> 0;
      b = (b + ((x << S[i]!) | (x >>> (32 - S[i]!)))) >>> 0;
      a = t;
    }
    a0 = (a0 + a) >>> 0;
    b0 = (b0 + b) >>> 0;
    c0 = (c0 + c) >>> 0;
    d0 = (d0 + d) >>> 0;
  }
  const out = new Uint8Array(16);
  const ov = new DataView(out.buffer);
  ov.setUint32(0, a0, true);
  ov.setUint32(4, b0, true);
  ov.setUint32(8, c0, true);
  ov.setUint32(12, d0, true);
  return out;
}

/** The CHAP response to identifier `id` and `challenge` for `secret`: MD5(id ‖ secret ‖ challenge). */
export function chapResponse(id: number, secret: string, challenge: Uint8Array): Uint8Array {
  const s = new TextEncoder().encode(secret);
  const buf = new Uint8Array(1 + s.length + challenge.length);
  buf[0] = id & 0xff;
  buf.set(s, 1);
  buf.set(challenge, 1 + s.length);
  return md5(buf);
}

/** A binary value as iSCSI text: `0x` and lower-case hex. */
export function encodeBinary(bytes: Uint8Array): string {
  let s = "0x";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/** Decode an iSCSI binary value (`0x` hex or `0b` base64, RFC 7143 §6.1); null when malformed. */
export function decodeBinary(value: string): Uint8Array | null {
  if (/^0[xX]([0-9a-fA-F]{2})+$/.test(value)) {
    const out = new Uint8Array((value.length - 2) / 2);
    for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(value.slice(2 + 2 * i, 4 + 2 * i), 16);
    return out;
  }
  if (/^0[xX][0-9a-fA-F]+$/.test(value)) return decodeBinary(`0x0${value.slice(2)}`); // odd digit count
  if (/^0[bB][A-Za-z0-9+/]+={0,2}$/.test(value)) {
    const bin = atob(value.slice(2));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  }
  return null;
}

/** Compare two byte strings without an early exit on the first difference. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
