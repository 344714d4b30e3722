import createDebug from "debug";
import { be16, be24, put16, put24, putAscii } from "../../scsi/cdb.js";
import { type DeviceInfo, type ScsiTask, TYPE_MEDIUM_CHANGER } from "../../scsi/device.js";
import {
  fieldPointer,
  IMPORT_OR_EXPORT_ELEMENT_ACCESSED,
  INVALID_ELEMENT_ADDRESS,
  LUN_NOT_READY_BECOMING_READY,
  LUN_NOT_READY_MANUAL_INTERVENTION_REQUIRED,
  MEDIUM_DESTINATION_ELEMENT_FULL,
  MEDIUM_NOT_PRESENT_TRAY_OPEN,
  MEDIUM_REMOVAL_PREVENTED,
  MEDIUM_SOURCE_ELEMENT_EMPTY,
} from "../../scsi/sense.js";
import { invalidArgument, invalidState } from "../../xen/errors.js";
import {
  CMD_DATA_IN,
  CMD_NEEDS_READY,
  CMD_PR_READ,
  CMD_PR_WRITE,
  HANDLED,
  type Handled,
  usage,
} from "../spc/command.js";
import { VERSION_SMC3 } from "../spc/inquiry.js";
import { ModePage } from "../spc/mode-pages.js";
import { SerialSpcDevice } from "../spc/serial-device.js";
import type { Cartridge } from "../ssc/cartridge.js";
import { type CartridgeLibrary, isValidBarcode } from "../ssc/cartridge-library.js";
import type { TapeDrive } from "../ssc/tape-drive.js";
import {
  encodeChangerState,
  type PlacedCartridge,
  readChangerState,
  writeChangerState,
} from "./changer-state.js";
import {
  ELEMENT_DATA_TRANSFER,
  ELEMENT_IMPORT_EXPORT,
  ELEMENT_STORAGE,
  ELEMENT_TRANSPORT,
  ElementMap,
  FIRST_DATA_TRANSFER,
  FIRST_IMPORT_EXPORT,
  FIRST_STORAGE,
  FIRST_TRANSPORT,
} from "./elements.js";

const log = createDebug("pvscsi:changer");

/** A drive the changer serves, and where the drive sits relative to the changer. */
export interface DataTransferBinding {
  readonly drive: TapeDrive;
  /** SCSI target id and LUN of the drive, for the data transfer element descriptor (SMC-3 READ ELEMENT STATUS). */
  readonly target?: number;
  readonly lun?: number;
  /** False when the drive is on another channel than the changer (NOT BUS). */
  readonly sameBus?: boolean;
}

/** Options of a {@link MediumChanger}. */
export interface MediumChangerOptions {
  /** INQUIRY identity; `type` must be {@link TYPE_MEDIUM_CHANGER}. */
  readonly info: DeviceInfo;
  readonly slots: number;
  readonly importExport?: number;
  readonly transports?: number;
  /** The data transfer elements, in element order: tape drives of the same host. */
  readonly drives: ReadonlyArray<TapeDrive | DataTransferBinding>;
  /** Where the cartridges are opened from when loaded into a drive. */
  readonly library: CartridgeLibrary;
  /** The cartridges of the library; without saved state they fill the storage slots in order. */
  readonly barcodes: readonly string[];
  /** The state file (see `changer-state.ts`); null or absent: the placement is not kept. */
  readonly stateFile?: string | null;
  /**
   * Why the state file must not be used (e.g. another host holds its lock): the changer starts
   * faulted, reporting NOT READY, without reading or writing it.
   */
  readonly fault?: string | null;
}

/** Fields of a data transfer element's device identifier (DVCID): vendor, product, serial. */
const DVCID_SERIAL_MIN = 10;

/**
 * A medium changer (SMC-3): an autoloader or library with medium transport, storage,
 * import/export and data transfer elements. Its data transfer elements are {@link TapeDrive}s
 * of the same host: MOVE MEDIUM into a drive opens the cartridge from the library and loads it
 * (the drive becomes ready and raises 06/28/00); out of a drive it unloads it first, as most
 * autoloaders and mhvtl do (`move_drive2slot` sends the drive an unload), unless an initiator
 * holds PREVENT MEDIUM REMOVAL on the drive: 05/53/02. mtx's `unload` therefore works without a
 * prior `mt offline`.
 *
 * READ ELEMENT STATUS builds one element status page per element type run in address order
 * (type 0 reports all of them, each with a correct page header — tgt corrupts this), primary
 * volume tags when VOLTAG is set (32-byte identifier, space padded, SMC-3 volume tag information), device
 * identifiers of the drives when DVCID is set. The byte count is always that of the full report;
 * the allocation length only cuts what is sent.
 *
 * The placement of cartridges is kept in a state file (`changer-state.ts`) written after every
 * move, so a restart finds them where they were, including those in drives.
 */
export class MediumChanger extends SerialSpcDevice {
  readonly elements: ElementMap;
  private readonly library: CartridgeLibrary;
  private readonly stateFile: string | null;
  private readonly bindings: DataTransferBinding[];
  /** Cartridge in each storage and import/export element (drives know their own). */
  private readonly barcodeAt: Array<string | null>;
  private readonly sourceOf: Int32Array;
  private readonly imported: Uint8Array;
  private readonly ieOpen: Uint8Array;
  private readonly firstDrive: number;
  private readonly firstIe: number;
  private readonly dvcidSerialWidth: number;
  private readonly report: Uint8Array;
  private faultReason: string | null = null;
  private restoring = 0;
  /** Resolves when the drives hold what the saved state says they held. */
  readonly ready: Promise<void>;
  private resolveReady: () => void = () => {};

  constructor(options: MediumChangerOptions, saved: PlacedCartridge[] | string | null = null) {
    super(options.info, { swp: false });
    if (options.info.type !== TYPE_MEDIUM_CHANGER)
      throw invalidArgument("info.type", "TYPE_MEDIUM_CHANGER (8)", options.info.type);
    this.bindings = options.drives.map((d) => ("drive" in d ? d : { drive: d }));
    this.elements = new ElementMap({
      transports: options.transports ?? 1,
      slots: options.slots,
      importExport: options.importExport ?? 0,
      drives: this.bindings.length,
    });
    const map = this.elements;
    this.library = options.library;
    this.stateFile = options.stateFile ?? null;
    this.barcodeAt = new Array(map.length).fill(null);
    this.sourceOf = new Int32Array(map.length).fill(-1);
    this.imported = new Uint8Array(map.length);
    this.ieOpen = new Uint8Array(map.count(ELEMENT_IMPORT_EXPORT));
    this.firstDrive = map.indexOf(FIRST_DATA_TRANSFER);
    this.firstIe = map.indexOf(FIRST_IMPORT_EXPORT);
    for (const bc of options.barcodes) {
      if (!isValidBarcode(bc)) throw invalidArgument("barcode", "1-32 of A-Z a-z 0-9 _ . -", bc);
    }
    let serial = DVCID_SERIAL_MIN;
    for (const b of this.bindings) serial = Math.max(serial, b.drive.info.serial.length);
    this.dvcidSerialWidth = serial;
    this.report = new Uint8Array(8 + 4 * 8 + map.length * (16 + 36 + 24 + serial));
    this.addModePages();
    this.defineCommands();
    this.ready = new Promise((resolve) => {
      this.resolveReady = resolve;
    });
    if (typeof saved === "string") {
      this.faultReason = `changer state ${this.stateFile ?? ""}: ${saved}`;
      log("%s", this.faultReason);
      this.resolveReady();
    } else {
      this.place(options.barcodes, saved);
    }
  }

  /** A changer whose placement comes from its state file (when there is one); drives restored. */
  static async open(options: MediumChangerOptions): Promise<MediumChanger> {
    const saved = options.fault
      ? options.fault
      : options.stateFile
        ? await readChangerState(options.stateFile, new ElementMap(countsOf(options)))
        : null;
    const c = new MediumChanger(options, saved);
    if (options.fault) c.faultReason = options.fault; // says which file itself
    await c.ready;
    return c;
  }

  /** Why the changer cannot work (its state file is unusable), or null. */
  get fault(): string | null {
    return this.faultReason;
  }

  /** The data transfer elements' drives, in element order. */
  get drives(): readonly TapeDrive[] {
    return this.bindings.map((b) => b.drive);
  }

  /** Where each cartridge is: element address → barcode, for full elements. */
  placement(): Map<number, string> {
    const out = new Map<number, string>();
    for (let i = 0; i < this.elements.length; i++) {
      const bc = this.barcodeOf(i);
      if (bc !== null) out.set(this.elements.addresses[i]!, bc);
    }
    return out;
  }

  // ---- placement --------------------------------------------------------------------------------

  private place(barcodes: readonly string[], saved: PlacedCartridge[] | null): void {
    const map = this.elements;
    const known = new Set(barcodes);
    const placed = new Set<string>();
    const toDrives: Array<[number, string]> = [];
    for (const p of saved ?? []) {
      if (!known.has(p.barcode)) {
        log("changer state: cartridge %s is no longer configured; dropped", p.barcode);
        continue;
      }
      const i = map.indexOf(p.address);
      if (map.types[i] === ELEMENT_DATA_TRANSFER) {
        if (this.driveAt(i).cartridge !== null) continue;
        toDrives.push([i, p.barcode]);
      } else {
        this.barcodeAt[i] = p.barcode;
        this.imported[i] = p.imported ? 1 : 0;
      }
      this.sourceOf[i] = p.source;
      placed.add(p.barcode);
    }
    // Configured cartridges the state does not know go to the first empty slots.
    let slot = map.indexOf(FIRST_STORAGE);
    for (const bc of barcodes) {
      if (placed.has(bc)) continue;
      while (slot < map.length && this.barcodeAt[slot] !== null) slot++;
      if (slot >= map.length) {
        log("changer: no empty slot for cartridge %s; left out", bc);
        continue;
      }
      this.barcodeAt[slot] = bc;
      placed.add(bc);
    }
    if (toDrives.length === 0) {
      this.resolveReady();
      return;
    }
    this.restoring = toDrives.length;
    for (const [i, bc] of toDrives) {
      this.library.open(bc, (cart) => {
        const drive = this.driveAt(i);
        if (drive.cartridge === null) drive.insert(cart);
        if (--this.restoring === 0) this.resolveReady();
      });
    }
  }

  private driveAt(elementIndex: number): TapeDrive {
    return this.bindings[elementIndex - this.firstDrive]!.drive;
  }

  /** The cartridge in element `i`, or null. */
  private barcodeOf(i: number): string | null {
    const t = this.elements.types[i];
    if (t === ELEMENT_DATA_TRANSFER) return this.driveAt(i).cartridge?.barcode ?? null;
    if (t === ELEMENT_TRANSPORT) return null;
    return this.barcodeAt[i]!;
  }

  private snapshot(): PlacedCartridge[] {
    const out: PlacedCartridge[] = [];
    for (let i = 0; i < this.elements.length; i++) {
      const bc = this.barcodeOf(i);
      if (bc === null) continue;
      out.push({
        address: this.elements.addresses[i]!,
        barcode: bc,
        source: this.sourceOf[i]!,
        imported: this.imported[i] === 1,
      });
    }
    return out;
  }

  /** Save the placement (when there is a state file), then `done`. */
  private persist(done: () => void): void {
    const path = this.stateFile;
    if (path === null) {
      done();
      return;
    }
    writeChangerState(path, encodeChangerState(this.elements, this.snapshot())).then(done, (e: unknown) => {
      log("changer state %s: cannot save: %O", path, e);
      done();
    });
  }

  // ---- operator side (the mail slot) ----------------------------------------------------------

  /**
   * An operator puts cartridge `barcode` into import/export element `ordinal` (0-based): IMPEXP
   * set, 06/28/01 IMPORT OR EXPORT ELEMENT ACCESSED on every I_T nexus (SMC-3).
   */
  async operatorInsert(barcode: string, ordinal = 0): Promise<void> {
    if (!isValidBarcode(barcode)) throw invalidArgument("barcode", "1-32 of A-Z a-z 0-9 _ . -", barcode);
    const i = this.ieIndex(ordinal);
    for (let k = 0; k < this.elements.length; k++) {
      if (this.barcodeOf(k) === barcode)
        throw invalidState(`cartridge ${barcode}`, "is already in the library");
    }
    if (this.barcodeAt[i] !== null) throw invalidState(`import/export element ${ordinal}`, "is full");
    await this.idle();
    this.barcodeAt[i] = barcode;
    this.imported[i] = 1;
    this.sourceOf[i] = -1;
    this.queueUaAll(IMPORT_OR_EXPORT_ELEMENT_ACCESSED);
    await new Promise<void>((resolve) => this.persist(resolve));
  }

  /** An operator takes the cartridge out of import/export element `ordinal`; refused under PREVENT. */
  async operatorRemove(ordinal = 0): Promise<string> {
    const i = this.ieIndex(ordinal);
    if (this.removalPrevented())
      throw invalidState(`import/export element ${ordinal}`, "medium removal is prevented");
    const bc = this.barcodeAt[i];
    if (bc === null || bc === undefined) throw invalidState(`import/export element ${ordinal}`, "is empty");
    await this.idle();
    this.barcodeAt[i] = null;
    this.imported[i] = 0;
    this.sourceOf[i] = -1;
    this.queueUaAll(IMPORT_OR_EXPORT_ELEMENT_ACCESSED);
    await new Promise<void>((resolve) => this.persist(resolve));
    return bc;
  }

  private ieIndex(ordinal: number): number {
    const n = this.elements.count(ELEMENT_IMPORT_EXPORT);
    if (!Number.isInteger(ordinal) || ordinal < 0 || ordinal >= n)
      throw invalidArgument("import/export element", `0 to ${n - 1}`, ordinal);
    return this.firstIe + ordinal;
  }

  // ---- SPC hooks --------------------------------------------------------------------------------

  protected override notReadyCode(): number {
    if (this.faultReason !== null) return LUN_NOT_READY_MANUAL_INTERVENTION_REQUIRED;
    if (this.restoring > 0) return LUN_NOT_READY_BECOMING_READY;
    return 0;
  }

  protected override versionDescriptors(): readonly number[] {
    return [VERSION_SMC3];
  }

  private addModePages(): void {
    const m = this.elements;
    const c = m.counts;
    // Element Address Assignment (SMC-3).
    const eaa = [0x1d, 0x12];
    for (const [first, n] of [
      [FIRST_TRANSPORT, c.transports],
      [FIRST_STORAGE, c.slots],
      [FIRST_IMPORT_EXPORT, c.importExport],
      [FIRST_DATA_TRANSFER, c.drives],
    ] as const) {
      eaa.push(first >>> 8, first & 0xff, n >>> 8, n & 0xff);
    }
    eaa.push(0, 0);
    this.modePages.add(new ModePage(0x1d, 0, eaa, new Array(eaa.length).fill(0)));
    // Transport Geometry Parameters (SMC-3): no rotation (INVERT is not supported).
    const tg = [0x1e, 2 * c.transports];
    for (let i = 0; i < c.transports; i++) tg.push(0x00, i);
    this.modePages.add(new ModePage(0x1e, 0, tg, new Array(tg.length).fill(0)));
    // Device Capabilities (SMC-3): storage, mail slots and drives hold media; MOVE
    // MEDIUM between any two of them; transports store nothing; no EXCHANGE MEDIUM.
    const ie = c.importExport > 0 ? 0x04 : 0;
    const stor = 0x08 | ie | 0x02;
    this.modePages.add(
      new ModePage(
        0x1f,
        0,
        [0x1f, 0x12, stor, 0, 0, stor, ie ? stor : 0, stor, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        new Array(20).fill(0),
      ),
    );
  }

  // ---- commands ---------------------------------------------------------------------------------

  private defineCommands(): void {
    const d = (op: number, name: string, u: Uint8Array, flags: number, run: (t: ScsiTask) => Handled) =>
      this.define(op, -1, name, u, flags, run);
    d(0x07, "INITIALIZE ELEMENT STATUS", usage(0x07, 0, 0, 0, 0, 0x07), CMD_NEEDS_READY | CMD_PR_WRITE, (t) =>
      this.good(t, 0),
    );
    d(
      0x1b,
      "OPEN/CLOSE IMPORT/EXPORT ELEMENT",
      usage(0x1b, 0, 0xff, 0xff, 0x1f, 0x07),
      CMD_NEEDS_READY | CMD_PR_WRITE,
      (t) => this.openCloseIe(t),
    );
    d(0x1e, "PREVENT ALLOW MEDIUM REMOVAL", usage(0x1e, 0, 0, 0, 0x03, 0x07), CMD_PR_WRITE, (t) => {
      const v = t.cdb[4]! & 0x03;
      if (v > 1) return this.invalidField(t, 4, 1);
      this.nexusFor(t.initiator).prevent = v === 1;
      return this.good(t, 0);
    });
    d(
      0x2b,
      "POSITION TO ELEMENT",
      usage(0x2b, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0x01, 0x07),
      CMD_NEEDS_READY | CMD_PR_WRITE,
      (t) => this.positionToElement(t),
    );
    d(
      0x37,
      "INITIALIZE ELEMENT STATUS WITH RANGE",
      usage(0x37, 0x03, 0xff, 0xff, 0, 0, 0xff, 0xff, 0, 0x07),
      CMD_NEEDS_READY | CMD_PR_WRITE,
      (t) => this.initializeRange(t),
    );
    d(
      0xa5,
      "MOVE MEDIUM",
      usage(0xa5, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0x01, 0x07),
      CMD_NEEDS_READY | CMD_PR_WRITE,
      (t) => this.moveMedium(t),
    );
    d(
      0xb8,
      "READ ELEMENT STATUS",
      usage(0xb8, 0x1f, 0xff, 0xff, 0xff, 0xff, 0x03, 0xff, 0xff, 0xff, 0, 0x07),
      CMD_NEEDS_READY | CMD_DATA_IN | CMD_PR_READ,
      (t) => this.readElementStatus(t),
    );
  }

  /** 05/21/01 INVALID ELEMENT ADDRESS pointing at the address field at `byte`. */
  private badAddress(task: ScsiTask, byte: number): Handled {
    return this.check(task, INVALID_ELEMENT_ADDRESS, fieldPointer(true, byte, 7));
  }

  private isTransport(address: number): boolean {
    const i = this.elements.indexOf(address);
    return i >= 0 && this.elements.types[i] === ELEMENT_TRANSPORT;
  }

  private initializeRange(task: ScsiTask): Handled {
    if ((task.cdb[1]! & 0x01) !== 0 && this.elements.indexOf(be16(task.cdb, 2)) < 0)
      return this.badAddress(task, 2);
    return this.good(task, 0);
  }

  private positionToElement(task: ScsiTask): Handled {
    const cdb = task.cdb;
    if (cdb[8]! & 0x01) return this.invalidField(task, 8, 0); // INVERT
    const transport = be16(cdb, 2);
    if (transport !== 0 && !this.isTransport(transport)) return this.badAddress(task, 2);
    const i = this.elements.indexOf(be16(cdb, 4));
    if (i < 0 || this.elements.types[i] === ELEMENT_TRANSPORT) return this.badAddress(task, 4);
    return this.good(task, 0);
  }

  private openCloseIe(task: ScsiTask): Handled {
    const i = this.elements.indexOf(be16(task.cdb, 2));
    if (i < 0 || this.elements.types[i] !== ELEMENT_IMPORT_EXPORT) return this.badAddress(task, 2);
    const action = task.cdb[4]! & 0x1f;
    if (action > 1) return this.invalidField(task, 4, 4);
    if (action === 0 && this.removalPrevented()) return this.check(task, MEDIUM_REMOVAL_PREVENTED);
    this.ieOpen[i - this.firstIe] = action === 0 ? 1 : 0;
    return this.good(task, 0);
  }

  private moveMedium(task: ScsiTask): Handled {
    const cdb = task.cdb;
    const map = this.elements;
    // Page 1Eh reports no rotation: INVERT is refused (SMC-3 MOVE MEDIUM).
    if (cdb[10]! & 0x01) return this.invalidField(task, 10, 0);
    const transport = be16(cdb, 2);
    if (transport !== 0 && !this.isTransport(transport)) return this.badAddress(task, 2);
    const src = be16(cdb, 4);
    const dst = be16(cdb, 6);
    const si = map.indexOf(src);
    if (si < 0 || map.types[si] === ELEMENT_TRANSPORT) return this.badAddress(task, 4);
    const di = map.indexOf(dst);
    if (di < 0 || map.types[di] === ELEMENT_TRANSPORT) return this.badAddress(task, 6);
    const barcode = this.barcodeOf(si);
    if (barcode === null) return this.check(task, MEDIUM_SOURCE_ELEMENT_EMPTY);
    if (si === di) return this.good(task, 0);
    if (this.barcodeOf(di) !== null) return this.check(task, MEDIUM_DESTINATION_ELEMENT_FULL);
    const st = map.types[si]!;
    const dt = map.types[di]!;
    if (
      (st === ELEMENT_IMPORT_EXPORT && this.ieOpen[si - this.firstIe]) ||
      (dt === ELEMENT_IMPORT_EXPORT && this.ieOpen[di - this.firstIe])
    )
      return this.check(task, MEDIUM_NOT_PRESENT_TRAY_OPEN);
    // Exporting through the mail slot is removal from the library (SMC-3 PREVENT ALLOW MEDIUM
    // REMOVAL); a drive whose initiator prevents removal keeps its cartridge (SSC-3).
    if (dt === ELEMENT_IMPORT_EXPORT && this.removalPrevented())
      return this.check(task, MEDIUM_REMOVAL_PREVENTED);
    if (st === ELEMENT_DATA_TRANSFER && this.driveAt(si).removalIsPrevented)
      return this.check(task, MEDIUM_REMOVAL_PREVENTED);
    const source = st === ELEMENT_DATA_TRANSFER ? this.sourceOf[si]! : src;
    this.deferred = true;
    if (st === ELEMENT_DATA_TRANSFER) {
      this.driveAt(si).take((cart, prevented) => {
        if (prevented) {
          this.check(task, MEDIUM_REMOVAL_PREVENTED);
          return;
        }
        this.sourceOf[si] = -1;
        this.deliver(task, cart?.barcode ?? barcode, di, source);
      });
      return HANDLED;
    }
    this.barcodeAt[si] = null;
    this.imported[si] = 0;
    this.sourceOf[si] = -1;
    this.deliver(task, barcode, di, source);
    return HANDLED;
  }

  /** Put `barcode` into element `di` (opening it into a drive), save the placement, complete. */
  private deliver(task: ScsiTask, barcode: string, di: number, source: number): void {
    const finish = () => this.persist(() => this.good(task, 0));
    this.sourceOf[di] = source;
    if (this.elements.types[di] === ELEMENT_DATA_TRANSFER) {
      const drive = this.driveAt(di);
      this.library.open(barcode, (cart: Cartridge) => {
        drive.insert(cart);
        finish();
      });
      return;
    }
    this.barcodeAt[di] = barcode;
    this.imported[di] = 0;
    finish();
  }

  // ---- READ ELEMENT STATUS ----------------------------------------------------------------------

  private descriptorLength(type: number, voltag: boolean, dvcid: boolean): number {
    return (
      12 + (voltag ? 36 : 0) + 4 + (type === ELEMENT_DATA_TRANSFER && dvcid ? 24 + this.dvcidSerialWidth : 0)
    );
  }

  private readElementStatus(task: ScsiTask): Handled {
    const cdb = task.cdb;
    const voltag = (cdb[1]! & 0x10) !== 0;
    const type = cdb[1]! & 0x0f;
    if (type > ELEMENT_DATA_TRANSFER) return this.invalidField(task, 1, 3);
    const start = be16(cdb, 2);
    const max = be16(cdb, 4);
    const dvcid = (cdb[6]! & 0x01) !== 0;
    const alloc = be24(cdb, 7);
    const map = this.elements;
    let first = -1;
    for (let i = 0; i < map.length; i++) {
      if (map.addresses[i]! >= start && (type === 0 || map.types[i] === type)) {
        first = i;
        break;
      }
    }
    // SMC-3 READ ELEMENT STATUS: no element of the type at or above the starting address.
    if (first < 0) return this.badAddress(task, 2);
    const b = this.report;
    let n = 8;
    let reported = 0;
    let page = -1;
    let pageType = -1;
    let length = 0;
    for (let i = first; i < map.length && reported < max; i++) {
      const t = map.types[i]!;
      if (type !== 0 && t !== type) break; // types are contiguous in address order
      if (t !== pageType) {
        if (page >= 0) put24(b, page + 5, n - page - 8);
        page = n;
        pageType = t;
        length = this.descriptorLength(t, voltag, dvcid);
        b[n] = t;
        b[n + 1] = voltag ? 0x80 : 0; // PVOLTAG; no alternate volume tags
        put16(b, n + 2, length);
        b[n + 4] = 0;
        n += 8;
      }
      this.writeDescriptor(b, n, i, voltag, dvcid, length);
      n += length;
      reported++;
    }
    if (page >= 0) put24(b, page + 5, n - page - 8);
    put16(b, 0, map.addresses[first]!);
    put16(b, 2, reported);
    b[4] = 0;
    put24(b, 5, n - 8);
    return this.sendData(task, b, n, alloc);
  }

  private writeDescriptor(
    b: Uint8Array,
    n: number,
    i: number,
    voltag: boolean,
    dvcid: boolean,
    length: number,
  ): void {
    const map = this.elements;
    const t = map.types[i]!;
    const bc = this.barcodeOf(i);
    b.fill(0, n, n + length);
    put16(b, n, map.addresses[i]!);
    let flags = bc !== null ? 0x01 : 0; // FULL
    if (t === ELEMENT_STORAGE || t === ELEMENT_DATA_TRANSFER) flags |= 0x08; // ACCESS
    if (t === ELEMENT_IMPORT_EXPORT) {
      flags |= 0x20 | 0x10; // INENAB | EXENAB
      if (!this.ieOpen[i - this.firstIe]) flags |= 0x08; // ACCESS: the robot can reach it
      if (this.imported[i]) flags |= 0x02; // IMPEXP: placed by an operator
    }
    if (t === ELEMENT_DATA_TRANSFER) {
      const binding = this.bindings[i - this.firstDrive]!;
      if (binding.drive.fault !== null) {
        flags |= 0x04; // EXCEPT, with the reason in ASC/ASCQ (MEDIUM FORMAT CORRUPTED)
        b[n + 4] = 0x31;
        b[n + 5] = 0x00;
      }
      if (binding.target !== undefined) {
        const lun = binding.lun ?? 0;
        b[n + 6] = (binding.sameBus === false ? 0x80 : 0) | 0x20 | (lun <= 7 ? 0x10 | lun : 0);
        b[n + 7] = binding.target & 0xff;
      }
    }
    b[n + 2] = flags;
    if (bc !== null) {
      const src = this.sourceOf[i]!;
      b[n + 9] = (src >= 0 ? 0x80 : 0) | 0x01; // SVALID | MEDIUM TYPE data
      if (src >= 0) put16(b, n + 10, src);
    }
    let at = n + 12;
    if (voltag) {
      // Primary volume tag: 32-byte identifier, space padded, 2 reserved, sequence number 0.
      if (bc !== null) putAscii(b, at, bc, 32);
      at += 36;
    }
    if (t === ELEMENT_DATA_TRANSFER && dvcid) {
      // Device identifier (SMC-3 READ ELEMENT STATUS): ASCII, T10 vendor ID based: vendor, product, serial.
      const info = this.bindings[i - this.firstDrive]!.drive.info;
      b[at] = 0x02;
      b[at + 1] = 0x01;
      b[at + 3] = 24 + this.dvcidSerialWidth;
      putAscii(b, at + 4, info.vendor, 8);
      putAscii(b, at + 12, info.product, 16);
      putAscii(b, at + 28, info.serial, this.dvcidSerialWidth);
    }
  }
}

function countsOf(options: MediumChangerOptions) {
  return {
    transports: options.transports ?? 1,
    slots: options.slots,
    importExport: options.importExport ?? 0,
    drives: options.drives.length,
  };
}
