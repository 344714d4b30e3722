import type { ScsiDevice } from "../scsi/device.js";

/** A guest-visible address: the vscsiif request's (channel, id, lun); the vhost is the host. */
export interface VirtualAddress {
  readonly chn: number;
  readonly tgt: number;
  readonly lun: number;
}

/** One translation: a virtual address of this vhost → a physical logical unit of dom0. */
export interface TranslationEntry {
  readonly v: VirtualAddress;
  /** The physical device (`p-dev` resolved by the backend). */
  readonly device: ScsiDevice;
  /** The LUN in the device's own numbering. */
  readonly physLun: number;
  /** `p-dev` as written in xenstore, for logs and `scsi-list`. */
  readonly pdev: string;
}

/**
 * The per-vhost translation table (Linux scsiback's `v2p_entry_lists`). Lookups compare only
 * channel, target and LUN: the `hst` of `v-dev` is ignored, since each vhost is its own host.
 * Keyed by a packed number, so a lookup on the request path allocates nothing.
 */
export class TranslationTable {
  private readonly entries = new Map<number, TranslationEntry>();

  private static key(chn: number, tgt: number, lun: number): number {
    // Each field is a u16 of the request; 48 bits fit a double exactly.
    return (chn * 0x10000 + tgt) * 0x10000 + lun;
  }

  /** Add a translation; false if the virtual address is already used (-EEXIST in Linux). */
  add(entry: TranslationEntry): boolean {
    const k = TranslationTable.key(entry.v.chn, entry.v.tgt, entry.v.lun);
    if (this.entries.has(k)) return false;
    this.entries.set(k, entry);
    return true;
  }

  /** Remove the translation of a virtual address; returns it, or undefined if there was none. */
  remove(chn: number, tgt: number, lun: number): TranslationEntry | undefined {
    const k = TranslationTable.key(chn, tgt, lun);
    const e = this.entries.get(k);
    if (e) this.entries.delete(k);
    return e;
  }

  lookup(chn: number, tgt: number, lun: number): TranslationEntry | undefined {
    return this.entries.get(TranslationTable.key(chn, tgt, lun));
  }

  /** LUNs attached at (chn, tgt), ascending: what the emulated REPORT LUNS lists. */
  lunsAt(chn: number, tgt: number, out: number[]): number[] {
    out.length = 0;
    for (const e of this.entries.values()) if (e.v.chn === chn && e.v.tgt === tgt) out.push(e.v.lun);
    out.sort((a, b) => a - b);
    return out;
  }

  /** Entries attached at (chn, tgt), in no particular order (REPORT LUNS clears their 06/3F/0E). */
  entriesAt(chn: number, tgt: number, out: TranslationEntry[]): TranslationEntry[] {
    out.length = 0;
    for (const e of this.entries.values()) if (e.v.chn === chn && e.v.tgt === tgt) out.push(e);
    return out;
  }

  get size(): number {
    return this.entries.size;
  }

  values(): IterableIterator<TranslationEntry> {
    return this.entries.values();
  }

  clear(): TranslationEntry[] {
    const all = [...this.entries.values()];
    this.entries.clear();
    return all;
  }
}
