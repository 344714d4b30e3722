import { put16, put24, put32, putAscii } from "../../scsi/cdb.js";
import { invalidArgument } from "../../xen/errors.js";

/**
 * A recording density (SSC-3 REPORT DENSITY SUPPORT, density support data block descriptor). The LTO
 * figures are those LTO drives report (the values mhvtl's Ultrium personalities carry).
 */
export interface Density {
  /** Density code (mode parameter block descriptor byte 0). */
  readonly code: number;
  readonly bitsPerMm: number;
  /** Medium width in tenths of a millimetre. */
  readonly width: number;
  readonly tracks: number;
  /** Native capacity in megabytes (10^6 bytes). */
  readonly capacityMB: number;
  readonly organization: string;
  readonly name: string;
  readonly description: string;
}

/** LTO densities by generation. */
export const LTO_DENSITIES: Readonly<Record<number, Density>> = {
  3: lto(0x44, 9638, 704, 400000, "U-316", "Ultrium 3/16T"),
  4: lto(0x46, 12725, 896, 800000, "U-416", "Ultrium 4/16T"),
  5: lto(0x58, 15142, 1280, 1500000, "U-516", "Ultrium 5/16T"),
  6: lto(0x5a, 15142, 2176, 2500000, "U-616", "Ultrium 6/16T"),
  7: lto(0x5c, 19107, 3584, 6000000, "U-732", "Ultrium 7/32T"),
};

function lto(code: number, bpmm: number, tracks: number, mb: number, name: string, desc: string): Density {
  return {
    code,
    bitsPerMm: bpmm,
    width: 127,
    tracks,
    capacityMB: mb,
    organization: "LTO-CVE",
    name,
    description: desc,
  };
}

/** What a drive does with each density it knows, default first. */
export interface DriveDensities {
  /** Densities the drive writes; the first is its default. */
  readonly writes: readonly Density[];
  /** Densities it only reads. */
  readonly reads: readonly Density[];
}

/**
 * An LTO drive of `generation` (3–7): it writes its own generation (the default) and the one
 * before, and reads two back (the LTO compatibility rule up to LTO-7).
 */
export function ltoDrive(generation: number): DriveDensities {
  const own = LTO_DENSITIES[generation];
  if (!own) throw invalidArgument("LTO generation", "3 to 7", generation);
  const prev = LTO_DENSITIES[generation - 1];
  const old = LTO_DENSITIES[generation - 2];
  return { writes: prev ? [own, prev] : [own], reads: old ? [old] : [] };
}

/** Length of a density support data block. */
export const DENSITY_DESCRIPTOR_LENGTH = 52;

/**
 * REPORT DENSITY SUPPORT parameter data (SSC-3): 4-byte header, then one 52-byte density
 * support data block per density — WRTOK for densities the drive writes, DEFLT for its default,
 * DLV (descriptor length valid, SSC-3). `only` limits the list to one density (MEDIA=1: the
 * mounted medium's). Returns the full length.
 */
export function writeDensitySupport(b: Uint8Array, drive: DriveDensities, only: number | null): number {
  let n = 4;
  const all = [
    ...drive.writes.map((d) => [d, true] as const),
    ...drive.reads.map((d) => [d, false] as const),
  ];
  for (const [d, writable] of all) {
    if (only !== null && d.code !== only) continue;
    b.fill(0, n, n + DENSITY_DESCRIPTOR_LENGTH);
    b[n] = d.code;
    b[n + 1] = d.code;
    b[n + 2] = (writable ? 0x80 : 0) | (d === drive.writes[0] ? 0x20 : 0) | 0x01;
    put16(b, n + 3, DENSITY_DESCRIPTOR_LENGTH - 5);
    put24(b, n + 5, d.bitsPerMm);
    put16(b, n + 8, d.width);
    put16(b, n + 10, d.tracks);
    put32(b, n + 12, d.capacityMB);
    putAscii(b, n + 16, d.organization, 8);
    putAscii(b, n + 24, d.name, 8);
    putAscii(b, n + 32, d.description, 20);
    n += DENSITY_DESCRIPTOR_LENGTH;
  }
  put16(b, 0, n - 2);
  b[2] = 0;
  b[3] = 0;
  return n;
}
