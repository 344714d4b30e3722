import {
  blkifRequestDiscardLayout,
  blkifRequestIndirectLayout,
  blkifRequestLayout,
  blkifRequestSegmentLayout,
  blkifResponseLayout,
  blkifRingEntries,
  blkifSringLayout,
} from "./blkif-layout.js";
import { grantEntryV1Layout } from "./grant-layout.js";
import type { StructLayout } from "./struct-layout.js";
import {
  scsiifRequestSegmentLayout,
  vscsiifRequestLayout,
  vscsiifResponseLayout,
  vscsiifRingEntries,
  vscsiifSringLayout,
} from "./vscsiif-layout.js";
import { xenstoreDomainInterfaceLayout, xsdSockmsgLayout } from "./xenstore-layout.js";

/**
 * Every structure pvscsi shares with Xen, keyed by Xen's name, in the order `pvscsi abi` prints
 * them. A module that shares a new structure adds its layout here; the C probe in
 * `test/abi` then checks it against Xen's headers automatically.
 */
export const sharedStructs: readonly StructLayout[] = [
  vscsiifRequestLayout,
  vscsiifResponseLayout,
  scsiifRequestSegmentLayout,
  vscsiifSringLayout,
  grantEntryV1Layout,
  xsdSockmsgLayout,
  xenstoreDomainInterfaceLayout,
  blkifRequestLayout,
  blkifRequestDiscardLayout,
  blkifRequestIndirectLayout,
  blkifResponseLayout,
  blkifRequestSegmentLayout,
  blkifSringLayout,
];

/** Ring entry counts for 1, 2, 4 and 8 pages, per ring type. */
export const ringEntries: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  vscsiif: vscsiifRingEntries,
  blkif: blkifRingEntries,
};

/** The stable JSON document of `pvscsi abi --json`. */
export interface AbiDocument {
  structs: Record<string, { size: number; fields: Record<string, { offset: number; size: number }> }>;
  ringEntries: Record<string, Record<string, number>>;
}

/** Build the `pvscsi abi --json` document. */
export function abiDocument(): AbiDocument {
  const structs: AbiDocument["structs"] = {};
  for (const s of sharedStructs) {
    const fields: Record<string, { offset: number; size: number }> = {};
    for (const [name, f] of Object.entries(s.fields)) fields[name] = { offset: f.offset, size: f.size };
    structs[s.name] = { size: s.size, fields };
  }
  const entries: AbiDocument["ringEntries"] = {};
  for (const [tag, counts] of Object.entries(ringEntries)) entries[tag] = { ...counts };
  return { structs, ringEntries: entries };
}
