import { configError } from "../../xen/errors.js";

/** A boolean: yes/no, true/false, on/off, 1/0; null if none of these. */
export function parseBool(v: string): boolean | null {
  const s = v.toLowerCase();
  if (s === "yes" || s === "true" || s === "on" || s === "1") return true;
  if (s === "no" || s === "false" || s === "off" || s === "0") return false;
  return null;
}

/**
 * The largest size a config may give: sizes are byte offsets in JavaScript numbers, exact up to
 * 2^53 - 1 (`Number.MAX_SAFE_INTEGER`), one byte short of 8 PiB — so `8P` is refused, and the
 * message says so rather than quoting 8 PiB.
 */
export const MAX_SIZE = Number.MAX_SAFE_INTEGER;

/** A size in bytes: digits with an optional K, M, G, T or P suffix (powers of 1024), at most {@link MAX_SIZE}. */
export function parseSize(v: string, where: string): number {
  const m = /^(\d+)\s*([KMGTP]?)(?:i?B)?$/i.exec(v.trim());
  if (!m)
    throw configError(
      where,
      `size must be a number of bytes with an optional K/M/G/T/P suffix, got ${JSON.stringify(v)}`,
    );
  const mult = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4, P: 1024 ** 5 }[
    m[2]!.toUpperCase()
  ]!;
  const n = Number(m[1]) * mult;
  if (!Number.isSafeInteger(n) || n <= 0)
    throw configError(
      where,
      `size must be from 1 byte to ${MAX_SIZE} bytes (8 PiB - 1, e.g. 8191T), got ${JSON.stringify(v)}`,
    );
  return n;
}

/**
 * A WWN as an 8-byte NAA designator: 16 hex digits whose first digit (the NAA field, SPC-4
 * §7.8.6.6) is 2 (IEEE extended), 3 (locally assigned) or 5 (IEEE registered). NAA 6 needs 16
 * bytes and does not fit.
 */
export function parseWwn(v: string, where: string): string {
  const s = v
    .trim()
    .toLowerCase()
    .replace(/^naa\./, "")
    .replace(/^0x/, "");
  if (!/^[0-9a-f]{16}$/.test(s))
    throw configError(where, `wwn must be 16 hex digits, got ${JSON.stringify(v)}`);
  if (!"235".includes(s[0]!)) {
    throw configError(
      where,
      `wwn must start with NAA 2, 3 or 5 (an 8-byte designator), got ${JSON.stringify(v)}`,
    );
  }
  return s;
}

/** A WWN names one port or unit in the whole config. */
export function claimWwn(wwns: Map<string, string>, wwn: string, owner: string, where: string): void {
  const prev = wwns.get(wwn);
  if (prev) throw configError(where, `wwn ${wwn} is already used by ${prev}`);
  wwns.set(wwn, owner);
}
