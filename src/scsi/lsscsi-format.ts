/**
 * lsscsi's line format (sg3_utils' lsscsi.c `one_sdev_entry`), shared by dom0's device listing
 * and the guest's: `[h:c:t:l]` padded to 13, the short type (7 characters and a space), vendor
 * (8), model (16), revision (4), two spaces, the device node; with `-g`, the node padded to 9
 * and the sg node after two more spaces.
 */

/** lsscsi's `scsi_short_device_types[]`, by peripheral device type. */
const LSSCSI_TYPES = [
  "disk   ",
  "tape   ",
  "printer",
  "process",
  "worm   ",
  "cd/dvd ",
  "scanner",
  "optical",
  "mediumx",
  "comms  ",
  "(0xa)  ",
  "(0xb)  ",
  "storage",
  "enclosu",
  "sim dsk",
  "opti rd",
  "bridge ",
  "osd    ",
  "adi    ",
  "sec man",
  "zbc    ",
  "(0x15) ",
  "(0x16) ",
  "(0x17) ",
  "(0x18) ",
  "(0x19) ",
  "(0x1a) ",
  "(0x1b) ",
  "(0x1c) ",
  "(0x1d) ",
  "wlun   ",
  "no dev ",
];

/** One device as lsscsi shows it. */
export interface LsscsiEntry {
  readonly hctl: string;
  /** Peripheral device type. */
  readonly type: number;
  readonly vendor: string;
  readonly model: string;
  readonly rev: string;
  /** `/dev/sda`, or "-" for a type without an upper driver. */
  readonly dev: string;
  readonly sg: string;
}

/** lsscsi's short type name (without padding). */
export function lsscsiTypeName(type: number): string {
  return (LSSCSI_TYPES[type] ?? "(?)    ").trimEnd();
}

/** One line, without the newline. */
export function formatLsscsiLine(e: LsscsiEntry, generic: boolean): string {
  const head = `${`[${e.hctl}]`.padEnd(13)}${LSSCSI_TYPES[e.type] ?? "(?)    "} ${e.vendor.padEnd(8)} ${e.model.padEnd(16)} ${e.rev.padEnd(4)}  `;
  return generic ? `${head}${e.dev.padEnd(9)}  ${e.sg}` : `${head}${e.dev}`;
}
