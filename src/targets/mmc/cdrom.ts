import { be16, be32, put16, put32 } from "../../scsi/cdb.js";
import type { DeviceInfo, ScsiTask } from "../../scsi/device.js";
import { TYPE_ROM } from "../../scsi/device.js";
import {
  LBA_OUT_OF_RANGE,
  MEDIUM_NOT_PRESENT,
  MEDIUM_NOT_PRESENT_TRAY_OPEN,
  MEDIUM_REMOVAL_PREVENTED,
  NOT_READY_MEDIUM_REMOVAL_PREVENTED,
  NOT_READY_TO_READY_CHANGE,
} from "../../scsi/sense.js";
import { invalidArgument } from "../../xen/errors.js";
import type { BlockStore } from "../sbc/block-store.js";
import { BufferStore } from "../sbc/buffer-store.js";
import { FileStore } from "../sbc/file-store.js";
import {
  CMD_DATA_IN,
  CMD_NEEDS_READY,
  CMD_PR_READ,
  CMD_PR_WRITE,
  CMD_UA_EXEMPT,
  HANDLED,
  type Handled,
  usage,
} from "../spc/command.js";
import { ModePage } from "../spc/mode-pages.js";
import { SpcDevice } from "../spc/spc-device.js";

/** CD/DVD logical block size (MMC-6 §4.2.2). */
export const CD_BLOCK_SIZE = 2048;
/** Blocks of an 80-minute CD (75 frames/s): larger media are reported as DVD-ROM. */
export const CD_MAX_BLOCKS = 80 * 60 * 75;

/** MMC profiles (MMC-6 Table 89). */
export const PROFILE_CD_ROM = 0x0008;
export const PROFILE_DVD_ROM = 0x0010;

/** GET EVENT STATUS NOTIFICATION media event codes (MMC-6 Table 149). */
const MEDIA_EVENT_NONE = 0;
const MEDIA_EVENT_NEW_MEDIA = 2;
const MEDIA_EVENT_REMOVAL = 3;

/**
 * A read-only CD/DVD-ROM drive (MMC-6) with a tray. Its medium is an ISO image file or bytes in
 * memory, 2048-byte blocks, one data track in one session.
 *
 * With no medium (or the tray open) only the commands QEMU's `scsi_disk_emulate_command` exempts
 * work — INQUIRY, REQUEST SENSE, MODE SENSE/SELECT, RESERVE/RELEASE, START STOP, PREVENT ALLOW,
 * GET CONFIGURATION, GET EVENT STATUS NOTIFICATION, MECHANISM STATUS, plus REPORT LUNS, REPORT
 * SUPPORTED OPERATION CODES and PERSISTENT RESERVE — everything that needs the medium gets
 * 02/3A/00 (tray closed) or 02/3A/02 (tray open).
 *
 * Writes: the drive is a reader. WRITE(10)/(12) and the other write commands belong to the
 * writable-media features (MMC-6 §5: Random Writable 0020h, Incremental Streaming Writable 0021h,
 * …), which it does not report in GET CONFIGURATION, so they are unsupported operation codes:
 * 05/20/00 (SPC-4 §4.5.6), as on a real DVD-ROM drive. 07/27/00 would describe a writer with
 * write-protected media. (QEMU's scsi-cd answers 07/27/00 instead.)
 */
export class Cdrom extends SpcDevice {
  private medium: BlockStore | null;
  private trayOpen = false;
  private mediaEvent = MEDIA_EVENT_NONE;
  private readonly capabilities: ModePage;

  constructor(info: DeviceInfo, medium: BlockStore | null = null) {
    super(info, { swp: false });
    if (info.type !== TYPE_ROM) throw invalidArgument("info.type", "TYPE_ROM (5)", info.type);
    this.medium = medium;
    // Read Error Recovery (MMC-6 §7.3): nothing changeable.
    this.modePages.add(
      new ModePage(0x01, 0, [0x01, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], new Array(12).fill(0)),
    );
    // MM Capabilities and Mechanical Status (MMC-3 §6.3.11, kept by MMC-6 as legacy): DVD-ROM
    // read, tray loading, eject, lock (LOCK STATE tracks PREVENT).
    const caps = new Array(22).fill(0);
    caps[0] = 0x2a;
    caps[1] = 0x14;
    caps[2] = 0x08;
    caps[6] = 0x20 | 0x08 | 0x01;
    this.capabilities = new ModePage(0x2a, 0, caps, new Array(22).fill(0));
    this.modePages.add(this.capabilities);
    this.defineCommands();
  }

  /** A drive with an ISO image loaded (an unusable image reads as no medium; see {@link fault}). */
  static async iso(info: DeviceInfo, path: string): Promise<Cdrom> {
    return new Cdrom(info, await FileStore.open(path, { blockSize: CD_BLOCK_SIZE, readOnly: true }));
  }

  /** A drive with `bytes` (a whole number of 2048-byte blocks) loaded. */
  static buffer(info: DeviceInfo, bytes: Uint8Array): Cdrom {
    return new Cdrom(info, bufferMedium(bytes));
  }

  /** Why the loaded medium is unusable, or null. */
  get fault(): string | null {
    return this.medium?.fault ?? null;
  }

  /** Whether a usable medium is loaded and the tray closed. */
  get ready(): boolean {
    return this.notReadyCode() === 0;
  }

  /**
   * Host side (`xl cd-insert`): put `medium` in and close the tray. Every I_T nexus gets 06/28/00
   * NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED (SPC-4 §5.14, QEMU `scsi_cd_change_media_cb`).
   */
  insert(medium: BlockStore): void {
    const old = this.medium;
    this.medium = medium;
    this.trayOpen = false;
    this.mediaEvent = MEDIA_EVENT_NEW_MEDIA;
    this.queueUaAll(NOT_READY_TO_READY_CHANGE);
    if (old && old !== medium) void old.close();
  }

  /** Host side (`xl cd-eject`): take the medium out; the guest sees 02/3A/00 next. */
  async remove(): Promise<void> {
    const old = this.medium;
    this.medium = null;
    this.mediaEvent = MEDIA_EVENT_REMOVAL;
    await old?.close();
  }

  private get blocks(): number {
    return this.medium ? Math.floor(this.medium.size / CD_BLOCK_SIZE) : 0;
  }

  private get isDvd(): boolean {
    return this.blocks > CD_MAX_BLOCKS;
  }

  protected override notReadyCode(): number {
    if (this.trayOpen) return MEDIUM_NOT_PRESENT_TRAY_OPEN;
    if (this.medium === null || this.medium.fault !== null) return MEDIUM_NOT_PRESENT;
    return 0;
  }

  private defineCommands(): void {
    const d = (op: number, name: string, u: Uint8Array, flags: number, run: (t: ScsiTask) => Handled) =>
      this.define(op, -1, name, u, flags, run);
    const read = CMD_DATA_IN | CMD_NEEDS_READY | CMD_PR_READ;
    d(0x25, "READ CAPACITY", usage(0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0x07), CMD_DATA_IN | CMD_NEEDS_READY, (t) =>
      this.readCapacity(t),
    );
    d(0x28, "READ(10)", usage(0x28, 0x18, 0xff, 0xff, 0xff, 0xff, 0, 0xff, 0xff, 0x07), read, (t) =>
      this.read(t, be32(t.cdb, 2), be16(t.cdb, 7)),
    );
    d(
      0xa8,
      "READ(12)",
      usage(0xa8, 0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x80, 0x07),
      read,
      (t) => this.read(t, be32(t.cdb, 2), be32(t.cdb, 6)),
    );
    d(
      0x43,
      "READ TOC/PMA/ATIP",
      usage(0x43, 0x02, 0x0f, 0, 0, 0, 0xff, 0xff, 0xff, 0x07),
      CMD_DATA_IN | CMD_NEEDS_READY,
      (t) => this.readToc(t),
    );
    d(
      0x46,
      "GET CONFIGURATION",
      usage(0x46, 0x03, 0xff, 0xff, 0, 0, 0, 0xff, 0xff, 0x07),
      CMD_DATA_IN | CMD_UA_EXEMPT,
      (t) => this.getConfiguration(t),
    );
    d(
      0x4a,
      "GET EVENT STATUS NOTIFICATION",
      usage(0x4a, 0x01, 0, 0, 0xff, 0, 0, 0xff, 0xff, 0x07),
      CMD_DATA_IN | CMD_UA_EXEMPT,
      (t) => this.getEventStatus(t),
    );
    d(0xbd, "MECHANISM STATUS", usage(0xbd, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0x07), CMD_DATA_IN, (t) =>
      this.mechanismStatus(t),
    );
    d(0x1b, "START STOP UNIT", usage(0x1b, 0x01, 0, 0, 0xf3, 0x07), CMD_PR_WRITE, (t) => this.startStop(t));
    d(0x1e, "PREVENT ALLOW MEDIUM REMOVAL", usage(0x1e, 0, 0, 0, 0x03, 0x07), CMD_PR_WRITE, (t) =>
      this.preventAllow(t),
    );
  }

  private readonly ioDone = (task: ScsiTask, error: number, value: number): void => {
    if (error !== 0) this.check(task, error);
    else this.good(task, value);
  };

  private readCapacity(task: ScsiTask): Handled {
    const b = this.scratch;
    put32(b, 0, this.blocks - 1);
    put32(b, 4, CD_BLOCK_SIZE);
    return this.sendData(task, b, 8, 8);
  }

  private read(task: ScsiTask, lba: number, blocks: number): Handled {
    if (lba + blocks > this.blocks || lba > this.blocks) return this.check(task, LBA_OUT_OF_RANGE);
    const n = Math.min(blocks * CD_BLOCK_SIZE, task.data.length);
    if (n === 0) return this.good(task, 0);
    const m = this.medium!;
    if (!m.sync) this.deferred = true;
    m.read(task, lba * CD_BLOCK_SIZE, n, this.ioDone);
    return HANDLED;
  }

  /** Track start / lead-out address as LBA or MSF (MSF counts the 2-second pregap, MMC-6 §4.2.3.4). */
  private putAddress(b: Uint8Array, at: number, lba: number, msf: boolean): void {
    if (!msf) {
      put32(b, at, lba);
      return;
    }
    const f = lba + 150;
    b[at] = 0;
    b[at + 1] = Math.floor(f / (75 * 60)) & 0xff;
    b[at + 2] = Math.floor(f / 75) % 60;
    b[at + 3] = f % 75;
  }

  private readToc(task: ScsiTask): Handled {
    const cdb = task.cdb;
    const msf = (cdb[1]! & 0x02) !== 0;
    const format = cdb[2]! & 0x0f;
    const track = cdb[6]!;
    const alloc = be16(cdb, 7);
    const b = this.scratch;
    const leadOut = this.blocks;
    let n: number;
    if (format === 0) {
      // Formatted TOC (MMC-6 §6.33.3.2): track 1 and the lead-out (AAh).
      if (track > 1 && track !== 0xaa) return this.invalidField(task, 6, 7);
      n = 4;
      if (track <= 1) {
        b.fill(0, n, n + 8);
        b[n + 1] = 0x14; // ADR 1, CONTROL 4: data track
        b[n + 2] = 1;
        this.putAddress(b, n + 4, 0, msf);
        n += 8;
      }
      b.fill(0, n, n + 8);
      b[n + 1] = 0x14;
      b[n + 2] = 0xaa;
      this.putAddress(b, n + 4, leadOut, msf);
      n += 8;
      b[2] = 1;
      b[3] = 1;
    } else if (format === 1) {
      // Multi-session information (MMC-6 §6.33.3.3): one session starting at track 1.
      n = 12;
      b.fill(0, 0, n);
      b[2] = 1;
      b[3] = 1;
      b[5] = 0x14;
      b[6] = 1;
      this.putAddress(b, 8, 0, msf);
    } else if (format === 2) {
      // Raw TOC (MMC-6 §6.33.3.4): points A0, A1, A2 and track 1, addresses always MSF.
      n = 4;
      const point = (p: number, pmin: number, psec: number, pframe: number) => {
        b.fill(0, n, n + 11);
        b[n] = 1;
        b[n + 1] = 0x14;
        b[n + 3] = p;
        b[n + 8] = pmin;
        b[n + 9] = psec;
        b[n + 10] = pframe;
        n += 11;
      };
      const f = leadOut + 150;
      point(0xa0, 1, 0x00, 0);
      point(0xa1, 1, 0, 0);
      point(0xa2, Math.floor(f / 4500) & 0xff, Math.floor(f / 75) % 60, f % 75);
      point(0x01, 0, 2, 0);
      b[2] = 1;
      b[3] = 1;
    } else {
      return this.invalidField(task, 2, 3); // PMA, ATIP, CD-TEXT: not on a pressed disc image
    }
    put16(b, 0, n - 2);
    return this.sendData(task, b, n, alloc);
  }

  private getConfiguration(task: ScsiTask): Handled {
    const cdb = task.cdb;
    const rt = cdb[1]! & 0x03;
    const start = be16(cdb, 2);
    const alloc = be16(cdb, 7);
    if (rt === 3) return this.invalidField(task, 1, 1);
    const present = this.ready;
    const dvd = present && this.isDvd;
    const cd = present && !dvd;
    const b = this.scratch;
    b.fill(0, 0, 8);
    put16(b, 6, present ? (dvd ? PROFILE_DVD_ROM : PROFILE_CD_ROM) : 0);
    let n = 8;
    const feature = (
      code: number,
      version: number,
      persistent: boolean,
      current: boolean,
      payload: number[],
    ) => {
      if (rt === 2 ? code !== start : code < start) return;
      if (rt === 1 && !current) return;
      put16(b, n, code);
      b[n + 2] = (version << 2) | (persistent ? 0x02 : 0) | (current ? 0x01 : 0);
      b[n + 3] = payload.length;
      for (let i = 0; i < payload.length; i++) b[n + 4 + i] = payload[i]!;
      n += 4 + payload.length;
    };
    // Profile List (MMC-6 §5.3.1): highest profile first.
    feature(0x0000, 0, true, true, [0x00, 0x10, dvd ? 1 : 0, 0, 0x00, 0x08, cd ? 1 : 0, 0]);
    // Core (§5.3.2): physical interface "SCSI family"; no device busy events.
    feature(0x0001, 2, true, true, [0, 0, 0, 1, 0, 0, 0, 0]);
    // Morphing (§5.3.3): events by polling only.
    feature(0x0002, 1, true, true, [0, 0, 0, 0]);
    // Removable Medium (§5.3.4): tray, loads, ejects, locks.
    feature(0x0003, 0, true, true, [0x20 | 0x10 | 0x08 | 0x01, 0, 0, 0]);
    // Random Readable (§5.3.5): 2048-byte blocks; blocking 1 (CD) or 16 (DVD).
    feature(0x0010, 0, false, present, [0, 0, 0x08, 0x00, 0, dvd ? 16 : 1, 0, 0]);
    // CD Read (§5.3.10) and DVD Read (§5.3.11).
    feature(0x001e, 2, false, cd, [0, 0, 0, 0]);
    feature(0x001f, 0, false, dvd, []);
    put32(b, 0, n - 4);
    return this.sendData(task, b, n, alloc);
  }

  private getEventStatus(task: ScsiTask): Handled {
    const cdb = task.cdb;
    if ((cdb[1]! & 0x01) === 0) return this.invalidField(task, 1, 0); // asynchronous: not supported
    const classes = cdb[4]!;
    const alloc = be16(cdb, 7);
    const b = this.scratch;
    b.fill(0, 0, 8);
    b[3] = 0x10; // supported: media class
    if ((classes & 0x10) === 0) {
      put16(b, 0, 2);
      b[2] = 0x80; // NEA: no requested class is supported
      return this.sendData(task, b, 4, alloc);
    }
    put16(b, 0, 6);
    b[2] = 0x04; // media class
    b[4] = this.mediaEvent;
    b[5] = (this.trayOpen ? 0x01 : 0) | (this.medium !== null ? 0x02 : 0);
    this.mediaEvent = MEDIA_EVENT_NONE;
    return this.sendData(task, b, 8, alloc);
  }

  private mechanismStatus(task: ScsiTask): Handled {
    const b = this.scratch;
    b.fill(0, 0, 8);
    b[1] = this.trayOpen ? 0x10 : 0; // DOOR OPEN; mechanism idle; no changer slots
    return this.sendData(task, b, 8, be16(task.cdb, 8));
  }

  private startStop(task: ScsiTask): Handled {
    const b4 = task.cdb[4]!;
    if (b4 >>> 4 !== 0 || (b4 & 0x02) === 0) return this.good(task, 0); // power conditions, spin: no-ops
    if ((b4 & 0x01) === 0) {
      // Eject (MMC-6 §6.41): refused while any I_T nexus prevents removal.
      if (this.removalPrevented()) {
        return this.check(task, this.medium ? MEDIUM_REMOVAL_PREVENTED : NOT_READY_MEDIUM_REMOVAL_PREVENTED);
      }
      if (!this.trayOpen && this.medium) this.mediaEvent = MEDIA_EVENT_REMOVAL;
      this.trayOpen = true;
      return this.good(task, 0);
    }
    if (this.trayOpen) {
      this.trayOpen = false;
      if (this.medium) {
        this.mediaEvent = MEDIA_EVENT_NEW_MEDIA;
        this.queueUaAll(NOT_READY_TO_READY_CHANGE, task.initiator.id);
      }
    }
    return this.good(task, 0);
  }

  private preventAllow(task: ScsiTask): Handled {
    // PREVENT bit 0 locks the tray; bit 1 (persistent prevent) is accepted and folded in.
    this.nexusFor(task.initiator).prevent = (task.cdb[4]! & 0x01) !== 0;
    const locked = this.removalPrevented();
    this.capabilities.current[6] = (this.capabilities.current[6]! & ~0x02) | (locked ? 0x02 : 0);
    return this.good(task, 0);
  }

  override async close(): Promise<void> {
    this.closed = true;
    await this.medium?.close();
  }
}

/** A read-only medium over bytes; faulty unless a whole, non-zero number of 2048-byte blocks. */
export function bufferMedium(bytes: Uint8Array): BufferStore {
  const ok = bytes.length > 0 && bytes.length % CD_BLOCK_SIZE === 0;
  return new BufferStore(
    bytes,
    ok ? null : `medium of ${bytes.length} bytes is not a whole number of 2048-byte blocks`,
  );
}
