import createDebug from "debug";
import { be16, be24, be32, be64, put24, put32, put64 } from "../../scsi/cdb.js";
import { type DeviceInfo, type ScsiTask, TYPE_TAPE } from "../../scsi/device.js";
import {
  BEGINNING_OF_PARTITION_MEDIUM_DETECTED,
  END_OF_DATA_DETECTED,
  END_OF_PARTITION_MEDIUM_DETECTED,
  FILEMARK_DETECTED,
  fieldPointer,
  INVALID_FIELD_IN_COMMAND_IU,
  INVALID_FIELD_IN_PARAMETER_LIST,
  LUN_NOT_READY_INITIALIZING_COMMAND_REQUIRED,
  MEDIUM_NOT_PRESENT,
  MEDIUM_REMOVAL_PREVENTED,
  NO_ADDITIONAL_SENSE,
  NOT_READY_MEDIUM_FORMAT_CORRUPTED,
  NOT_READY_MEDIUM_REMOVAL_PREVENTED,
  NOT_READY_TO_READY_CHANGE,
  POSITION_PAST_BEGINNING_OF_MEDIUM,
  SAVING_PARAMETERS_NOT_SUPPORTED,
  SENSE_EOM,
  SENSE_FILEMARK,
  SENSE_ILI,
  UNRECOVERED_READ_ERROR,
  VOLUME_OVERFLOW_END_OF_PARTITION,
  WRITE_ERROR,
  WRITE_PROTECTED,
} from "../../scsi/sense.js";
import { invalidArgument } from "../../xen/errors.js";
import {
  CMD_DATA_IN,
  CMD_DATA_OUT,
  CMD_NEEDS_READY,
  CMD_PR_READ,
  CMD_PR_WRITE,
  HANDLED,
  type Handled,
  usage,
} from "../spc/command.js";
import { VERSION_SSC3 } from "../spc/inquiry.js";
import { ModePage } from "../spc/mode-pages.js";
import { SerialSpcDevice } from "../spc/serial-device.js";
import type { Cartridge } from "./cartridge.js";
import {
  checkRecordHeader,
  crcOf,
  EMPTY_CRC,
  encodeRecordHeader,
  RECORD_DATA,
  RECORD_FILEMARK,
  RECORD_HEADER_SIZE,
  recordCrc,
  recordLength,
} from "./cartridge-format.js";
import { type DriveDensities, ltoDrive, writeDensitySupport } from "./densities.js";
import {
  lastParameterCode,
  TAPE_ALERT_READ_FAILURE,
  TAPE_ALERT_WRITE_FAILURE,
  TAPE_ALERT_WRITE_PROTECT,
  TAPE_LOG_PAGES,
  TapeCounters,
  writeLogPage,
} from "./tape-log.js";

const log = createDebug("pvscsi:tape");

/** Largest logical block (READ BLOCK LIMITS MAXIMUM BLOCK LENGTH LIMIT, as LTO drives report). */
export const TAPE_MAX_BLOCK = 0x800000;
/** Largest transfer of one READ/WRITE (fixed mode: blocks × block length). */
export const TAPE_MAX_TRANSFER = 1 << 26;
/** Most filemarks one WRITE FILEMARKS writes: bounds the work a CDB can ask for. */
export const MAX_FILEMARKS_PER_COMMAND = 1024;

/** Where the cartridge is: none, in the drive but not threaded (after UNLOAD), or loaded. */
export type TapeState = "empty" | "unloaded" | "loaded";

/** Options of a {@link TapeDrive}. */
export interface TapeDriveOptions {
  /** INQUIRY identity; `type` must be {@link TYPE_TAPE}. */
  readonly info: DeviceInfo;
  /** LTO generation (3–7) deciding the densities (default 6). */
  readonly generation?: number;
}

/** READ(6) outcomes decided before the data is read. */
const STOP_ALL = 0;
const STOP_FILEMARK = 1;
const STOP_EOD = 2;
const STOP_ILI = 3;

/**
 * A sequential-access device (SSC-3): an LTO-like tape drive holding at most one
 * {@link Cartridge}. Positioning is arithmetic on the cartridge's index; data moves through its
 * store (synchronous in RAM, asynchronous for files), one command at a time.
 *
 * Sense follows SSC-3 and the reference's tape table (what real drives and mhvtl do, where
 * tgt is wrong):
 * - READ at a filemark: NO SENSE + FILEMARK, 00/01, INFORMATION = residue, position after the
 *   mark, no data. At end-of-data: BLANK CHECK 08/00/05, INFORMATION = residue (EOM bit when
 *   past early warning).
 * - Variable READ of a block of another length: NO SENSE + ILI, INFORMATION = requested −
 *   actual (negative when the block is longer), min(requested, actual) bytes transferred,
 *   position after the block. SILI suppresses an underlength report, and an overlength one
 *   while the block length is 0 (SSC-3 READ(6)). Fixed READ: INFORMATION = blocks not read.
 * - WRITE reaching early warning: written, then NO SENSE + EOM, 00/02. Past the physical end:
 *   VOLUME OVERFLOW 0D/00/02 + EOM, not written, INFORMATION = what was not written.
 * - SPACE over a filemark: NO SENSE + FILEMARK 00/01; into end-of-data: BLANK CHECK 08/00/05;
 *   backwards into BOP: NO SENSE + EOM, 00/04. INFORMATION = |count| − |spaced| (SSC-3 forbids
 *   a negative value here; Linux st counts on it).
 * - LOAD UNLOAD with SSC's bits (byte 4: LOAD, RETEN, EOT, HOLD) — tgt reads them as START STOP
 *   UNIT's and gets UNLOAD wrong. A cartridge loaded raises 06/28/00 on the drive.
 * - VPD pages 00h/80h/83h only (tgt lists SBC pages B0h–B2h on tapes).
 */
export class TapeDrive extends SerialSpcDevice {
  private cart: Cartridge | null = null;
  private threaded = false;
  /** Current logical position: the number of objects between BOP and the head. */
  private pos = 0;
  private blockLength = 0;
  private densityCode = 0;
  private bufferedMode = 1;
  private stagedBlockLength = -1;
  private stagedDensity = -1;
  private stagedBuffered = -1;
  private readonly densities: DriveDensities;
  readonly counters = new TapeCounters();
  private bounce = new Uint8Array(1 << 16);

  // State of the command in flight (commands run one at a time).
  private opStart = 0;
  private opRequested = 0;
  private opRecords = 0;
  private opGood = 0;
  private opStop = STOP_ALL;
  private opBlock = 0;
  private opSili = false;
  private opFixed = false;
  private opEarlyWarning = false;

  constructor(options: TapeDriveOptions) {
    super(options.info, { swp: false });
    if (options.info.type !== TYPE_TAPE)
      throw invalidArgument("info.type", "TYPE_TAPE (1)", options.info.type);
    this.densities = ltoDrive(options.generation ?? 6);
    this.modePages.add(new ModePage(0x00, 0, [0x00, 0x00], [0, 0]));
    // Read-Write Error Recovery (SSC-3): nothing changeable.
    this.modePages.add(
      new ModePage(0x01, 0, [0x01, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], new Array(12).fill(0)),
    );
    // Data Compression (SSC-3): DCC (capable), DDE; DCE changeable. Data is stored as
    // written whatever DCE says: compression is a drive-internal matter invisible to the host.
    this.modePages.add(
      new ModePage(
        0x0f,
        0,
        [0x0f, 0x0e, 0xc0, 0x80, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0],
        [0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      ),
    );
    // Device Configuration (SSC-3): BIS (block identifiers supported), EEG, SEW, default
    // compression algorithm.
    this.modePages.add(
      new ModePage(
        0x10,
        0,
        [0x10, 0x0e, 0, 0, 0, 0, 0, 0, 0x40, 0, 0x18, 0, 0, 0, 1, 0],
        new Array(16).fill(0),
      ),
    );
    // Medium Configuration (SSC-3): not a WORM medium.
    this.modePages.add(new ModePage(0x1d, 0, [0x1d, 0x1e, ...new Array(30).fill(0)], new Array(32).fill(0)));
    this.defineCommands();
  }

  // ---- host side ------------------------------------------------------------------------------

  /** What the drive holds. */
  get state(): TapeState {
    return this.cart === null ? "empty" : this.threaded ? "loaded" : "unloaded";
  }

  /** The cartridge in the drive, if any. */
  get cartridge(): Cartridge | null {
    return this.cart;
  }

  /** Why the cartridge in the drive is unusable, or null. */
  get fault(): string | null {
    return this.cart?.fault ?? null;
  }

  /** Current logical object position (READ POSITION's first block location). */
  get position(): number {
    return this.pos;
  }

  /** Whether an I_T nexus has PREVENT MEDIUM REMOVAL in effect. */
  get removalIsPrevented(): boolean {
    return this.removalPrevented();
  }

  /**
   * A cartridge is put in and loaded (an operator, the changer's MOVE MEDIUM, or the host
   * config's `load`): the drive is at BOP and every I_T nexus gets 06/28/00 NOT READY TO READY
   * CHANGE, MEDIUM MAY HAVE CHANGED (SPC-4 unit attention conditions). The drive must be empty.
   */
  insert(cartridge: Cartridge): void {
    if (this.cart !== null)
      throw invalidArgument("tape drive", "empty to insert a cartridge", this.cart.barcode);
    this.cart = cartridge;
    this.threaded = cartridge.fault === null;
    this.pos = 0;
    if (cartridge.fault) log("%s: cartridge %s: %s", this.info.product, cartridge.barcode, cartridge.fault);
    this.queueUaAll(NOT_READY_TO_READY_CHANGE);
  }

  /**
   * Unload and hand the cartridge over (the changer's MOVE MEDIUM from this drive), after every
   * earlier command. Refused with `removal prevented` while an I_T nexus prevents medium removal
   * (SSC-3 PREVENT ALLOW MEDIUM REMOVAL; the changer reports 05/53/02). The cartridge's file is flushed and closed.
   */
  take(cb: (cartridge: Cartridge | null, prevented: boolean) => void): void {
    this.runExclusive(() => {
      const c = this.cart;
      if (c !== null && this.removalPrevented()) {
        this.jobDone();
        cb(null, true);
        return;
      }
      this.cart = null;
      this.threaded = false;
      this.pos = 0;
      if (c === null) {
        this.jobDone();
        cb(null, false);
        return;
      }
      c.closeThen((e) => {
        if (e) log("%s: closing cartridge %s: %O", this.info.product, c.barcode, e);
        this.jobDone();
        cb(c, false);
      });
    });
  }

  /** {@link take} as a promise (host side: eject whatever is in the drive). */
  eject(): Promise<Cartridge | null> {
    return new Promise((resolve, reject) =>
      this.take((c, prevented) =>
        prevented ? reject(new Error(`${this.info.product}: medium removal prevented`)) : resolve(c),
      ),
    );
  }

  override async close(): Promise<void> {
    await this.idle();
    this.closed = true;
    const c = this.cart;
    if (c) await c.close();
  }

  // ---- SPC hooks --------------------------------------------------------------------------------

  protected override notReadyCode(): number {
    const c = this.cart;
    if (c === null) return MEDIUM_NOT_PRESENT;
    if (c.fault !== null) return NOT_READY_MEDIUM_FORMAT_CORRUPTED;
    // A cartridge in the drive but not loaded waits for LOAD (IBM LTO: 02/04/02 "LOAD required").
    if (!this.threaded) return LUN_NOT_READY_INITIALIZING_COMMAND_REQUIRED;
    return 0;
  }

  protected override versionDescriptors(): readonly number[] {
    return [VERSION_SSC3];
  }

  private get writeProtected(): boolean {
    return this.cart?.writeProtected ?? false;
  }

  /** The density the block descriptor reports: the medium's when written, else the selected one. */
  private currentDensity(): number {
    const written = this.cart?.header?.density ?? 0;
    if (written !== 0) return written;
    return this.densityCode || this.densities.writes[0]!.code;
  }

  protected override deviceSpecificParameter(): number {
    // SSC-3 mode parameter header: WP | BUFFERED MODE | SPEED.
    return (this.writeProtected ? 0x80 : 0) | (this.bufferedMode << 4);
  }

  protected override blockDescriptor(b: Uint8Array, at: number, _long: boolean): number {
    // SSC-3 block descriptor: density code, number of blocks 0, block length (0 = variable).
    b.fill(0, at, at + 8);
    b[at] = this.currentDensity();
    put24(b, at + 5, this.blockLength);
    return 8;
  }

  /** MODE SELECT header and block descriptor: buffered mode, density and block length (0 = variable). */
  protected override checkBlockDescriptors(list: Uint8Array, at: number, length: number): number {
    this.stagedBlockLength = -1;
    this.stagedDensity = -1;
    this.stagedBuffered = -1;
    const dsp = list[at === 4 ? 2 : 3]!;
    const buffered = (dsp >>> 4) & 0x07;
    if (buffered > 2) {
      this.selectSks = fieldPointer(false, at === 4 ? 2 : 3, 6);
      return INVALID_FIELD_IN_PARAMETER_LIST;
    }
    this.stagedBuffered = buffered;
    if (length === 0) return 0;
    if (length !== 8) {
      this.selectSks = fieldPointer(false, at === 4 ? 3 : 6, 7);
      return INVALID_FIELD_IN_PARAMETER_LIST;
    }
    const density = list[at]!;
    // 0 = the default density, 7Fh = no change (SSC-3 block descriptor).
    const known = (d: { code: number }) => d.code === density;
    if (
      density !== 0 &&
      density !== 0x7f &&
      !this.densities.writes.some(known) &&
      !this.densities.reads.some(known)
    ) {
      this.selectSks = fieldPointer(false, at, 7);
      return INVALID_FIELD_IN_PARAMETER_LIST;
    }
    const bl = be24(list, at + 5);
    if (bl > TAPE_MAX_BLOCK) {
      this.selectSks = fieldPointer(false, at + 5, 7);
      return INVALID_FIELD_IN_PARAMETER_LIST;
    }
    this.stagedDensity = density === 0x7f ? -1 : density;
    this.stagedBlockLength = bl;
    return 0;
  }

  protected override modeSelectApplied(): boolean {
    let changed = false;
    if (this.stagedBuffered >= 0 && this.stagedBuffered !== this.bufferedMode) {
      this.bufferedMode = this.stagedBuffered;
      changed = true;
    }
    if (this.stagedDensity >= 0 && this.stagedDensity !== this.densityCode) {
      this.densityCode = this.stagedDensity;
      changed = true;
    }
    if (this.stagedBlockLength >= 0 && this.stagedBlockLength !== this.blockLength) {
      this.blockLength = this.stagedBlockLength;
      changed = true;
    }
    return changed;
  }

  // ---- commands -------------------------------------------------------------------------------

  private defineCommands(): void {
    const d = (op: number, name: string, u: Uint8Array, flags: number, run: (t: ScsiTask) => Handled) =>
      this.define(op, -1, name, u, flags, run);
    const ready = CMD_NEEDS_READY;
    d(0x01, "REWIND", usage(0x01, 0x01, 0, 0, 0, 0x07), ready | CMD_PR_READ, (t) => this.rewind(t));
    d(0x04, "FORMAT MEDIUM", usage(0x04, 0x03, 0x0f, 0xff, 0xff, 0x07), ready | CMD_PR_WRITE, (t) =>
      this.formatMedium(t),
    );
    d(0x05, "READ BLOCK LIMITS", usage(0x05, 0, 0, 0, 0, 0x07), CMD_DATA_IN, (t) => this.readBlockLimits(t));
    d(0x08, "READ(6)", usage(0x08, 0x03, 0xff, 0xff, 0xff, 0x07), ready | CMD_DATA_IN | CMD_PR_READ, (t) =>
      this.read6(t),
    );
    d(0x0a, "WRITE(6)", usage(0x0a, 0x01, 0xff, 0xff, 0xff, 0x07), ready | CMD_DATA_OUT | CMD_PR_WRITE, (t) =>
      this.write6(t),
    );
    d(0x10, "WRITE FILEMARKS(6)", usage(0x10, 0x03, 0xff, 0xff, 0xff, 0x07), ready | CMD_PR_WRITE, (t) =>
      this.writeFilemarks(t),
    );
    d(0x11, "SPACE(6)", usage(0x11, 0x0f, 0xff, 0xff, 0xff, 0x07), ready | CMD_PR_READ, (t) => {
      const c = be24(t.cdb, 2);
      return this.space(t, t.cdb[1]! & 0x0f, c & 0x800000 ? c - 0x1000000 : c, 1);
    });
    d(0x19, "ERASE(6)", usage(0x19, 0x03, 0, 0, 0, 0x07), ready | CMD_PR_WRITE, (t) => this.erase(t));
    d(0x1b, "LOAD UNLOAD", usage(0x1b, 0x01, 0, 0, 0x0f, 0x07), CMD_PR_WRITE, (t) => this.loadUnload(t));
    d(0x1e, "PREVENT ALLOW MEDIUM REMOVAL", usage(0x1e, 0, 0, 0, 0x03, 0x07), CMD_PR_WRITE, (t) =>
      this.preventAllow(t),
    );
    d(
      0x2b,
      "LOCATE(10)",
      usage(0x2b, 0x07, 0, 0xff, 0xff, 0xff, 0xff, 0, 0xff, 0x07),
      ready | CMD_PR_READ,
      (t) => this.locate(t, 0, be32(t.cdb, 3), (t.cdb[1]! & 0x02) !== 0, t.cdb[8]!, 8),
    );
    const rp = (sa: number, name: string, alloc: boolean) =>
      this.define(
        0x34,
        sa,
        `READ POSITION (${name})`,
        usage(0x34, 0x1f, 0, 0, 0, 0, 0, alloc ? 0xff : 0, alloc ? 0xff : 0, 0x07),
        ready | CMD_DATA_IN | CMD_PR_READ,
        (t) => this.readPosition(t, sa),
      );
    rp(0x00, "SHORT FORM - BLOCK ID", false);
    rp(0x01, "SHORT FORM - VENDOR SPECIFIC", false);
    rp(0x06, "LONG FORM", false);
    rp(0x08, "EXTENDED FORM", true);
    d(0x44, "REPORT DENSITY SUPPORT", usage(0x44, 0x03, 0, 0, 0, 0, 0, 0xff, 0xff, 0x07), CMD_DATA_IN, (t) =>
      this.reportDensity(t),
    );
    d(0x4c, "LOG SELECT", usage(0x4c, 0x03, 0xff, 0, 0, 0, 0, 0xff, 0xff, 0x07), CMD_PR_WRITE, (t) =>
      this.logSelect(t),
    );
    d(0x4d, "LOG SENSE", usage(0x4d, 0x01, 0xff, 0xff, 0, 0xff, 0xff, 0xff, 0xff, 0x07), CMD_DATA_IN, (t) =>
      this.logSense(t),
    );
    d(
      0x91,
      "SPACE(16)",
      usage(0x91, 0x0f, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0x07),
      ready | CMD_PR_READ,
      (t) => {
        if (be16(t.cdb, 12) !== 0) return this.invalidField(t, 12, 7); // no parameter data
        const hi = be32(t.cdb, 4);
        const lo = be32(t.cdb, 8);
        // Signed 64-bit count; beyond ±2^53 it only needs to stay beyond the tape.
        const count =
          hi & 0x80000000 ? -((~hi >>> 0) * 0x1_0000_0000 + (~lo >>> 0) + 1) : hi * 0x1_0000_0000 + lo;
        return this.space(t, t.cdb[1]! & 0x0f, count, 1);
      },
    );
    d(
      0x92,
      "LOCATE(16)",
      usage(0x92, 0x3b, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0x07),
      ready | CMD_PR_READ,
      (t) => this.locate(t, (t.cdb[1]! >>> 3) & 0x07, be64(t.cdb, 4), (t.cdb[1]! & 0x02) !== 0, t.cdb[3]!, 3),
    );
  }

  private ensureBounce(n: number): void {
    if (this.bounce.length < n) this.bounce = new Uint8Array(Math.max(n, this.bounce.length * 2));
  }

  private pastEarlyWarning(pos: number): boolean {
    const c = this.cart!;
    return c.index.usedBefore(pos) >= c.earlyWarning;
  }

  // ---- READ(6) ----------------------------------------------------------------------------------

  private read6(task: ScsiTask): Handled {
    const b1 = task.cdb[1]!;
    const fixed = (b1 & 0x01) !== 0;
    const sili = (b1 & 0x02) !== 0;
    const len = be24(task.cdb, 2);
    // SSC-3 READ(6): FIXED with SILI is an error; FIXED in variable-block mode too.
    if (fixed && sili) return this.invalidField(task, 1, 1);
    if (fixed && this.blockLength === 0) return this.invalidField(task, 1, 0);
    if (len === 0) return this.good(task, 0);
    const bytes = fixed ? len * this.blockLength : len;
    if (bytes > TAPE_MAX_TRANSFER) return this.invalidField(task, 2, 7);
    if (bytes > task.data.length) return this.check(task, INVALID_FIELD_IN_COMMAND_IU);
    const c = this.cart!;
    const idx = c.index;
    const p = this.pos;
    let good = 0;
    let stop = STOP_ALL;
    if (fixed) {
      const bl = this.blockLength;
      while (good < len) {
        const q = p + good;
        if (q >= idx.count) {
          stop = STOP_EOD;
          break;
        }
        if (idx.kind(q) === RECORD_FILEMARK) {
          stop = STOP_FILEMARK;
          break;
        }
        if (idx.length(q) !== bl) {
          stop = STOP_ILI;
          break;
        }
        good++;
      }
    } else if (p >= idx.count) {
      stop = STOP_EOD;
    } else if (idx.kind(p) === RECORD_FILEMARK) {
      stop = STOP_FILEMARK;
    } else {
      stop = STOP_ILI; // one block of whatever length; sorted out in readDone
    }
    const records = good + (stop === STOP_ILI ? 1 : 0);
    if (records === 0) {
      // Nothing to read: a filemark or end-of-data right at the head.
      if (stop === STOP_FILEMARK) {
        this.pos = p + 1;
        return this.checkWithData(task, FILEMARK_DETECTED, 0, len, SENSE_FILEMARK);
      }
      return this.checkWithData(task, END_OF_DATA_DETECTED, 0, len, this.pastEarlyWarning(p) ? SENSE_EOM : 0);
    }
    this.opStart = p;
    this.opRequested = len;
    this.opRecords = records;
    this.opGood = good;
    this.opStop = stop;
    this.opFixed = fixed;
    this.opSili = sili;
    this.opBlock = this.blockLength;
    this.pos = p + records + (stop === STOP_FILEMARK ? 1 : 0);
    const from = idx.offsetOf(p);
    const n = idx.offsetOf(p + records) - from;
    this.ensureBounce(n);
    if (!c.io!.sync) this.deferred = true;
    c.io!.read(task, from, n, this.bounce, this.readDone);
    return HANDLED;
  }

  private readonly readDone = (task: ScsiTask | null, error: number, _value: number): void => {
    const t = task!;
    const c = this.cart!;
    if (error !== 0) return this.readFailed(t, error);
    const b = this.bounce;
    let at = 0;
    let delivered = 0;
    let lastLength = 0;
    for (let k = 0; k < this.opRecords; k++) {
      if (checkRecordHeader(b, at, this.opStart + k) !== null)
        return this.readFailed(t, UNRECOVERED_READ_ERROR);
      const len = recordLength(b, at);
      if (len !== c.index.length(this.opStart + k)) return this.readFailed(t, UNRECOVERED_READ_ERROR);
      if (crcOf(b, at + RECORD_HEADER_SIZE, at + RECORD_HEADER_SIZE + len) !== recordCrc(b, at))
        return this.readFailed(t, UNRECOVERED_READ_ERROR);
      const room = this.opFixed ? this.opBlock : this.opRequested;
      const n = Math.min(len, room);
      t.data.write(this.opFixed ? k * this.opBlock : 0, b, at + RECORD_HEADER_SIZE, n);
      this.counters.bytesReadFromMedium += len;
      delivered += n;
      lastLength = len;
      at += RECORD_HEADER_SIZE + len;
    }
    this.counters.bytesToInitiator += delivered;
    const req = this.opRequested;
    if (!this.opFixed) {
      const len = lastLength;
      if (len === req) this.good(t, len);
      // SSC-3 READ(6): SILI hides an underlength block, and an overlength one in variable mode.
      else if (this.opSili && (len < req || this.blockLength === 0)) this.good(t, Math.min(len, req));
      else this.checkWithData(t, NO_ADDITIONAL_SENSE, Math.min(len, req), req - len, SENSE_ILI);
      return;
    }
    const good = this.opGood;
    switch (this.opStop) {
      case STOP_ALL:
        this.good(t, delivered);
        return;
      case STOP_FILEMARK:
        this.checkWithData(t, FILEMARK_DETECTED, delivered, req - good, SENSE_FILEMARK);
        return;
      case STOP_EOD:
        this.checkWithData(
          t,
          END_OF_DATA_DETECTED,
          delivered,
          req - good,
          this.pastEarlyWarning(this.pos) ? SENSE_EOM : 0,
        );
        return;
      default:
        // The incorrect-length block's data is transferred too (up to the block length); the
        // INFORMATION field counts the blocks not read, it not included (SSC-3 READ(6)).
        this.checkWithData(t, NO_ADDITIONAL_SENSE, delivered, req - good, SENSE_ILI);
    }
  };

  private readFailed(task: ScsiTask, _error: number): void {
    this.pos = this.opStart;
    this.counters.uncorrectedReadErrors++;
    this.counters.alerts[TAPE_ALERT_READ_FAILURE] = 1;
    log("%s: read at object %d of %s failed", this.info.product, this.opStart, this.cart?.barcode);
    this.check(task, UNRECOVERED_READ_ERROR);
  }

  // ---- WRITE(6) and WRITE FILEMARKS(6) ------------------------------------------------------

  /** How many records of `recordBytes` fit between the head and the physical end. */
  private fitting(recordBytes: number, wanted: number): number {
    const c = this.cart!;
    const room = c.capacity - c.index.usedBefore(this.pos);
    return Math.max(0, Math.min(wanted, Math.floor(room / recordBytes)));
  }

  private write6(task: ScsiTask): Handled {
    const fixed = (task.cdb[1]! & 0x01) !== 0;
    const len = be24(task.cdb, 2);
    if (fixed && this.blockLength === 0) return this.invalidField(task, 1, 0);
    if (!fixed && len > TAPE_MAX_BLOCK) return this.invalidField(task, 2, 7);
    if (len === 0) return this.good(task, 0);
    const c = this.cart!;
    if (c.writeProtected) {
      this.counters.alerts[TAPE_ALERT_WRITE_PROTECT] = 1;
      return this.check(task, WRITE_PROTECTED);
    }
    const bl = fixed ? this.blockLength : len;
    const blocks = fixed ? len : 1;
    const total = blocks * bl;
    if (total > TAPE_MAX_TRANSFER) return this.invalidField(task, 2, 7);
    if (task.data.length < total) return this.check(task, INVALID_FIELD_IN_COMMAND_IU);
    const per = RECORD_HEADER_SIZE + bl;
    const fit = this.fitting(per, blocks);
    if (fit === 0) {
      // SSC-3 WRITE(6): at the physical end nothing is written.
      return this.checkWithData(task, VOLUME_OVERFLOW_END_OF_PARTITION, 0, len, SENSE_EOM);
    }
    this.ensureBounce(fit * per);
    const b = this.bounce;
    const idx = c.index;
    const start = idx.offsetOf(this.pos);
    idx.truncate(this.pos);
    for (let j = 0; j < fit; j++) {
      const at = j * per;
      task.data.read(j * bl, b, at + RECORD_HEADER_SIZE, bl);
      encodeRecordHeader(b, at, RECORD_DATA, bl, crcOf(b, at + RECORD_HEADER_SIZE, at + per), this.pos + j);
      idx.push(RECORD_DATA, bl);
    }
    this.opStart = this.pos;
    this.opRequested = blocks;
    this.opRecords = fit;
    this.opBlock = bl;
    this.opFixed = fixed;
    this.pos += fit;
    this.opEarlyWarning = idx.usedBefore(this.pos) >= c.earlyWarning;
    if (!c.io!.sync) this.deferred = true;
    c.io!.append(task, start, b, fit * per, false, this.writeDone);
    return HANDLED;
  }

  private readonly writeDone = (task: ScsiTask | null, error: number, _value: number): void => {
    const t = task!;
    if (error !== 0) return this.writeFailed(t);
    const fit = this.opRecords;
    const bytes = fit * this.opBlock;
    this.counters.bytesFromInitiator += bytes;
    this.counters.bytesWrittenToMedium += bytes;
    if (fit < this.opRequested) {
      // The physical end came mid-command: what did not fit is not written (fixed mode).
      this.checkWithData(t, VOLUME_OVERFLOW_END_OF_PARTITION, bytes, this.opRequested - fit, SENSE_EOM);
    } else if (this.opEarlyWarning) {
      this.checkWithData(t, END_OF_PARTITION_MEDIUM_DETECTED, bytes, 0, SENSE_EOM);
    } else {
      this.good(t, bytes);
    }
  };

  private writeFailed(task: ScsiTask): void {
    const c = this.cart!;
    this.counters.uncorrectedWriteErrors++;
    this.counters.alerts[TAPE_ALERT_WRITE_FAILURE] = 1;
    // What is on the medium is no longer what the index says: refuse to go on.
    c.fault = `cartridge ${c.path ?? c.barcode}: a write failed; the medium is no longer consistent`;
    log("%s: %s", this.info.product, c.fault);
    this.check(task, WRITE_ERROR);
  }

  private writeFilemarks(task: ScsiTask): Handled {
    const b1 = task.cdb[1]!;
    if (b1 & 0x02) return this.invalidField(task, 1, 1); // WSMK: setmarks are not supported
    const immed = (b1 & 0x01) !== 0;
    const n = be24(task.cdb, 2);
    if (n > MAX_FILEMARKS_PER_COMMAND) return this.invalidField(task, 2, 7);
    const c = this.cart!;
    if (n === 0) return this.flushThen(task, immed); // SSC-3: count 0 flushes the buffer
    if (c.writeProtected) {
      this.counters.alerts[TAPE_ALERT_WRITE_PROTECT] = 1;
      return this.check(task, WRITE_PROTECTED);
    }
    const fit = this.fitting(RECORD_HEADER_SIZE, n);
    if (fit === 0) return this.checkWithData(task, VOLUME_OVERFLOW_END_OF_PARTITION, 0, n, SENSE_EOM);
    this.ensureBounce(fit * RECORD_HEADER_SIZE);
    const idx = c.index;
    const start = idx.offsetOf(this.pos);
    idx.truncate(this.pos);
    for (let j = 0; j < fit; j++) {
      encodeRecordHeader(this.bounce, j * RECORD_HEADER_SIZE, RECORD_FILEMARK, 0, EMPTY_CRC, this.pos + j);
      idx.push(RECORD_FILEMARK, 0);
    }
    this.opRecords = fit;
    this.opRequested = n;
    this.pos += fit;
    this.opEarlyWarning = idx.usedBefore(this.pos) >= c.earlyWarning;
    const io = c.io!;
    if (immed) {
      // Status now, the filemarks reach the medium in the background; later commands wait.
      this.holdUntilIo();
      const h = this.filemarksResult(task);
      io.append(null, start, this.bounce, fit * RECORD_HEADER_SIZE, false, this.backgroundDone);
      return h;
    }
    if (!io.sync) this.deferred = true;
    // IMMED=0 writes the filemarks and everything before them to the medium (a sync point).
    io.append(task, start, this.bounce, fit * RECORD_HEADER_SIZE, true, this.filemarksDone);
    return HANDLED;
  }

  private filemarksResult(task: ScsiTask): Handled {
    if (this.opRecords < this.opRequested)
      return this.checkWithData(
        task,
        VOLUME_OVERFLOW_END_OF_PARTITION,
        0,
        this.opRequested - this.opRecords,
        SENSE_EOM,
      );
    if (this.opEarlyWarning)
      return this.checkWithData(task, END_OF_PARTITION_MEDIUM_DETECTED, 0, 0, SENSE_EOM);
    return this.good(task, 0);
  }

  private readonly filemarksDone = (task: ScsiTask | null, error: number, _value: number): void => {
    if (error !== 0) return this.writeFailed(task!);
    this.filemarksResult(task!);
  };

  /** I/O a completed IMMED command left running has finished. */
  private readonly backgroundDone = (_task: ScsiTask | null, error: number, _value: number): void => {
    const c = this.cart;
    if (error !== 0 && c) {
      c.fault = `cartridge ${c.path ?? c.barcode}: a background write failed`;
      log("%s: %s", this.info.product, c.fault);
    }
    this.ioSettled();
  };

  private readonly flushDone = (task: ScsiTask | null, error: number, _value: number): void => {
    if (error !== 0) return this.writeFailed(task!);
    this.good(task!, 0);
  };

  /** Complete `task` once everything written is durable (or at once with IMMED). */
  private flushThen(task: ScsiTask, immed: boolean): Handled {
    const io = this.cart!.io!;
    if (immed) {
      this.holdUntilIo();
      const h = this.good(task, 0);
      io.flush(null, this.backgroundDone);
      return h;
    }
    if (!io.sync) this.deferred = true;
    io.flush(task, this.flushDone);
    return HANDLED;
  }

  // ---- positioning ------------------------------------------------------------------------------

  private rewind(task: ScsiTask): Handled {
    this.pos = 0;
    return this.flushThen(task, (task.cdb[1]! & 0x01) !== 0);
  }

  /**
   * SPACE(6)/(16) (SSC-3, SSC-4): `code` 0 blocks, 1 filemarks, 3 end-of-data; `count` signed.
   * Pure index arithmetic. `codeByte` locates the CODE field for the sense key specific pointer.
   */
  private space(task: ScsiTask, code: number, count: number, codeByte: number): Handled {
    const idx = this.cart!.index;
    const p = this.pos;
    if (code === 3) {
      this.pos = idx.count;
      return this.good(task, 0);
    }
    if (code !== 0 && code !== 1) return this.invalidField(task, codeByte, 3); // sequential filemarks, setmarks
    if (count === 0) return this.good(task, 0);
    if (code === 0) {
      if (count > 0) {
        const fm = idx.nextFilemark(p);
        const avail = (fm >= 0 ? fm : idx.count) - p;
        if (count <= avail) {
          this.pos = p + count;
          return this.good(task, 0);
        }
        if (fm >= 0) {
          this.pos = fm + 1; // EOP side of the filemark
          return this.checkWithData(task, FILEMARK_DETECTED, 0, count - avail, SENSE_FILEMARK);
        }
        this.pos = idx.count;
        return this.eod(task, count - avail);
      }
      const n = -count;
      const fm = idx.previousFilemark(p);
      const avail = p - (fm + 1);
      if (n <= avail) {
        this.pos = p - n;
        return this.good(task, 0);
      }
      if (fm >= 0) {
        this.pos = fm; // BOP side of the filemark
        return this.checkWithData(task, FILEMARK_DETECTED, 0, n - avail, SENSE_FILEMARK);
      }
      this.pos = 0;
      return this.checkWithData(task, BEGINNING_OF_PARTITION_MEDIUM_DETECTED, 0, n - avail, SENSE_EOM);
    }
    if (count > 0) {
      const before = idx.filemarksBefore(p);
      const ahead = idx.filemarkCount - before;
      if (count <= ahead) {
        this.pos = idx.filemark(before + count - 1) + 1;
        return this.good(task, 0);
      }
      this.pos = idx.count;
      return this.eod(task, count - ahead);
    }
    const n = -count;
    const behind = idx.filemarksBefore(p);
    if (n <= behind) {
      this.pos = idx.filemark(behind - n);
      return this.good(task, 0);
    }
    this.pos = 0;
    return this.checkWithData(task, BEGINNING_OF_PARTITION_MEDIUM_DETECTED, 0, n - behind, SENSE_EOM);
  }

  /** BLANK CHECK 08/00/05 at end-of-data, EOM bit past early warning. */
  private eod(task: ScsiTask, residue: number): Handled {
    return this.checkWithData(
      task,
      END_OF_DATA_DETECTED,
      0,
      residue,
      this.pastEarlyWarning(this.pos) ? SENSE_EOM : 0,
    );
  }

  /**
   * LOCATE(10)/(16): `destType` 0 logical object, 1 logical file (after the n-th filemark),
   * 3 end-of-data (LOCATE(16) only). One partition: CP with a partition other than 0 → 05/24/00.
   */
  private locate(
    task: ScsiTask,
    destType: number,
    target: number,
    cp: boolean,
    partition: number,
    partitionByte: number,
  ): Handled {
    if (cp && partition !== 0) return this.invalidField(task, partitionByte, 7);
    const idx = this.cart!.index;
    if (destType === 3) {
      this.pos = idx.count;
      return this.good(task, 0);
    }
    if (destType === 1) {
      if (target === 0) {
        this.pos = 0;
        return this.good(task, 0);
      }
      if (target <= idx.filemarkCount) {
        this.pos = idx.filemark(target - 1) + 1;
        return this.good(task, 0);
      }
      this.pos = idx.count;
      return this.eod(task, 0);
    }
    if (destType !== 0) return this.invalidField(task, 1, 5);
    if (target <= idx.count) {
      this.pos = target;
      return this.good(task, 0);
    }
    // SSC-3 LOCATE: end-of-data before the requested object: BLANK CHECK, positioned at EOD.
    this.pos = idx.count;
    return this.eod(task, 0);
  }

  private readPosition(task: ScsiTask, sa: number): Handled {
    const c = this.cart!;
    const idx = c.index;
    const p = this.pos;
    const b = this.scratch;
    const bop = p === 0 ? 0x80 : 0;
    // EOP: between early warning and the end of the partition (SSC-3 READ POSITION).
    const eop = this.pastEarlyWarning(p) ? 0x40 : 0;
    if (sa === 0x06) {
      b.fill(0, 0, 32);
      b[0] = bop | eop;
      put32(b, 4, 0); // partition
      put64(b, 8, p);
      put64(b, 16, idx.filemarksBefore(p)); // logical file identifier
      put64(b, 24, 0); // logical set identifier
      return this.sendData(task, b, 32, 32);
    }
    if (sa === 0x08) {
      b.fill(0, 0, 32);
      b[0] = bop | eop;
      b[1] = 0;
      b[2] = 0;
      b[3] = 0x1c;
      put64(b, 8, p);
      put64(b, 16, p);
      return this.sendData(task, b, 32, be16(task.cdb, 7));
    }
    // Short form: block ids are the logical object identifiers; nothing is ever held in a buffer.
    b.fill(0, 0, 20);
    b[0] = bop | eop;
    if (p > 0xffffffff) b[0] |= 0x04; // LOLU: location beyond what 4 bytes hold (BPU stays 0)
    put32(b, 4, Math.min(p, 0xffffffff));
    put32(b, 8, Math.min(p, 0xffffffff));
    return this.sendData(task, b, 20, 20);
  }

  // ---- medium commands --------------------------------------------------------------------------

  private erase(task: ScsiTask): Handled {
    const c = this.cart!;
    if (c.writeProtected) return this.check(task, WRITE_PROTECTED);
    // Short and long erase both leave end-of-data at the head (SSC-3 ERASE(6)).
    return this.cut(task, this.pos, (task.cdb[1]! & 0x02) !== 0);
  }

  private formatMedium(task: ScsiTask): Handled {
    const cdb = task.cdb;
    if ((cdb[2]! & 0x0f) !== 0) return this.invalidField(task, 2, 3); // only the default format
    if (be16(cdb, 3) !== 0) return this.invalidField(task, 3, 7); // no parameter data
    if (this.cart!.writeProtected) return this.check(task, WRITE_PROTECTED);
    if (this.pos !== 0) return this.check(task, POSITION_PAST_BEGINNING_OF_MEDIUM);
    return this.cut(task, 0, (cdb[1]! & 0x01) !== 0);
  }

  /** Make object `at` end-of-data on the medium. */
  private cut(task: ScsiTask, at: number, immed: boolean): Handled {
    const c = this.cart!;
    const offset = c.index.offsetOf(at);
    c.index.truncate(at);
    if (at === 0) {
      c.index.clear();
      if (c.header) c.header.density = 0;
    }
    const io = c.io!;
    if (immed) {
      this.holdUntilIo();
      const h = this.good(task, 0);
      io.truncate(null, offset, true, this.backgroundDone);
      return h;
    }
    if (!io.sync) this.deferred = true;
    io.truncate(task, offset, true, this.flushDone);
    return HANDLED;
  }

  private loadUnload(task: ScsiTask): Handled {
    const b4 = task.cdb[4]!;
    const load = (b4 & 0x01) !== 0;
    const eot = (b4 & 0x04) !== 0;
    const hold = (b4 & 0x08) !== 0;
    const immed = (task.cdb[1]! & 0x01) !== 0;
    // SSC-3 LOAD UNLOAD: EOT with LOAD is invalid.
    if (load && eot) return this.invalidField(task, 4, 2);
    const c = this.cart;
    if (load) {
      if (c === null) return this.check(task, MEDIUM_NOT_PRESENT);
      if (c.fault !== null) return this.check(task, NOT_READY_MEDIUM_FORMAT_CORRUPTED);
      // HOLD: the cartridge stays in the drive, not loaded (SSC-3 Table LOAD/HOLD).
      if (hold) return this.good(task, 0);
      if (!this.threaded) {
        this.threaded = true;
        this.queueUaAll(NOT_READY_TO_READY_CHANGE, task.initiator.id);
      }
      this.pos = 0; // RETEN and a load both leave the medium at BOP
      return this.good(task, 0);
    }
    if (this.removalPrevented())
      return this.check(task, c === null ? NOT_READY_MEDIUM_REMOVAL_PREVENTED : MEDIUM_REMOVAL_PREVENTED);
    if (c === null) return this.check(task, MEDIUM_NOT_PRESENT);
    this.pos = 0;
    if (!this.threaded || c.io === null) {
      this.threaded = false;
      return this.good(task, 0);
    }
    // Unload: flush, rewind, unthread. The cartridge stays in the drive until it is taken out
    // (by the changer, or the host); LOAD threads it again.
    this.threaded = false;
    return this.flushThen(task, immed);
  }

  private preventAllow(task: ScsiTask): Handled {
    const v = task.cdb[4]! & 0x03;
    if (v > 1) return this.invalidField(task, 4, 1); // 10b/11b are obsolete in SSC-3
    this.nexusFor(task.initiator).prevent = v === 1;
    return this.good(task, 0);
  }

  // ---- reports ----------------------------------------------------------------------------------

  private readBlockLimits(task: ScsiTask): Handled {
    const b = this.scratch;
    b[0] = 0; // GRANULARITY: any length
    put24(b, 1, TAPE_MAX_BLOCK);
    b[4] = 0;
    b[5] = 1;
    return this.sendData(task, b, 6, 6);
  }

  private reportDensity(task: ScsiTask): Handled {
    const b1 = task.cdb[1]!;
    if (b1 & 0x02) return this.invalidField(task, 1, 1); // MEDIUM TYPE reports are not supported
    let only: number | null = null;
    if (b1 & 0x01) {
      // MEDIA: the densities of the mounted medium.
      const nr = this.notReadyCode();
      if (nr !== 0) return this.check(task, nr);
      only = this.currentDensity();
    }
    const n = writeDensitySupport(this.scratch, this.densities, only);
    return this.sendData(task, this.scratch, n, be16(task.cdb, 7));
  }

  private logSense(task: ScsiTask): Handled {
    const cdb = task.cdb;
    if (cdb[1]! & 0x01) return this.invalidField(task, 1, 0); // SP: nothing is saved
    const pc = cdb[2]! >>> 6;
    const page = cdb[2]! & 0x3f;
    const pointer = be16(cdb, 5);
    if (cdb[3] !== 0) return this.invalidField(task, 3, 7); // no sub-pages
    if (!(TAPE_LOG_PAGES as readonly number[]).includes(page)) return this.invalidField(task, 2, 5);
    if (pointer > lastParameterCode(page)) return this.invalidField(task, 5, 7);
    const n = writeLogPage(this.scratch, page, pc, pointer, this.counters);
    return this.sendData(task, this.scratch, n, be16(cdb, 7));
  }

  private logSelect(task: ScsiTask): Handled {
    const cdb = task.cdb;
    if (cdb[1]! & 0x01) return this.check(task, SAVING_PARAMETERS_NOT_SUPPORTED);
    if (be16(cdb, 7) !== 0) return this.invalidField(task, 7, 7); // parameters are not settable
    const pc = cdb[2]! >>> 6;
    const page = cdb[2]! & 0x3f;
    if (page !== 0 && !(TAPE_LOG_PAGES as readonly number[]).includes(page))
      return this.invalidField(task, 2, 5);
    // PCR, or an empty list for the cumulative values, resets the counters (SPC-4 LOG SELECT).
    if ((cdb[1]! & 0x02) !== 0 || pc === 1 || pc === 3) this.counters.reset();
    return this.good(task, 0);
  }
}
