/**
 * Virtual device names and numbers of Xen's block protocol (`docs/misc/vbd-interface.txt`): the
 * `virtual-device` node holds a number the guest turns into a name. `xvdX` up to `xvdp` is
 * `(202 << 8) | (disk << 4) | partition`; beyond, the extended form `(1 << 28) | (disk << 8) |
 * partition`; `hdX` and `sdX` are the emulated majors (3/22 and 8); `dN[pM]` names a disk by index.
 */

/** Major number of `xvd` devices. */
export const XEN_VBD_MAJOR = 202;
/** The bit marking an extended virtual-device number. */
export const VDEV_EXTENDED = 1 << 28;
/** Highest disk index (`xvd` names run to `xvdzzz`... the extended form holds 2^20 disks). */
const MAX_DISK = (1 << 20) - 1;

/** `a`, …, `z`, `aa`, … for disk index `n` (Linux's sd/xvd letters). */
export function diskLetters(n: number): string {
  let s = "";
  let i = n;
  do {
    s = String.fromCharCode(97 + (i % 26)) + s;
    i = Math.floor(i / 26) - 1;
  } while (i >= 0);
  return s;
}

function lettersToIndex(letters: string): number {
  let n = 0;
  for (const c of letters) n = n * 26 + (c.charCodeAt(0) - 96);
  return n - 1;
}

/** A parsed virtual device: the disk index, partition (0 = whole disk) and its number. */
export interface Vdev {
  readonly disk: number;
  readonly partition: number;
  readonly number: number;
}

/**
 * Parse `vdev` as xl's disk spec takes it (`xvda`, `xvdb1`, `hdc`, `sda`, `d0p1`, or a number);
 * null when it is not a virtual device.
 */
export function parseVdev(vdev: string): Vdev | null {
  let m = /^xvd([a-z]{1,4})(\d{0,3})$/.exec(vdev);
  if (m) return make(lettersToIndex(m[1]!), m[2] ? Number(m[2]) : 0, "xvd");
  m = /^(hd|sd)([a-z]{1,4})(\d{0,2})$/.exec(vdev);
  if (m) return make(lettersToIndex(m[2]!), m[3] ? Number(m[3]) : 0, m[1] as "hd" | "sd");
  m = /^d(\d{1,7})(?:p(\d{1,3}))?$/.exec(vdev);
  if (m) return make(Number(m[1]), m[2] ? Number(m[2]) : 0, "xvd");
  if (/^\d{1,10}$/.test(vdev)) return fromNumber(Number(vdev));
  return null;
}

function make(disk: number, partition: number, kind: "xvd" | "hd" | "sd"): Vdev | null {
  if (disk < 0 || disk > MAX_DISK) return null;
  if (kind === "hd") {
    if (disk > 3 || partition > 63) return null;
    return { disk, partition, number: (((disk < 2 ? 3 : 22) << 8) | ((disk & 1) << 6) | partition) >>> 0 };
  }
  if (kind === "sd") {
    if (disk > 15 || partition > 15) return null;
    return { disk, partition, number: ((8 << 8) | (disk << 4) | partition) >>> 0 };
  }
  if (disk < 16 && partition < 16)
    return { disk, partition, number: ((XEN_VBD_MAJOR << 8) | (disk << 4) | partition) >>> 0 };
  if (partition > 255) return null;
  return { disk, partition, number: (VDEV_EXTENDED | (disk << 8) | partition) >>> 0 };
}

/** A `virtual-device` number back to its disk and partition (as Linux blkfront's `xlvbd_alloc_gendisk`). */
export function fromNumber(n: number): Vdev | null {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) return null;
  if (n & VDEV_EXTENDED) {
    if (n >>> 29 !== 0) return null;
    return { disk: (n >>> 8) & 0xfffff, partition: n & 0xff, number: n };
  }
  const major = n >>> 8;
  const minor = n & 0xff;
  if (major === XEN_VBD_MAJOR) return { disk: minor >> 4, partition: minor & 15, number: n };
  if (major === 8) return { disk: minor >> 4, partition: minor & 15, number: n };
  if (major === 3 || major === 22)
    return { disk: (major === 3 ? 0 : 2) + (minor >> 6), partition: minor & 63, number: n };
  return null;
}

/** The guest's name for a virtual device: `xvda`, `xvdb3`, … (always `xvd`, as pv guests name them). */
export function vdevName(v: Vdev): string {
  return `xvd${diskLetters(v.disk)}${v.partition > 0 ? v.partition : ""}`;
}
