/** A Linux SCSI address: host, channel, target, LUN. */
export interface Hctl {
  readonly host: number;
  readonly channel: number;
  readonly target: number;
  readonly lun: number;
}

/** Largest host, channel or target number accepted. */
export const MAX_HCT = 0xffff;

/** `h:c:t:l` as Linux prints it. */
export function formatHctl(a: Hctl): string {
  return `${a.host}:${a.channel}:${a.target}:${a.lun}`;
}

/** `h:c:t` of the target. */
export function formatHct(a: Omit<Hctl, "lun">): string {
  return `${a.host}:${a.channel}:${a.target}`;
}

/** Parse `h:c:t:l` (decimal); null when malformed or out of range. */
export function parseHctl(s: string, maxLun: number): Hctl | null {
  const m = /^(\d{1,5}):(\d{1,5}):(\d{1,5}):(\d{1,5})$/.exec(s.trim());
  if (!m) return null;
  const [host, channel, target, lun] = [m[1], m[2], m[3], m[4]].map(Number) as [
    number,
    number,
    number,
    number,
  ];
  if (host > MAX_HCT || channel > MAX_HCT || target > MAX_HCT || lun > maxLun) return null;
  return { host, channel, target, lun };
}

/** Parse `h:c:t` (decimal); null when malformed or out of range. */
export function parseHct(s: string): Omit<Hctl, "lun"> | null {
  const m = /^(\d{1,5}):(\d{1,5}):(\d{1,5})$/.exec(s.trim());
  if (!m) return null;
  const [host, channel, target] = [m[1], m[2], m[3]].map(Number) as [number, number, number];
  if (host > MAX_HCT || channel > MAX_HCT || target > MAX_HCT) return null;
  return { host, channel, target };
}

/** Order of a Linux bus scan: host, then channel, target, LUN. */
export function compareHctl(a: Hctl, b: Hctl): number {
  return a.host - b.host || a.channel - b.channel || a.target - b.target || a.lun - b.lun;
}
