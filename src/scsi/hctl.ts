import { configError } from "../xen/errors.js";

/**
 * A Linux SCSI address: host, channel, target, LUN (`struct scsi_device`'s `host_no:channel:id:lun`).
 * In an xl `vdev` the host is the guest's controller index.
 */
export interface Hctl {
  readonly host: number;
  readonly channel: number;
  readonly target: number;
  readonly lun: number;
}

/** Largest value each field of an {@link Hctl} may take, field by field. */
export type HctlLimits = Partial<Record<keyof Hctl, number>>;

/** Largest host, channel or target number accepted. */
export const MAX_HCT = 0xffff;

/** Default limit of a field: `%u` of libxlu's `sscanf("%u:%u:%u:%llu")`, an unsigned 32-bit value. */
const U32 = 0xffffffff;

const FIELDS = ["host", "channel", "target", "lun"] as const;

/** `h:c:t:l` as Linux prints it. */
export function formatHctl(a: Hctl): string {
  return `${a.host}:${a.channel}:${a.target}:${a.lun}`;
}

/** `h:c:t` of the target. */
export function formatHct(a: Omit<Hctl, "lun">): string {
  return `${a.host}:${a.channel}:${a.target}`;
}

/** Why {@link scanHctl} refused a text: not four decimal fields, or one field out of range. */
export type HctlProblem =
  | { readonly kind: "syntax" }
  | { readonly kind: "range"; readonly field: keyof Hctl; readonly value: number; readonly limit: number };

/**
 * The one `h:c:t:l` scanner (four unsigned decimal fields, surrounding blanks ignored): the
 * address, or why it is not one. Fields past their limit in `max` (default 2^32 - 1) are refused.
 */
export function scanHctl(text: string, max: HctlLimits = {}): Hctl | HctlProblem {
  const m = /^(\d+):(\d+):(\d+):(\d+)$/.exec(text.trim());
  if (!m) return { kind: "syntax" };
  const hctl = { host: Number(m[1]), channel: Number(m[2]), target: Number(m[3]), lun: Number(m[4]) };
  for (const field of FIELDS) {
    const limit = max[field] ?? U32;
    const value = hctl[field];
    if (!Number.isSafeInteger(value) || value > limit) return { kind: "range", field, value, limit };
  }
  return hctl;
}

/**
 * Parse `h:c:t:l` (decimal) as an address the emulated host can hold: host, channel and target
 * at most {@link MAX_HCT}, the LUN at most `maxLun`. Null when malformed or out of range.
 */
export function parseHctl(s: string, maxLun: number): Hctl | null {
  const r = scanHctl(s, { host: MAX_HCT, channel: MAX_HCT, target: MAX_HCT, lun: maxLun });
  return "kind" in r ? null : r;
}

/**
 * Parse `h:c:t:l` from a config file or command line, throwing a `configError` that names
 * `where` and `what` (e.g. `vdev`, `pdev`) and says what was expected.
 */
export function parseHctlOrThrow(text: string, where: string, what: string, max: HctlLimits = {}): Hctl {
  const r = scanHctl(text, max);
  if (!("kind" in r)) return r;
  if (r.kind === "syntax")
    throw configError(where, `${what} '${text}' is not h:c:t:l (four unsigned integers separated by ':')`);
  throw configError(where, `${what} '${text}': ${r.field} ${r.value} is out of range (0..${r.limit})`);
}

/** Parse `h:c:t` (decimal); null when malformed or out of range. */
export function parseHct(s: string): Omit<Hctl, "lun"> | null {
  const m = /^(\d+):(\d+):(\d+)$/.exec(s.trim());
  if (!m) return null;
  const host = Number(m[1]);
  const channel = Number(m[2]);
  const target = Number(m[3]);
  if (host > MAX_HCT || channel > MAX_HCT || target > MAX_HCT) return null;
  return { host, channel, target };
}

/** Order of a Linux bus scan: host, then channel, target, LUN. */
export function compareHctl(a: Hctl, b: Hctl): number {
  return a.host - b.host || a.channel - b.channel || a.target - b.target || a.lun - b.lun;
}
