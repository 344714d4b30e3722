import { mkdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { invalidArgument } from "../../xen/errors.js";
import { Cartridge } from "./cartridge.js";
import { MAX_BARCODE_LENGTH, RECORD_HEADER_SIZE } from "./cartridge-format.js";
import { type CartridgeGeometry, openCartridgeFile } from "./file-cartridge.js";
import { MemoryImage } from "./memory-cartridge.js";

/** File name suffix of cartridge files. */
export const CARTRIDGE_SUFFIX = ".pvtape";

/**
 * A barcode pvscsi accepts: 1–32 characters of `A-Z a-z 0-9 _ . -` (an SMC-3 volume identifier
 * that is also a safe file name), e.g. `A00001L6`.
 */
export function isValidBarcode(s: string): boolean {
  return s.length >= 1 && s.length <= MAX_BARCODE_LENGTH && /^[A-Za-z0-9_.-]+$/.test(s) && !/^\.+$/.test(s);
}

/**
 * The default early-warning point for a cartridge of `capacity` bytes: 1/64 of the capacity
 * before the end, at least 64 KiB (so one more large block still fits), at most 1 GiB.
 */
export function defaultEarlyWarning(capacity: number): number {
  const zone = Math.min(1 << 30, Math.max(1 << 16, Math.floor(capacity / 64)));
  return Math.max(0, capacity - Math.min(zone, capacity));
}

/**
 * Where cartridges live when they are not in a drive, by barcode: a directory of cartridge
 * files, or memory. Opening never fails — a bad cartridge comes back with `fault` set — and
 * completes through a callback, synchronously for memory (so a changer over memory cartridges
 * stays synchronous), later for files.
 */
export interface CartridgeLibrary {
  /** The cartridge directory, or null for memory. */
  readonly directory: string | null;
  /** Open the cartridge with `barcode`, creating it on first use. */
  open(barcode: string, cb: (cartridge: Cartridge) => void): void;
}

/** Options shared by the libraries: how new cartridges are made. */
export interface LibraryOptions {
  /** Record-area bytes of a new cartridge. */
  readonly capacity: number;
  /** Early-warning point of a new cartridge (default {@link defaultEarlyWarning}). */
  readonly earlyWarning?: number;
  /** Barcodes whose write-protect tab is set. */
  readonly writeProtected?: ReadonlySet<string>;
  /**
   * Lock a cartridge's file while it is open, so that two hosts never write one cartridge (as
   * QEMU locks its images); throws, naming the holder, when another host has it. The lock is
   * released when the cartridge closes.
   */
  readonly lock?: (path: string) => { release(): void };
}

function geometryOf(options: LibraryOptions): CartridgeGeometry {
  const capacity = options.capacity;
  if (!Number.isSafeInteger(capacity) || capacity < 4 * RECORD_HEADER_SIZE)
    throw invalidArgument("capacity", "at least 128 bytes", capacity);
  const earlyWarning = options.earlyWarning ?? defaultEarlyWarning(capacity);
  if (!Number.isSafeInteger(earlyWarning) || earlyWarning < 0 || earlyWarning >= capacity)
    throw invalidArgument("earlyWarning", `between 0 and capacity (${capacity})`, earlyWarning);
  return { capacity, earlyWarning };
}

/**
 * Cartridges as files `<directory>/<barcode>.pvtape`, created on first use (the directory too).
 * A new file holds a header and nothing else: its size grows with what is written.
 */
export class FileCartridgeLibrary implements CartridgeLibrary {
  private readonly geometry: CartridgeGeometry;
  private readonly writeProtected: ReadonlySet<string>;

  constructor(
    readonly directory: string,
    options: LibraryOptions,
  ) {
    this.geometry = geometryOf(options);
    this.writeProtected = options.writeProtected ?? new Set();
    this.lock = options.lock ?? null;
  }

  private readonly lock: ((path: string) => { release(): void }) | null;

  /** The file of `barcode`. */
  pathOf(barcode: string): string {
    return join(this.directory, `${barcode}${CARTRIDGE_SUFFIX}`);
  }

  open(barcode: string, cb: (cartridge: Cartridge) => void): void {
    this.openAsync(barcode).then(cb, (e: unknown) =>
      cb(Cartridge.faulty(barcode, this.pathOf(barcode), `cartridge ${barcode}: ${(e as Error).message}`)),
    );
  }

  /** {@link open} as a promise. */
  async openAsync(barcode: string): Promise<Cartridge> {
    if (!isValidBarcode(barcode))
      return Cartridge.faulty(barcode, null, `invalid barcode ${JSON.stringify(barcode)}`);
    const path = this.pathOf(barcode);
    try {
      await mkdir(this.directory, { recursive: true });
    } catch (e) {
      return Cartridge.faulty(barcode, path, `cartridge directory ${directoryProblem(this.directory, e)}`);
    }
    // An existing file is locked before it is opened (opening may repair it); a new one once made.
    let lock: { release(): void } | null = null;
    const take = (): string | null => {
      try {
        lock = this.lock?.(path) ?? null;
        return null;
      } catch (e) {
        return `cartridge ${(e as Error).message}`;
      }
    };
    const exists = await stat(path).then(
      () => true,
      () => false,
    );
    if (exists) {
      const refused = take();
      if (refused) return Cartridge.faulty(barcode, path, refused);
    }
    const wp = this.writeProtected.has(barcode);
    const c = await openCartridgeFile(path, {
      barcode,
      create: this.geometry,
      ...(wp ? { writeProtected: true } : {}),
    });
    if (c.fault !== null) {
      (lock as { release(): void } | null)?.release();
      return c;
    }
    if (!exists) {
      const refused = take();
      if (refused) {
        await c.close().catch(() => undefined);
        return Cartridge.faulty(barcode, path, refused);
      }
    }
    if (lock) c.holdLock(lock);
    return c;
  }
}

/** Why `dir` cannot hold cartridges: "is not a directory" rather than mkdir's EEXIST. */
function directoryProblem(dir: string, e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === "EEXIST" || code === "ENOTDIR") return `${dir}: is not a directory`;
  return `${dir}: ${(e as Error).message}`;
}

/** Cartridges in memory, kept across opens for the library's lifetime (a test's "restart"). */
export class MemoryCartridgeLibrary implements CartridgeLibrary {
  readonly directory = null;
  readonly images = new Map<string, MemoryImage>();
  private readonly geometry: CartridgeGeometry;
  private readonly writeProtected: ReadonlySet<string>;

  constructor(options: LibraryOptions) {
    this.geometry = geometryOf(options);
    this.writeProtected = options.writeProtected ?? new Set();
  }

  open(barcode: string, cb: (cartridge: Cartridge) => void): void {
    cb(this.openNow(barcode));
  }

  /** {@link open}, returning the cartridge. */
  openNow(barcode: string): Cartridge {
    if (!isValidBarcode(barcode))
      return Cartridge.faulty(barcode, null, `invalid barcode ${JSON.stringify(barcode)}`);
    let img = this.images.get(barcode);
    if (!img) {
      img = new MemoryImage(barcode, this.geometry.capacity, this.geometry.earlyWarning);
      this.images.set(barcode, img);
    }
    return img.open(this.writeProtected.has(barcode));
  }
}
