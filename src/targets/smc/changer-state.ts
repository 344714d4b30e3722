import { constants } from "node:fs";
import { mkdir, open, readFile, rename } from "node:fs/promises";
import { dirname } from "node:path";
import { isValidBarcode } from "../ssc/cartridge-library.js";
import {
  ELEMENT_DATA_TRANSFER,
  ELEMENT_IMPORT_EXPORT,
  ELEMENT_STORAGE,
  ELEMENT_TYPE_NAMES,
  type ElementMap,
  type ElementType,
} from "./elements.js";

/**
 * The changer state file: where every cartridge is, so a restart finds the library as it was
 * left. JSON, written whole to a temporary file, synced and renamed over the old one after every
 * MOVE MEDIUM (so it is always either the old or the new state, never half of each). Only full
 * elements are listed; `source` is the SOURCE STORAGE ELEMENT ADDRESS READ ELEMENT STATUS
 * reports, `imported` the IMPEXP bit of an import/export element (placed by an operator).
 *
 * ```json
 * {
 *   "format": "pvscsi-changer-state",
 *   "version": 1,
 *   "elements": [
 *     { "address": 500, "type": "data-transfer", "barcode": "A00002L6", "source": 1001 },
 *     { "address": 1000, "type": "storage", "barcode": "A00001L6" },
 *     { "address": 10, "type": "import-export", "barcode": "A00009L6", "imported": true }
 *   ]
 * }
 * ```
 */
export const CHANGER_STATE_FORMAT = "pvscsi-changer-state";
export const CHANGER_STATE_VERSION = 1;

/** One full element. */
export interface PlacedCartridge {
  readonly address: number;
  readonly barcode: string;
  /** Last storage (or import/export) element it was moved from, or -1. */
  readonly source: number;
  /** Placed in an import/export element by an operator. */
  readonly imported: boolean;
}

/** Serialise a placement. */
export function encodeChangerState(map: ElementMap, placed: readonly PlacedCartridge[]): string {
  const elements = placed.map((p) => {
    const type = map.types[map.indexOf(p.address)] as ElementType;
    const e: Record<string, unknown> = {
      address: p.address,
      type: ELEMENT_TYPE_NAMES[type],
      barcode: p.barcode,
    };
    if (p.source >= 0) e.source = p.source;
    if (p.imported) e.imported = true;
    return e;
  });
  return `${JSON.stringify({ format: CHANGER_STATE_FORMAT, version: CHANGER_STATE_VERSION, elements }, null, 2)}\n`;
}

/**
 * Parse a state file's text against `map`; returns the placement or why it cannot be used
 * (the caller names the file).
 */
export function decodeChangerState(text: string, map: ElementMap): PlacedCartridge[] | string {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return `not JSON (${(e as Error).message})`;
  }
  if (typeof doc !== "object" || doc === null) return "expected a JSON object";
  const d = doc as Record<string, unknown>;
  if (d.format !== CHANGER_STATE_FORMAT) return `"format" must be "${CHANGER_STATE_FORMAT}"`;
  if (d.version !== CHANGER_STATE_VERSION)
    return `"version" ${JSON.stringify(d.version)} is not supported (expected 1)`;
  if (!Array.isArray(d.elements)) return `"elements" must be an array`;
  const out: PlacedCartridge[] = [];
  const addresses = new Set<number>();
  const barcodes = new Set<string>();
  for (const [i, raw] of d.elements.entries()) {
    const where = `elements[${i}]`;
    if (typeof raw !== "object" || raw === null) return `${where} must be an object`;
    const e = raw as Record<string, unknown>;
    const address = e.address;
    if (typeof address !== "number" || !Number.isInteger(address))
      return `${where}.address must be an integer`;
    const idx = map.indexOf(address);
    if (idx < 0) return `${where}: no element at address ${address}`;
    const type = map.types[idx] as ElementType;
    if (type !== ELEMENT_STORAGE && type !== ELEMENT_IMPORT_EXPORT && type !== ELEMENT_DATA_TRANSFER)
      return `${where}: a ${ELEMENT_TYPE_NAMES[type]} element cannot hold a cartridge`;
    if (e.type !== ELEMENT_TYPE_NAMES[type])
      return `${where}: address ${address} is a ${ELEMENT_TYPE_NAMES[type]} element, not ${JSON.stringify(e.type)}`;
    if (typeof e.barcode !== "string" || !isValidBarcode(e.barcode))
      return `${where}.barcode is not a valid barcode`;
    if (addresses.has(address)) return `${where}: address ${address} is listed twice`;
    if (barcodes.has(e.barcode)) return `${where}: cartridge ${e.barcode} is listed twice`;
    let source = -1;
    if (e.source !== undefined) {
      if (typeof e.source !== "number" || map.indexOf(e.source) < 0)
        return `${where}.source must be an element address`;
      source = e.source;
    }
    if (e.imported !== undefined && typeof e.imported !== "boolean")
      return `${where}.imported must be true or false`;
    addresses.add(address);
    barcodes.add(e.barcode);
    out.push({ address, barcode: e.barcode, source, imported: e.imported === true });
  }
  return out;
}

/** Read a state file: null when it does not exist, a string when it cannot be used. */
export async function readChangerState(
  path: string,
  map: ElementMap,
): Promise<PlacedCartridge[] | string | null> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    return `cannot read: ${(e as Error).message}`;
  }
  return decodeChangerState(text, map);
}

/** Replace the state file atomically and durably (temporary file, fsync, rename, fsync the directory). */
export async function writeChangerState(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o600);
  try {
    await fh.writeFile(text, "utf8");
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  try {
    const d = await open(dirname(path), constants.O_RDONLY);
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // Directories cannot be fsync'd everywhere; the rename itself is atomic.
  }
}
