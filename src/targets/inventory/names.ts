import { TYPE_DISK, TYPE_MEDIUM_CHANGER, TYPE_ROM, TYPE_TAPE } from "../../scsi/device.js";

/**
 * Linux device names, assigned the way the upper-level drivers do it in scan order: `sd` disks
 * get letters a…z, aa…az, ba…, zz, aaa… (`sd_format_disk_name`, bijective base 26); `sr`, `st`
 * (and its no-rewind twin `nst`) and `sch` count from 0 per driver; every device also gets the
 * next `sg` number.
 */

/** The `sd` name of the `index`-th disk (0 → "sda", 25 → "sdz", 26 → "sdaa"). */
export function sdName(index: number): string {
  let s = "";
  let i = index + 1;
  while (i > 0) {
    i--;
    s = String.fromCharCode(0x61 + (i % 26)) + s;
    i = Math.floor(i / 26);
  }
  return `sd${s}`;
}

/** Inverse of {@link sdName} for the letters after "sd"; -1 when not letters. */
export function sdIndex(letters: string): number {
  if (!/^[a-z]+$/.test(letters)) return -1;
  let i = 0;
  for (const ch of letters) i = i * 26 + (ch.charCodeAt(0) - 0x60);
  return i - 1;
}

/** Linux names of one device. */
export interface DeviceNames {
  /** The upper-level driver's node: `sda`, `sr0`, `st0`, `sch0`; null for none. */
  readonly dev: string | null;
  /** A tape's no-rewind node, `nst0`; null for other types. */
  readonly nst: string | null;
  /** The generic node every device has: `sg0`, `sg1`, … in scan order. */
  readonly sg: string;
}

/** Hands out names in scan order: one counter per upper-level driver, plus `sg` for all. */
export class LinuxNamer {
  private sd = 0;
  private sr = 0;
  private st = 0;
  private sch = 0;
  private sg = 0;

  /** Names of the next device found by the scan, of peripheral type `type`. */
  next(type: number): DeviceNames {
    const sg = `sg${this.sg++}`;
    if (type === TYPE_DISK) return { dev: sdName(this.sd++), nst: null, sg };
    if (type === TYPE_ROM) return { dev: `sr${this.sr++}`, nst: null, sg };
    if (type === TYPE_TAPE) {
      const n = this.st++;
      return { dev: `st${n}`, nst: `nst${n}`, sg };
    }
    if (type === TYPE_MEDIUM_CHANGER) return { dev: `sch${this.sch++}`, nst: null, sg };
    return { dev: null, nst: null, sg };
  }
}
