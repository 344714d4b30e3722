import { be16, be24, be32, be64, put16, put32, put64 } from "../../scsi/cdb.js";
import type { DeviceInfo, Initiator, ScsiTask, TmfResponse } from "../../scsi/device.js";
import { SAM_STAT_TASK_ABORTED, TYPE_DISK } from "../../scsi/device.js";
import {
  fieldPointer,
  INVALID_FIELD_IN_COMMAND_IU,
  INVALID_FIELD_IN_PARAMETER_LIST,
  LBA_OUT_OF_RANGE,
  LUN_NOT_READY_INITIALIZING_COMMAND_REQUIRED,
  LUN_NOT_READY_MANUAL_INTERVENTION_REQUIRED,
  MISCOMPARE_DURING_VERIFY,
  PARAMETER_LIST_LENGTH_ERROR,
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
import { VERSION_SBC3 } from "../spc/inquiry.js";
import { ModePage } from "../spc/mode-pages.js";
import { SpcDevice } from "../spc/spc-device.js";
import type { BlockStore } from "./block-store.js";
import { FileStore } from "./file-store.js";
import { RamStore } from "./ram-store.js";

/** Options of a {@link Disk}. */
export interface DiskOptions {
  /** INQUIRY identity; `type` must be {@link TYPE_DISK}. */
  readonly info: DeviceInfo;
  readonly store: BlockStore;
  /** Logical block size: 512 or 4096. */
  readonly blockSize: number;
  /** Thin provisioned (LBPME): UNMAP, WRITE SAME with UNMAP; GET LBA STATUS reports deallocated blocks. */
  readonly thin?: boolean;
  /** Write-protected medium (every write → 07/27/00). */
  readonly readOnly?: boolean;
  /** Initial WCE of the Caching mode page (default true: writes are cached until SYNCHRONIZE CACHE). */
  readonly writeCache?: boolean;
}

/** VPD B0h limits (SBC-3 §6.5.3), chosen so no command can keep the event loop busy for long. */
export const MAX_COMPARE_AND_WRITE_BLOCKS = 128;
/**
 * MAXIMUM ATOMIC TRANSFER LENGTH in blocks (SBC-4 §4.29), offered only by stores that complete
 * inside the call (RAM): their write is one uninterrupted copy, so no command — and no crash,
 * which loses a RAM disk whole — sees part of it.
 */
export const MAX_ATOMIC_BLOCKS = 2048;
/** MAXIMUM WRITE SAME LENGTH in blocks. */
export const MAX_WRITE_SAME_BLOCKS = 0x10000;
/**
 * MAXIMUM UNMAP LBA COUNT: 1 Mi blocks (512 MiB of 512-byte blocks) per UNMAP — the largest that
 * libiscsi's conformance suite calls sane (`test_inquiry_block_limits`: ≤ 1024 × 1024); Linux
 * splits larger discards.
 */
export const MAX_UNMAP_BLOCKS = 0x100000;
/** MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT. */
export const MAX_UNMAP_DESCRIPTORS = 255;

const RW_PR_READ = CMD_DATA_IN | CMD_NEEDS_READY | CMD_PR_READ;
const RW_PR_WRITE = CMD_DATA_OUT | CMD_NEEDS_READY | CMD_PR_WRITE;

/**
 * A direct-access block device (SBC-3) over a {@link BlockStore}: RAM (completes inside
 * `submit`, allocating nothing per READ/WRITE) or a file (completes later).
 *
 * Error precedence for medium access (SBC-3 §4.2.1 and the reference's tgt/QEMU reading):
 * reservation conflict → not ready → PROTECT field ≠ 0 (05/24/00, no protection information) →
 * write protection (07/27/00: read-only image or SWP) → LBA range (05/21/00; a transfer length
 * of 0 is legal, even at LBA = capacity). A data-out buffer that does not match the transfer
 * length the CDB implies is refused with 05/0E/03 before anything is written, as Linux TCM does
 * for data CDBs (`target_cmd_size_check`); a data-in buffer shorter than the transfer is filled
 * and the rest is overflow, longer is residual.
 */
export class Disk extends SpcDevice {
  readonly store: BlockStore;
  readonly blockSize: number;
  /** Number of logical blocks. */
  readonly blocks: number;
  readonly thin: boolean;
  readonly readOnly: boolean;
  private started = true;
  private readonly caching: ModePage;
  private readonly ranges = new Float64Array(2 * MAX_UNMAP_DESCRIPTORS);
  private readonly pendingTags = new Map<ScsiTask, number>();

  constructor(options: DiskOptions) {
    super(options.info, { swp: true });
    const bs = options.blockSize;
    if (bs !== 512 && bs !== 4096) throw invalidArgument("blockSize", "512 or 4096", bs);
    if (options.info.type !== TYPE_DISK)
      throw invalidArgument("info.type", "TYPE_DISK (0)", options.info.type);
    this.store = options.store;
    this.blockSize = bs;
    this.blocks = Math.floor(options.store.size / bs);
    this.thin = options.thin ?? false;
    this.readOnly = options.readOnly ?? false;
    // Read-Write Error Recovery (SBC-3 §6.4.9): AWRE, nothing changeable.
    this.modePages.add(
      new ModePage(0x01, 0, [0x01, 0x0a, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0], new Array(12).fill(0)),
    );
    // Caching (SBC-3 §6.4.5): only WCE is changeable, as in QEMU.
    const wce = (options.writeCache ?? true) ? 0x04 : 0;
    this.caching = new ModePage(
      0x08,
      0,
      [0x08, 0x12, wce, 0, 0xff, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x80, 0x14, 0, 0, 0, 0, 0, 0],
      [0, 0, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    );
    this.modePages.add(this.caching);
    // Control Extension (SPC-4 §7.5.9), sub-page 01h of the Control page; nothing changeable.
    const ext = [0x4a, 0x01, 0x00, 0x1c, ...new Array(28).fill(0)];
    this.modePages.add(new ModePage(0x0a, 0x01, ext, new Array(32).fill(0)));
    // Informational Exceptions Control (SPC-4 §7.5.11): DEXCPT, nothing to report.
    this.modePages.add(
      new ModePage(0x1c, 0, [0x1c, 0x0a, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0], new Array(12).fill(0)),
    );
    this.defineCommands();
  }

  /** A RAM-backed disk of `blocks` blocks. */
  static ram(info: DeviceInfo, blocks: number, blockSize = 512, options: Partial<DiskOptions> = {}): Disk {
    return new Disk({ ...options, info, blockSize, store: new RamStore(blocks * blockSize) });
  }

  /** A file-backed disk; an unusable image gives a disk that reports NOT READY (see {@link fault}). */
  static async file(
    info: DeviceInfo,
    path: string,
    options: { blockSize?: number; size?: number; create?: boolean } & Partial<DiskOptions> = {},
  ): Promise<Disk> {
    const blockSize = options.blockSize ?? 512;
    const readOnly = options.readOnly ?? false;
    const store = await FileStore.open(path, {
      blockSize,
      size: options.size,
      create: options.create,
      readOnly,
    });
    return new Disk({ ...options, info, blockSize, readOnly, store });
  }

  /** Why the disk is not usable (its image), or null. */
  get fault(): string | null {
    return this.store.fault;
  }

  /** Current WCE: writes without FUA are cached (made durable by SYNCHRONIZE CACHE). */
  get writeCacheEnabled(): boolean {
    return (this.caching.current[2]! & 0x04) !== 0;
  }

  /** WRITE ATOMIC(16) is offered (see {@link MAX_ATOMIC_BLOCKS}). */
  private get atomic(): boolean {
    return this.store.sync;
  }

  private get writeProtected(): boolean {
    return this.readOnly || this.softwareWriteProtect;
  }

  protected override notReadyCode(): number {
    if (this.store.fault !== null) return LUN_NOT_READY_MANUAL_INTERVENTION_REQUIRED;
    if (!this.started) return LUN_NOT_READY_INITIALIZING_COMMAND_REQUIRED;
    return 0;
  }

  protected override isBlockDevice(): boolean {
    return true;
  }

  protected override deviceSpecificParameter(): number {
    return (this.writeProtected ? 0x80 : 0) | 0x10; // WP | DPOFUA (SBC-3 §6.4.1)
  }

  protected override blockDescriptor(b: Uint8Array, at: number, long: boolean): number {
    if (long) {
      b.fill(0, at, at + 16);
      put64(b, at, this.blocks);
      put32(b, at + 12, this.blockSize);
      return 16;
    }
    b.fill(0, at, at + 8);
    put32(b, at, Math.min(this.blocks, 0xffffffff));
    b[at + 5] = (this.blockSize >>> 16) & 0xff;
    b[at + 6] = (this.blockSize >>> 8) & 0xff;
    b[at + 7] = this.blockSize & 0xff;
    return 8;
  }

  /** MODE SELECT block descriptors may restate the capacity and must keep the block length. */
  protected override checkBlockDescriptors(list: Uint8Array, at: number, length: number): number {
    if (length === 0) return 0;
    const long = at === 8 && (list[4]! & 0x01) !== 0;
    if (length !== (long ? 16 : 8)) {
      this.selectSks = fieldPointer(false, at === 4 ? 3 : 6, 7);
      return INVALID_FIELD_IN_PARAMETER_LIST;
    }
    const blocks = long ? be64(list, at) : be32(list, at);
    const current = long ? this.blocks : Math.min(this.blocks, 0xffffffff);
    if (blocks !== 0 && blocks !== current) {
      this.selectSks = fieldPointer(false, at, 7);
      return INVALID_FIELD_IN_PARAMETER_LIST;
    }
    const bl = long ? be32(list, at + 12) : be24(list, at + 5);
    if (bl !== this.blockSize) {
      this.selectSks = fieldPointer(false, long ? at + 12 : at + 5, 7);
      return INVALID_FIELD_IN_PARAMETER_LIST;
    }
    return 0;
  }

  protected override extraVpdPages(): readonly number[] {
    return [0xb0, 0xb1, 0xb2];
  }

  protected override versionDescriptors(): readonly number[] {
    return [VERSION_SBC3];
  }

  protected override writeVpd(page: number, b: Uint8Array): number {
    b[0] = this.info.type;
    b[1] = page;
    if (page === 0xb0) {
      // Block Limits (SBC-3 §6.5.3).
      b.fill(0, 2, 64);
      put16(b, 2, 0x3c);
      // WSNZ = 0: WRITE SAME with NUMBER OF LOGICAL BLOCKS 0 writes to the last LBA (SBC-4 §5.49),
      // refused with 05/24/00 when that is more than MAXIMUM WRITE SAME LENGTH.
      b[4] = 0x00;
      b[5] = MAX_COMPARE_AND_WRITE_BLOCKS;
      put16(b, 6, 1);
      if (this.thin) {
        put32(b, 20, MAX_UNMAP_BLOCKS);
        put32(b, 24, MAX_UNMAP_DESCRIPTORS);
        put32(b, 28, this.store.tracksMapping ? Math.max(1, (1 << 20) / this.blockSize) : 1);
      }
      put64(b, 36, MAX_WRITE_SAME_BLOCKS);
      // Atomic writes: no alignment or granularity constraint, no atomic boundaries.
      if (this.atomic) put32(b, 44, MAX_ATOMIC_BLOCKS);
      return 64;
    }
    if (page === 0xb1) {
      // Block Device Characteristics (SBC-3 §6.5.2): non-rotating medium.
      b.fill(0, 2, 64);
      put16(b, 2, 0x3c);
      put16(b, 4, 0x0001);
      return 64;
    }
    // Logical Block Provisioning (SBC-3 §6.5.4).
    b.fill(0, 2, 8);
    put16(b, 2, 4);
    if (this.thin) {
      b[5] = 0x80 | 0x40 | 0x20 | 0x04; // LBPU | LBPWS | LBPWS10 | LBPRZ
      b[6] = 0x02; // thin provisioned
    }
    return 8;
  }

  private defineCommands(): void {
    const rw = (op: number, name: string, u: Uint8Array, flags: number, run: (t: ScsiTask) => Handled) =>
      this.define(op, -1, name, u, flags, run);
    rw(0x08, "READ(6)", usage(0x08, 0x1f, 0xff, 0xff, 0xff, 0x07), RW_PR_READ, (t) => this.rw6(t, false));
    rw(0x0a, "WRITE(6)", usage(0x0a, 0x1f, 0xff, 0xff, 0xff, 0x07), RW_PR_WRITE, (t) => this.rw6(t, true));
    const u10 = (op: number, b1: number) => usage(op, b1, 0xff, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, 0x07);
    const u12 = (op: number, b1: number) =>
      usage(op, b1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x07);
    const u16 = (op: number, b1: number) =>
      usage(op, b1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x07);
    rw(0x28, "READ(10)", u10(0x28, 0xfe), RW_PR_READ, (t) => this.read(t, be32(t.cdb, 2), be16(t.cdb, 7)));
    rw(0xa8, "READ(12)", u12(0xa8, 0xfe), RW_PR_READ, (t) => this.read(t, be32(t.cdb, 2), be32(t.cdb, 6)));
    rw(0x88, "READ(16)", u16(0x88, 0xfe), RW_PR_READ, (t) => this.read(t, be64(t.cdb, 2), be32(t.cdb, 10)));
    rw(0x2a, "WRITE(10)", u10(0x2a, 0xfa), RW_PR_WRITE, (t) => this.write(t, be32(t.cdb, 2), be16(t.cdb, 7)));
    rw(0xaa, "WRITE(12)", u12(0xaa, 0xfa), RW_PR_WRITE, (t) => this.write(t, be32(t.cdb, 2), be32(t.cdb, 6)));
    rw(0x8a, "WRITE(16)", u16(0x8a, 0xfa), RW_PR_WRITE, (t) =>
      this.write(t, be64(t.cdb, 2), be32(t.cdb, 10)),
    );
    rw(0x2e, "WRITE AND VERIFY(10)", u10(0x2e, 0xf6), RW_PR_WRITE, (t) =>
      this.writeVerify(t, be32(t.cdb, 2), be16(t.cdb, 7)),
    );
    rw(0xae, "WRITE AND VERIFY(12)", u12(0xae, 0xf6), RW_PR_WRITE, (t) =>
      this.writeVerify(t, be32(t.cdb, 2), be32(t.cdb, 6)),
    );
    rw(0x8e, "WRITE AND VERIFY(16)", u16(0x8e, 0xf6), RW_PR_WRITE, (t) =>
      this.writeVerify(t, be64(t.cdb, 2), be32(t.cdb, 10)),
    );
    const verifyFlags = CMD_DATA_OUT | CMD_NEEDS_READY | CMD_PR_READ;
    rw(0x2f, "VERIFY(10)", u10(0x2f, 0xf6), verifyFlags, (t) =>
      this.verify(t, be32(t.cdb, 2), be16(t.cdb, 7)),
    );
    rw(0xaf, "VERIFY(12)", u12(0xaf, 0xf6), verifyFlags, (t) =>
      this.verify(t, be32(t.cdb, 2), be32(t.cdb, 6)),
    );
    rw(0x8f, "VERIFY(16)", u16(0x8f, 0xf6), verifyFlags, (t) =>
      this.verify(t, be64(t.cdb, 2), be32(t.cdb, 10)),
    );
    rw(0x41, "WRITE SAME(10)", u10(0x41, 0xfe), RW_PR_WRITE, (t) =>
      this.writeSame(t, be32(t.cdb, 2), be16(t.cdb, 7), 7),
    );
    rw(0x93, "WRITE SAME(16)", u16(0x93, 0xff), RW_PR_WRITE, (t) =>
      this.writeSame(t, be64(t.cdb, 2), be32(t.cdb, 10), 10),
    );
    rw(0x8b, "ORWRITE(16)", u16(0x8b, 0xfa), RW_PR_WRITE, (t) =>
      this.orWrite(t, be64(t.cdb, 2), be32(t.cdb, 10)),
    );
    // PRE-FETCH is a read as far as reservations go (SPC-4 Table 62: allowed where READ is).
    const prefetchFlags = CMD_NEEDS_READY | CMD_PR_READ;
    rw(0x34, "PRE-FETCH(10)", u10(0x34, 0x02), prefetchFlags, (t) =>
      this.prefetch(t, be32(t.cdb, 2), be16(t.cdb, 7)),
    );
    rw(0x90, "PRE-FETCH(16)", u16(0x90, 0x02), prefetchFlags, (t) =>
      this.prefetch(t, be64(t.cdb, 2), be32(t.cdb, 10)),
    );
    // READ DEFECT DATA reads no user data, but SPC-4 Table 63 lets it conflict as READ does.
    const defectFlags = CMD_DATA_IN | CMD_NEEDS_READY | CMD_PR_READ;
    rw(0x37, "READ DEFECT DATA(10)", usage(0x37, 0, 0x1f, 0, 0, 0, 0, 0xff, 0xff, 0x07), defectFlags, (t) =>
      this.readDefectData(t, false),
    );
    rw(
      0xb7,
      "READ DEFECT DATA(12)",
      usage(0xb7, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0x07),
      defectFlags,
      (t) => this.readDefectData(t, true),
    );
    if (this.atomic) {
      rw(
        0x9c,
        "WRITE ATOMIC(16)",
        usage(0x9c, 0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x07),
        RW_PR_WRITE,
        (t) => this.writeAtomic(t),
      );
    }
    rw(
      0x89,
      "COMPARE AND WRITE",
      usage(0x89, 0xfa, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0xff, 0x1f, 0x07),
      RW_PR_WRITE,
      (t) => this.compareAndWrite(t),
    );
    rw(
      0x25,
      "READ CAPACITY(10)",
      usage(0x25, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0x01, 0x07),
      CMD_DATA_IN | CMD_NEEDS_READY,
      (t) => this.readCapacity10(t),
    );
    this.define(0x9e, 0x10, "READ CAPACITY(16)", u16(0x9e, 0x1f), CMD_DATA_IN | CMD_NEEDS_READY, (t) =>
      this.readCapacity16(t),
    );
    this.define(0x35, -1, "SYNCHRONIZE CACHE(10)", u10(0x35, 0x06), CMD_NEEDS_READY | CMD_PR_WRITE, (t) =>
      this.synchronizeCache(t, be32(t.cdb, 2), be16(t.cdb, 7)),
    );
    this.define(0x91, -1, "SYNCHRONIZE CACHE(16)", u16(0x91, 0x06), CMD_NEEDS_READY | CMD_PR_WRITE, (t) =>
      this.synchronizeCache(t, be64(t.cdb, 2), be32(t.cdb, 10)),
    );
    this.define(0x1b, -1, "START STOP UNIT", usage(0x1b, 0x01, 0, 0x0f, 0xf7, 0x07), CMD_PR_WRITE, (t) =>
      this.startStop(t),
    );
    this.define(
      0x1e,
      -1,
      "PREVENT ALLOW MEDIUM REMOVAL",
      usage(0x1e, 0, 0, 0, 0x03, 0x07),
      CMD_PR_WRITE,
      (t) => this.preventAllow(t),
    );
    this.define(
      0x9e,
      0x12,
      "GET LBA STATUS",
      usage(0x9e, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0x07),
      CMD_DATA_IN | CMD_NEEDS_READY | CMD_PR_READ,
      (t) => this.getLbaStatus(t),
    );
    if (this.thin) {
      this.define(
        0x42,
        -1,
        "UNMAP",
        usage(0x42, 0x01, 0, 0, 0, 0, 0x1f, 0xff, 0xff, 0x07),
        RW_PR_WRITE,
        (t) => this.unmap(t),
      );
    }
  }

  // ---- completions from the store (bound once: no closure per command) ------------------------

  private readonly ioDone = (task: ScsiTask, error: number, value: number): void => {
    this.pendingTags.delete(task);
    // A miscompare carries the offset of the first differing byte as INFORMATION (SBC-3 §5.2, §5.27).
    if (error === MISCOMPARE_DURING_VERIFY) this.check(task, error, 0, value);
    else if (error !== 0) this.check(task, error);
    else this.good(task, value);
  };

  /**
   * UNMAP's completion: the store moves no data, but the device consumed the whole parameter list
   * (SBC-3 §5.28: PARAMETER LIST LENGTH bytes of data-out), so that is what was transferred and
   * the residual is 0. Recomputed from the CDB: no per-command state, no closure.
   */
  private readonly unmapDone = (task: ScsiTask, error: number, _value: number): void => {
    this.ioDone(task, error, Math.min(be16(task.cdb, 7), task.data.length));
  };

  /** Mark `task` as completing later (file store) so ABORT TASK can find it. */
  private async_(task: ScsiTask): void {
    if (!this.store.sync) {
      this.deferred = true;
      this.pendingTags.set(task, task.tag);
    }
  }

  // ---- checks shared by medium-access commands ---------------------------------------------------

  /** PROTECT field → write protection → range; true when the command may go on. */
  private checkAccess(
    task: ScsiTask,
    lba: number,
    blocks: number,
    write: boolean,
    protect: boolean,
  ): boolean {
    if (protect && (task.cdb[1]! & 0xe0) !== 0) {
      this.invalidField(task, 1, 7); // no protection information (SBC-3 §4.22)
      return false;
    }
    if (write && this.writeProtected) {
      this.check(task, WRITE_PROTECTED);
      return false;
    }
    if (lba + blocks > this.blocks || lba > this.blocks) {
      this.check(task, LBA_OUT_OF_RANGE);
      return false;
    }
    return true;
  }

  // ---- commands ----------------------------------------------------------------------------------

  private rw6(task: ScsiTask, write: boolean): Handled {
    const cdb = task.cdb;
    const lba = be24(cdb, 1) & 0x1fffff;
    const tl = cdb[4] === 0 ? 256 : cdb[4]!; // SBC-3 §5.8: 0 means 256 blocks
    return write ? this.write(task, lba, tl, false) : this.read(task, lba, tl, false);
  }

  private read(task: ScsiTask, lba: number, blocks: number, protect = true): Handled {
    if (!this.checkAccess(task, lba, blocks, false, protect)) return HANDLED;
    const n = Math.min(blocks * this.blockSize, task.data.length);
    if (n === 0) return this.good(task, 0);
    this.async_(task);
    this.store.read(task, lba * this.blockSize, n, this.ioDone);
    return HANDLED;
  }

  private write(task: ScsiTask, lba: number, blocks: number, protect = true, forceDurable = false): Handled {
    if (!this.checkAccess(task, lba, blocks, true, protect)) return HANDLED;
    const bytes = blocks * this.blockSize;
    if (task.data.length < bytes) return this.check(task, INVALID_FIELD_IN_COMMAND_IU);
    if (bytes === 0) return this.good(task, 0);
    const fua = protect && (task.cdb[1]! & 0x08) !== 0;
    this.async_(task);
    this.store.write(
      task,
      lba * this.blockSize,
      bytes,
      0,
      forceDurable || fua || !this.writeCacheEnabled,
      this.ioDone,
    );
    return HANDLED;
  }

  /** BYTCHK (SBC-3 §5.26/§5.35): 0 no compare, 1 compare the data-out; 2 and 3 are refused. */
  private bytchk(task: ScsiTask): number {
    const v = (task.cdb[1]! >>> 1) & 0x03;
    if (v > 1) {
      this.invalidField(task, 1, 2);
      return -1;
    }
    return v;
  }

  private writeVerify(task: ScsiTask, lba: number, blocks: number): Handled {
    if (this.bytchk(task) < 0) return HANDLED;
    // The data goes to the medium and is read back: a verified write is a durable one.
    return this.write(task, lba, blocks, true, true);
  }

  private verify(task: ScsiTask, lba: number, blocks: number): Handled {
    const bytchk = this.bytchk(task);
    if (bytchk < 0) return HANDLED;
    if (!this.checkAccess(task, lba, blocks, false, true)) return HANDLED;
    const bytes = blocks * this.blockSize;
    if (bytchk === 0 || bytes === 0) return this.good(task, 0); // the medium is always readable
    if (task.data.length < bytes) return this.check(task, INVALID_FIELD_IN_COMMAND_IU);
    this.async_(task);
    this.store.compare(task, lba * this.blockSize, bytes, this.ioDone);
    return HANDLED;
  }

  private writeSame(task: ScsiTask, lba: number, blocks: number, lengthByte: number): Handled {
    const b1 = task.cdb[1]!;
    if (b1 & 0x10) return this.invalidField(task, 1, 4); // ANCHOR: ANC_SUP = 0
    if (b1 & 0x04) return this.invalidField(task, 1, 2); // PBDATA
    if (b1 & 0x02) return this.invalidField(task, 1, 1); // LBDATA
    if (b1 & 0x01) return this.invalidField(task, 1, 0); // NDOB is not supported
    const unmap = (b1 & 0x08) !== 0;
    if (unmap && !this.thin) return this.invalidField(task, 1, 3);
    if (!this.checkAccess(task, lba, blocks, true, true)) return HANDLED;
    // WSNZ = 0 (VPD B0h): 0 blocks means from LBA to the last one; never more than MAXIMUM WRITE
    // SAME LENGTH (SBC-4 §5.49).
    const n = blocks === 0 ? this.blocks - lba : blocks;
    if (n > MAX_WRITE_SAME_BLOCKS) return this.invalidField(task, lengthByte, 7);
    if (n === 0) return this.good(task, 0); // 0 blocks at LBA = capacity: nothing to write
    if (task.data.length < this.blockSize) return this.check(task, INVALID_FIELD_IN_COMMAND_IU);
    this.async_(task);
    // With UNMAP and a zero pattern the RAM store deallocates; with any other pattern it writes
    // (SBC-3 §5.43: the result must read back as the pattern either way).
    this.store.writeSame(task, lba * this.blockSize, this.blockSize, n, !this.writeCacheEnabled, this.ioDone);
    return HANDLED;
  }

  /**
   * ORWRITE(16) (SBC-4 §5.9): the OR of the data-out and the blocks on the medium is written back,
   * as one uninterrupted read-modify-write (the store serialises it). ORPROTECT ≠ 0 is refused as
   * for WRITE (no protection information); 0 blocks is not an error.
   */
  private orWrite(task: ScsiTask, lba: number, blocks: number): Handled {
    if (!this.checkAccess(task, lba, blocks, true, true)) return HANDLED;
    const bytes = blocks * this.blockSize;
    if (task.data.length < bytes) return this.check(task, INVALID_FIELD_IN_COMMAND_IU);
    if (bytes === 0) return this.good(task, 0);
    const durable = (task.cdb[1]! & 0x08) !== 0 || !this.writeCacheEnabled;
    this.async_(task);
    this.store.orWrite(task, lba * this.blockSize, bytes, durable, this.ioDone);
    return HANDLED;
  }

  /**
   * PRE-FETCH(10/16) (SBC-4 §5.11/§5.12): the disk has no read cache of its own to fill (a RAM
   * store is its medium; a file's page cache is the host's), so the cache "does not have
   * sufficient capacity" and, the range being valid, the command ends GOOD — never CONDITION MET.
   * IMMED and GROUP NUMBER change nothing. The range is checked as for READ.
   */
  private prefetch(task: ScsiTask, lba: number, blocks: number): Handled {
    if (lba + blocks > this.blocks || lba > this.blocks) return this.check(task, LBA_OUT_OF_RANGE);
    return this.good(task, 0);
  }

  /**
   * READ DEFECT DATA(10/12) (SBC-4 §5.20, §5.21). Memory and image files have no grown or
   * primary defects: the lists asked for (REQ_PLIST, REQ_GLIST) are valid and empty, in the
   * format asked for (an empty list is the same in every format); reserved formats are refused.
   */
  private readDefectData(task: ScsiTask, twelve: boolean): Handled {
    const cdb = task.cdb;
    const at = twelve ? 1 : 2;
    const format = cdb[at]! & 0x07;
    if (format === 1 || format === 2 || format === 7) return this.invalidField(task, at, 2);
    const b = this.scratch;
    const flags = (cdb[at]! & 0x18) | format; // PLISTV, GLISTV as requested
    if (twelve) {
      b.fill(0, 0, 8);
      b[1] = flags; // GENERATION CODE 0 (lists never change), DEFECT LIST LENGTH 0
      return this.sendData(task, b, 8, be32(cdb, 6));
    }
    b.fill(0, 0, 4);
    b[1] = flags;
    return this.sendData(task, b, 4, be16(cdb, 7));
  }

  /**
   * WRITE ATOMIC(16) (SBC-4 §5.48): a WRITE(16) of at most {@link MAX_ATOMIC_BLOCKS} blocks that
   * the store applies in one step. The disk reports MAXIMUM ATOMIC BOUNDARY SIZE 0, so a non-zero
   * ATOMIC BOUNDARY is refused (05/24/00), as is a longer transfer.
   */
  private writeAtomic(task: ScsiTask): Handled {
    const cdb = task.cdb;
    if (be16(cdb, 10) !== 0) return this.invalidField(task, 10, 7);
    const blocks = be16(cdb, 12);
    if (blocks > MAX_ATOMIC_BLOCKS) return this.invalidField(task, 12, 7);
    return this.write(task, be64(cdb, 2), blocks);
  }

  private compareAndWrite(task: ScsiTask): Handled {
    const cdb = task.cdb;
    const lba = be64(cdb, 2);
    const blocks = cdb[13]!;
    if (!this.checkAccess(task, lba, blocks, true, true)) return HANDLED;
    if (blocks === 0) return this.good(task, 0); // SBC-3 §5.2: not an error, nothing done
    if (blocks > MAX_COMPARE_AND_WRITE_BLOCKS) return this.invalidField(task, 13, 7);
    const bytes = blocks * this.blockSize;
    if (task.data.length < 2 * bytes) return this.check(task, INVALID_FIELD_IN_COMMAND_IU);
    const durable = (cdb[1]! & 0x08) !== 0 || !this.writeCacheEnabled;
    this.async_(task);
    this.store.compareAndWrite(task, lba * this.blockSize, bytes, durable, this.ioDone);
    return HANDLED;
  }

  private readCapacity10(task: ScsiTask): Handled {
    const cdb = task.cdb;
    if ((cdb[8]! & 0x01) === 0 && be32(cdb, 2) !== 0) return this.invalidField(task, 2, 7);
    const b = this.scratch;
    put32(b, 0, this.blocks - 1 > 0xfffffffe ? 0xffffffff : this.blocks - 1);
    put32(b, 4, this.blockSize);
    return this.sendData(task, b, 8, 8);
  }

  private readCapacity16(task: ScsiTask): Handled {
    const cdb = task.cdb;
    if ((cdb[14]! & 0x01) === 0 && be64(cdb, 2) !== 0) return this.invalidField(task, 2, 7);
    const b = this.scratch;
    b.fill(0, 0, 32);
    put64(b, 0, this.blocks - 1);
    put32(b, 8, this.blockSize);
    if (this.thin) b[14] = 0x80 | 0x40; // LBPME | LBPRZ
    return this.sendData(task, b, 32, be32(cdb, 10));
  }

  private synchronizeCache(task: ScsiTask, lba: number, blocks: number): Handled {
    if (lba + blocks > this.blocks || lba > this.blocks) return this.check(task, LBA_OUT_OF_RANGE);
    this.async_(task);
    this.store.flush(task, this.ioDone);
    return HANDLED;
  }

  private startStop(task: ScsiTask): Handled {
    const b4 = task.cdb[4]!;
    const pc = b4 >>> 4;
    // POWER CONDITION values of SBC-3 Table 77; a non-zero one leaves START/LOEJ alone.
    if (pc !== 0 && pc !== 1 && pc !== 2 && pc !== 3 && pc !== 7 && pc !== 0xa && pc !== 0xb) {
      return this.invalidField(task, 4, 7);
    }
    if (pc !== 0) return this.good(task, 0);
    // LOEJ has no meaning for a non-removable medium; START spins the unit up or down.
    if ((b4 & 0x01) !== 0) {
      this.started = true;
      return this.good(task, 0);
    }
    this.started = false;
    if ((b4 & 0x04) !== 0 || this.store.fault !== null) return this.good(task, 0); // NO_FLUSH
    this.async_(task);
    this.store.flush(task, this.ioDone);
    return HANDLED;
  }

  private preventAllow(task: ScsiTask): Handled {
    const v = task.cdb[4]! & 0x03;
    if (v > 1) return this.invalidField(task, 4, 1); // persistent prevent: removable media only
    this.nexusFor(task.initiator).prevent = v === 1;
    return this.good(task, 0);
  }

  private unmap(task: ScsiTask): Handled {
    const cdb = task.cdb;
    if (cdb[1]! & 0x01) return this.invalidField(task, 1, 0); // ANCHOR
    if (this.writeProtected) return this.check(task, WRITE_PROTECTED);
    const length = be16(cdb, 7);
    if (length === 0) return this.good(task, 0);
    if (length < 8) return this.check(task, PARAMETER_LIST_LENGTH_ERROR);
    if (!this.readParams(task, length, 7)) return HANDLED;
    const p = this.params;
    const bdl = be16(p, 2);
    // SBC-3 §5.28.2 and QEMU scsi_disk_emulate_unmap: lengths must agree with the list.
    if (be16(p, 0) + 2 !== length || bdl + 8 > length) return this.check(task, PARAMETER_LIST_LENGTH_ERROR);
    const count = Math.floor(bdl / 16);
    if (count > MAX_UNMAP_DESCRIPTORS)
      return this.check(task, INVALID_FIELD_IN_PARAMETER_LIST, fieldPointer(false, 2, 7));
    let total = 0;
    for (let i = 0; i < count; i++) {
      const at = 8 + 16 * i;
      const lba = be64(p, at);
      const n = be32(p, at + 8);
      if (lba + n > this.blocks || lba > this.blocks) return this.check(task, LBA_OUT_OF_RANGE);
      total += n;
      this.ranges[2 * i] = lba * this.blockSize;
      this.ranges[2 * i + 1] = n * this.blockSize;
    }
    if (total > MAX_UNMAP_BLOCKS)
      return this.check(task, INVALID_FIELD_IN_PARAMETER_LIST, fieldPointer(false, 8, 7));
    this.async_(task);
    this.store.unmap(task, this.ranges, count, !this.writeCacheEnabled, this.unmapDone);
    return HANDLED;
  }

  private getLbaStatus(task: ScsiTask): Handled {
    const cdb = task.cdb;
    const lba = be64(cdb, 2);
    const alloc = be32(cdb, 10);
    if (lba >= this.blocks) return this.check(task, LBA_OUT_OF_RANGE);
    const b = this.scratch;
    const max = Math.max(1, Math.min(Math.floor((alloc - 8) / 16), Math.floor((b.length - 8) / 16)));
    let n = 8;
    let at = lba;
    for (let i = 0; i < max && at < this.blocks; i++) {
      const pos = at * this.blockSize;
      const limit = Math.min((this.blocks - at) * this.blockSize, 0xffffffff * this.blockSize);
      // A fully provisioned disk has every LBA mapped (SBC-4 §4.7.2), whatever its store tracks.
      const run = this.thin ? this.store.mappingRun(pos, limit) : limit;
      const count = Math.max(1, Math.floor(Math.abs(run) / this.blockSize));
      b.fill(0, n, n + 16);
      put64(b, n, at);
      put32(b, n + 8, count);
      b[n + 12] = run < 0 ? 0x01 : 0x00; // deallocated : mapped (or unknown)
      n += 16;
      at += count;
    }
    put32(b, 0, n - 4);
    put32(b, 4, 0);
    return this.sendData(task, b, n, alloc);
  }

  // ---- task management and shutdown ---------------------------------------------------------------

  override abortTask(initiator: Initiator, tag: number): TmfResponse | Promise<TmfResponse> {
    const match = (t: ScsiTask) => t.initiator.id === initiator.id && this.pendingTags.get(t) === tag;
    const cancelled = this.store.cancel(match);
    for (const t of cancelled) this.abortNow(t);
    if (cancelled.length > 0) return "complete";
    let running = false;
    for (const t of this.pendingTags.keys()) if (match(t)) running = true;
    if (!running) return "not-found";
    // Already started: it completes with whatever status it finishes with (device.ts contract).
    return this.store.settled(match).then(() => "complete" as const);
  }

  override lunReset(initiator: Initiator): TmfResponse | Promise<TmfResponse> {
    for (const t of this.store.cancel(() => true)) this.abortNow(t);
    if (this.pendingTags.size === 0) return super.lunReset(initiator);
    return this.store.settled(() => true).then(() => super.lunReset(initiator));
  }

  private abortNow(task: ScsiTask): void {
    this.pendingTags.delete(task);
    task.done(SAM_STAT_TASK_ABORTED, 0, 0);
  }

  override async close(): Promise<void> {
    this.closed = true;
    await this.store.close();
  }
}
