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
