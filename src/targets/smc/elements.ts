import { invalidArgument } from "../../xen/errors.js";

/** Element type codes (SMC-3 READ ELEMENT STATUS, ELEMENT TYPE CODE). */
export const ELEMENT_ALL = 0;
export const ELEMENT_TRANSPORT = 1;
export const ELEMENT_STORAGE = 2;
export const ELEMENT_IMPORT_EXPORT = 3;
export const ELEMENT_DATA_TRANSFER = 4;

/** An element type (1–4). */
export type ElementType = 1 | 2 | 3 | 4;

/** Names of element types in the changer state file and messages. */
export const ELEMENT_TYPE_NAMES: Readonly<Record<ElementType, string>> = {
  1: "transport",
  2: "storage",
  3: "import-export",
  4: "data-transfer",
};

/**
 * First element address of each type. The layout tgt's SMC emulation uses (`usr/smc.c`: transport 1,
 * import/export 10, drives 500, slots 1000), which leaves room for 9 transports, 490 mail
 * slots, 500 drives and 64536 storage slots without overlap.
 */
export const FIRST_TRANSPORT = 1;
export const FIRST_IMPORT_EXPORT = 10;
export const FIRST_DATA_TRANSFER = 500;
export const FIRST_STORAGE = 1000;

/** Most elements of each type the layout holds. */
export const MAX_TRANSPORTS = FIRST_IMPORT_EXPORT - FIRST_TRANSPORT;
export const MAX_IMPORT_EXPORT = FIRST_DATA_TRANSFER - FIRST_IMPORT_EXPORT;
export const MAX_DATA_TRANSFER = FIRST_STORAGE - FIRST_DATA_TRANSFER;
export const MAX_STORAGE = 0x10000 - FIRST_STORAGE;

/** Element counts of a changer. */
export interface ElementCounts {
  readonly transports: number;
  readonly slots: number;
  readonly importExport: number;
  readonly drives: number;
}

/**
 * The elements of a changer in ascending address order (which is also type order: transports,
 * import/export, data transfer, storage), with lookups by address. Immutable.
 */
export class ElementMap {
  /** Element types, by element index. */
  readonly types: Uint8Array;
  /** Element addresses, by element index (ascending). */
  readonly addresses: Uint16Array;
  readonly counts: ElementCounts;
  private readonly byAddress = new Map<number, number>();

  constructor(counts: ElementCounts) {
    const check = (name: string, n: number, min: number, max: number) => {
      if (!Number.isInteger(n) || n < min || n > max) throw invalidArgument(name, `${min} to ${max}`, n);
    };
    check("transports", counts.transports, 1, MAX_TRANSPORTS);
    check("import-export", counts.importExport, 0, MAX_IMPORT_EXPORT);
    check("drives", counts.drives, 0, MAX_DATA_TRANSFER);
    check("slots", counts.slots, 1, MAX_STORAGE);
    this.counts = counts;
    const n = counts.transports + counts.importExport + counts.drives + counts.slots;
    this.types = new Uint8Array(n);
    this.addresses = new Uint16Array(n);
    let i = 0;
    const add = (type: ElementType, first: number, count: number) => {
      for (let k = 0; k < count; k++, i++) {
        this.types[i] = type;
        this.addresses[i] = first + k;
        this.byAddress.set(first + k, i);
      }
    };
    add(ELEMENT_TRANSPORT, FIRST_TRANSPORT, counts.transports);
    add(ELEMENT_IMPORT_EXPORT, FIRST_IMPORT_EXPORT, counts.importExport);
    add(ELEMENT_DATA_TRANSFER, FIRST_DATA_TRANSFER, counts.drives);
    add(ELEMENT_STORAGE, FIRST_STORAGE, counts.slots);
  }

  /** Number of elements. */
  get length(): number {
    return this.types.length;
  }

  /** Element index of `address`, or -1. */
  indexOf(address: number): number {
    return this.byAddress.get(address) ?? -1;
  }

  /** First element address of `type`. */
  static first(type: ElementType): number {
    return type === ELEMENT_TRANSPORT
      ? FIRST_TRANSPORT
      : type === ELEMENT_IMPORT_EXPORT
        ? FIRST_IMPORT_EXPORT
        : type === ELEMENT_DATA_TRANSFER
          ? FIRST_DATA_TRANSFER
          : FIRST_STORAGE;
  }

  /** Number of elements of `type`. */
  count(type: ElementType): number {
    const c = this.counts;
    return type === ELEMENT_TRANSPORT
      ? c.transports
      : type === ELEMENT_IMPORT_EXPORT
        ? c.importExport
        : type === ELEMENT_DATA_TRANSFER
          ? c.drives
          : c.slots;
  }
}
