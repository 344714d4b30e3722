import createDebug from "debug";
import { be16, be32 } from "../../scsi/cdb.js";
import { directionContradicts } from "../../scsi/data-direction.js";
import {
  type DeviceInfo,
  type Initiator,
  SAM_STAT_CHECK_CONDITION,
  SAM_STAT_GOOD,
  SAM_STAT_RESERVATION_CONFLICT,
  type ScsiDevice,
  type ScsiTask,
  type TmfResponse,
} from "../../scsi/device.js";
import {
  fieldPointer,
  INTERNAL_TARGET_FAILURE,
  INVALID_COMMAND_OPERATION_CODE,
  INVALID_FIELD_IN_CDB,
  INVALID_FIELD_IN_COMMAND_IU,
  INVALID_FIELD_IN_PARAMETER_LIST,
  LUN_NOT_READY_CAUSE_NOT_REPORTABLE,
  MODE_PARAMETERS_CHANGED,
  NO_ADDITIONAL_SENSE,
  NO_INFORMATION,
  PARAMETER_LIST_LENGTH_ERROR,
  POWER_ON_RESET_OCCURRED,
  REPORTED_LUNS_DATA_HAS_CHANGED,
  SAVING_PARAMETERS_NOT_SUPPORTED,
  writeSense,
} from "../../scsi/sense.js";
import type { TargetPort } from "../target-port.js";
import {
  CMD_DATA_IN,
  CMD_DATA_OUT,
  CMD_NEEDS_READY,
  CMD_PR_COMMAND,
  CMD_PR_WRITE,
  CMD_RESERVE6_OK,
  CMD_UA_EXEMPT,
  CommandTable,
  HANDLED,
  type Handled,
  type ScsiCommand,
  usage,
  writeAllCommands,
  writeOneCommand,
} from "./command.js";
import {
  type DeviceIdentity,
  VERSION_SAM5,
  VERSION_SPC3,
  VERSION_SPC4,
  writeStandardInquiry,
  writeVpdDeviceIdentification,
  writeVpdSerial,
  writeVpdSupportedPages,
  wwnBytes,
} from "./inquiry.js";
import { ModePage, ModePageSet, PC_SAVED } from "./mode-pages.js";
import {
  PR_CONFLICT,
  PR_GOOD,
  PR_IN_READ_FULL_STATUS,
  PR_IN_READ_KEYS,
  PR_IN_READ_RESERVATION,
  PR_IN_REPORT_CAPABILITIES,
  PR_OUT_CLEAR,
  PR_OUT_PARAMETER_LIST_LENGTH,
  PR_OUT_PREEMPT,
  PR_OUT_REGISTER,
  PR_OUT_REGISTER_AND_IGNORE_EXISTING_KEY,
  PR_OUT_RELEASE,
  PR_OUT_RESERVE,
  Reservations,
} from "./reservations.js";
import { UnitAttentionQueue } from "./unit-attention.js";

const log = createDebug("pvscsi:targets");

/** Per I_T nexus state on one logical unit. */
export class Nexus {
  readonly ua = new UnitAttentionQueue();
  /** PREVENT ALLOW MEDIUM REMOVAL state of this nexus (SPC-4 §6.13 / SBC-3 §5.13). */
  prevent = false;
  constructor(readonly initiator: Initiator) {}
}

/** Size of the scratch buffer for emulated responses (largest: READ FULL STATUS, 8 + 64 × 48). */
const SCRATCH_SIZE = 8192;
/** Largest parameter list a 16-bit length field can ask for. */
const PARAM_BUFFER_SIZE = 65536;

/**
 * The SPC layer every pvscsi logical unit shares (SPC-4; SAM-5 §5.14 for the order of checks):
 * command lookup and CDB validation, unit attentions per I_T nexus, RESERVE(6) and persistent
 * reservations, INQUIRY and VPD pages 00h/80h/83h, REPORT LUNS, TEST UNIT READY, REQUEST SENSE,
 * MODE SENSE/SELECT over a {@link ModePageSet}, REPORT SUPPORTED OPERATION CODES, and the sense
 * format choice (D_SENSE in the Control mode page).
 *
 * Order of checks in {@link submit}: closed device (02/04/00) → opcode (05/20/00) → service
 * action (05/24/00) → CDB length → CONTROL byte NACA/LINK (05/24/00) → reserved CDB bits
 * (05/24/00 with a bit pointer) → data-in into a read-only buffer (05/0E/03) → unit attention →
 * reservation conflict → not ready → the command's own checks. QEMU reports a unit attention
 * before looking at the opcode (`scsi_req_new`); pvscsi looks at the opcode first so a command it
 * cannot parse never consumes a unit attention.
 *
 * Device types subclass it, add their commands and mode pages, and override {@link
 * notReadyCode}, {@link blockDescriptor}, {@link deviceSpecificParameter} and {@link writeVpd}.
 * Every handler completes its task exactly once, synchronously, unless it sets `deferred`.
 */
export abstract class SpcDevice implements ScsiDevice {
  readonly info: DeviceInfo;
  readonly commands = new CommandTable();
  readonly modePages = new ModePageSet();
  readonly reservations: Reservations;
  /** The target port this unit is attached to and its LUN there; set by the target. */
  port: TargetPort | null = null;
  lun = 0;
  /** Response scratch; handlers that use it complete synchronously. */
  protected readonly scratch = new Uint8Array(SCRATCH_SIZE);
  /** Parameter-list scratch for data-out commands (MODE SELECT, PR OUT, UNMAP). */
  protected readonly params = new Uint8Array(PARAM_BUFFER_SIZE);
  protected readonly nexuses = new Map<number, Nexus>();
  /** Fixed or descriptor sense: the Control mode page's D_SENSE, cached. */
  protected descSense = false;
  protected closed = false;
  /** Set by a handler that will complete its task later (file I/O). */
  protected deferred = false;
  private finished = false;
  private readonly wwn: Uint8Array;
  private readonly controlPage: ModePage;

  constructor(info: DeviceInfo, controlChangeable: { swp: boolean }) {
    this.info = info;
    this.wwn = wwnBytes(info.wwn);
    this.reservations = new Reservations((id, code) => this.queueUa(id, code));
    // Control mode page (SPC-4 §7.5.8): QUEUE ALGORITHM MODIFIER 1 (unrestricted reordering),
    // D_SENSE changeable; SWP changeable for units that can be write-protected.
    this.controlPage = new ModePage(
      0x0a,
      0,
      [0x0a, 0x0a, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00],
      [0, 0, 0x04, 0x00, controlChangeable.swp ? 0x08 : 0x00, 0, 0, 0, 0, 0, 0, 0],
    );
    this.modePages.add(this.controlPage);
    const none = CMD_UA_EXEMPT | CMD_RESERVE6_OK;
    this.define(0x00, -1, "TEST UNIT READY", usage(0x00, 0, 0, 0, 0, 0x07), CMD_NEEDS_READY, (t) =>
      this.good(t, 0),
    );
    this.define(0x03, -1, "REQUEST SENSE", usage(0x03, 0x01, 0, 0, 0xff, 0x07), none | CMD_DATA_IN, (t) =>
      this.requestSense(t),
    );
    this.define(0x12, -1, "INQUIRY", usage(0x12, 0x01, 0xff, 0xff, 0xff, 0x07), none | CMD_DATA_IN, (t) =>
      this.inquiry(t),
    );
    this.define(
      0xa0,
      -1,
      "REPORT LUNS",
      usage(0xa0, 0, 0xff, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0x07),
      none | CMD_DATA_IN,
      (t) => this.reportLuns(t),
    );
    this.define(
      0x1a,
      -1,
      "MODE SENSE(6)",
      usage(0x1a, 0x08, 0xff, 0xff, 0xff, 0x07),
      CMD_DATA_IN | CMD_PR_WRITE,
      (t) => this.modeSense(t, false),
    );
    this.define(
      0x5a,
      -1,
      "MODE SENSE(10)",
      usage(0x5a, 0x18, 0xff, 0xff, 0, 0, 0, 0xff, 0xff, 0x07),
      CMD_DATA_IN | CMD_PR_WRITE,
      (t) => this.modeSense(t, true),
    );
    this.define(
      0x15,
      -1,
      "MODE SELECT(6)",
      usage(0x15, 0x11, 0, 0, 0xff, 0x07),
      CMD_DATA_OUT | CMD_PR_WRITE,
      (t) => this.modeSelect(t, false),
    );
    this.define(
      0x55,
      -1,
      "MODE SELECT(10)",
      usage(0x55, 0x11, 0, 0, 0, 0, 0, 0xff, 0xff, 0x07),
      CMD_DATA_OUT | CMD_PR_WRITE,
      (t) => this.modeSelect(t, true),
    );
    this.define(
      0xa3,
      0x0c,
      "REPORT SUPPORTED OPERATION CODES",
      usage(0xa3, 0x1f, 0x87, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0x07),
      CMD_DATA_IN | CMD_RESERVE6_OK,
      (t) => this.reportOpcodes(t),
    );
    this.define(0x16, -1, "RESERVE(6)", usage(0x16, 0, 0, 0, 0, 0x07), 0, (t) =>
      this.finishPr(t, this.reservations.reserve6(t.initiator.id)),
    );
    this.define(0x17, -1, "RELEASE(6)", usage(0x17, 0, 0, 0, 0, 0x07), CMD_RESERVE6_OK, (t) =>
      this.finishPr(t, this.reservations.release6(t.initiator.id)),
    );
    const prIn = usage(0x5e, 0x1f, 0, 0, 0, 0, 0, 0xff, 0xff, 0x07);
    for (const [sa, name] of [
      [PR_IN_READ_KEYS, "READ KEYS"],
      [PR_IN_READ_RESERVATION, "READ RESERVATION"],
      [PR_IN_REPORT_CAPABILITIES, "REPORT CAPABILITIES"],
      [PR_IN_READ_FULL_STATUS, "READ FULL STATUS"],
    ] as const) {
      this.define(0x5e, sa, `PERSISTENT RESERVE IN ${name}`, prIn, CMD_DATA_IN | CMD_PR_COMMAND, (t) =>
        this.prIn(t, sa),
      );
    }
    const prOut = usage(0x5f, 0x1f, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x07);
    for (const [sa, name] of [
      [PR_OUT_REGISTER, "REGISTER"],
      [PR_OUT_RESERVE, "RESERVE"],
      [PR_OUT_RELEASE, "RELEASE"],
      [PR_OUT_CLEAR, "CLEAR"],
      [PR_OUT_PREEMPT, "PREEMPT"],
      [PR_OUT_REGISTER_AND_IGNORE_EXISTING_KEY, "REGISTER AND IGNORE EXISTING KEY"],
    ] as const) {
      this.define(0x5f, sa, `PERSISTENT RESERVE OUT ${name}`, prOut, CMD_DATA_OUT | CMD_PR_COMMAND, (t) =>
        this.prOut(t),
      );
    }
  }

  /** Register a command handler. */
  protected define(
    opcode: number,
    serviceAction: number,
    name: string,
    usageData: Uint8Array,
    flags: number,
    run: (task: ScsiTask) => Handled,
  ): void {
    const cmd: ScsiCommand = { opcode, serviceAction, name, usage: usageData, flags, run };
    this.commands.add(cmd);
  }

  // ---- state a subclass describes ------------------------------------------------------------

  /** 0 when the unit is ready for medium access, else the NOT READY sense code to report. */
  protected notReadyCode(): number {
    return 0;
  }

  /** MODE SENSE block descriptor at `at` (8 bytes, or 16 with `long`); returns its length, 0 for none. */
  protected blockDescriptor(_b: Uint8Array, _at: number, _long: boolean): number {
    return 0;
  }

  /** MODE SENSE header DEVICE-SPECIFIC PARAMETER (SBC: WP | DPOFUA). */
  protected deviceSpecificParameter(): number {
    return 0;
  }

  /**
   * Check the MODE SELECT block descriptors `list[at, at + length)`; 0 when acceptable, else a
   * sense code (with `this.selectSks`). The default accepts none.
   */
  protected checkBlockDescriptors(_list: Uint8Array, at: number, length: number): number {
    if (length === 0) return 0;
    this.selectSks = fieldPointer(false, at === 4 ? 3 : 6, 7); // BLOCK DESCRIPTOR LENGTH
    return INVALID_FIELD_IN_PARAMETER_LIST;
  }
  protected selectSks = 0;

  /** VPD pages beyond 00h/80h/83h, in ascending order. */
  protected extraVpdPages(): readonly number[] {
    return [];
  }

  /** Write VPD `page` (one of {@link extraVpdPages}) into `b`; return its length. */
  protected writeVpd(_page: number, _b: Uint8Array): number {
    return -1;
  }

  /** Version descriptors of standard INQUIRY beyond SAM-5 and SPC. */
  protected versionDescriptors(): readonly number[] {
    return [];
  }

  /** Hook: mode pages changed (through MODE SELECT). */
  protected modePagesChanged(): void {}

  /**
   * Hook: a MODE SELECT parameter list passed every check and its pages were applied; apply what
   * the subclass staged from the header and block descriptors (`list[0, headerLength + bdl)`),
   * so a list is applied whole or not at all. Returns whether a current value changed (other
   * I_T nexuses then get 06/2A/01).
   */
  protected modeSelectApplied(_list: Uint8Array, _headerLength: number, _bdl: number): boolean {
    return false;
  }

  // ---- ScsiDevice ------------------------------------------------------------------------------

  submit(task: ScsiTask): void {
    this.finished = false;
    this.deferred = false;
    try {
      this.dispatch(task);
    } catch (e) {
      if (this.finished) throw e; // raised by task.done itself: the submitter's bug, not ours
      log("%s: internal error on opcode 0x%s: %O", this.info.product, (task.cdb[0] ?? 0).toString(16), e);
      if (!this.deferred) this.check(task, INTERNAL_TARGET_FAILURE);
    }
  }

  private dispatch(task: ScsiTask): Handled {
    const cdb = task.cdb;
    if (this.closed) return this.check(task, LUN_NOT_READY_CAUSE_NOT_REPORTABLE);
    const cmd = cdb.length === 0 ? undefined : this.commands.lookup(cdb);
    if (cmd === undefined) return this.check(task, INVALID_COMMAND_OPERATION_CODE);
    if (cmd === null) return this.invalidField(task, 1, 4);
    const len = cmd.usage.length;
    if (cdb.length < len) return this.invalidField(task, cdb.length - 1);
    const control = cdb[len - 1]!;
    // NACA and LINK (SAM-5 §5.2): ACA and linked commands are not supported.
    if (control & 0x04) return this.invalidField(task, len - 1, 2);
    if (control & 0x01) return this.invalidField(task, len - 1, 0);
    const use = cmd.usage;
    for (let i = 1; i < len - 1; i++) {
      const bad = cdb[i]! & ~use[i]!;
      if (bad !== 0) return this.invalidField(task, i, 31 - Math.clz32(bad));
    }
    let flags = cmd.flags;
    if (directionContradicts((flags & CMD_DATA_IN) !== 0, (flags & CMD_DATA_OUT) !== 0, task)) {
      // The command IU's data direction contradicts the CDB: read-only memory for data-in, or
      // data-in memory for data-out. Linux TCM answers such mismatches with 05/0E/03
      // (`target_cmd_size_check`); refusing here, before any handler runs, means the medium
      // never receives a guest's data-in pages and no handler writes into read-only grants.
      return this.check(task, INVALID_FIELD_IN_COMMAND_IU);
    }
    const nexus = this.nexusFor(task.initiator);
    if ((flags & CMD_UA_EXEMPT) === 0 && nexus.ua.count > 0) return this.check(task, nexus.ua.shift());
    // PREVENT ALLOW MEDIUM REMOVAL with PREVENT 0 is allowed under another's RESERVE(6) (SPC-2
    // §5.5.1) and under any persistent reservation (SBC-3 Table 13).
    if (cdb[0] === 0x1e && (cdb[4]! & 0x01) === 0) flags = (flags | CMD_RESERVE6_OK) & ~CMD_PR_WRITE;
    const id = task.initiator.id;
    if (this.reservations.conflicts(id, flags) || this.reservations.prCommandConflicts(id, flags)) {
      return this.conflict(task);
    }
    if ((flags & CMD_NEEDS_READY) !== 0) {
      const nr = this.notReadyCode();
      if (nr !== 0) return this.check(task, nr);
    }
    return cmd.run(task);
  }

  abortTask(_initiator: Initiator, _tag: number): TmfResponse | Promise<TmfResponse> {
    return "not-found"; // every task completed inside submit
  }

  lunReset(_initiator: Initiator): TmfResponse | Promise<TmfResponse> {
    this.resetState();
    return "complete";
  }

  /** LOGICAL UNIT RESET effects (SAM-5 §6.6): RESERVE(6) and PREVENT go, every nexus gets 06/29/00. */
  protected resetState(): void {
    this.reservations.dropReserve6(null);
    for (const n of this.nexuses.values()) {
      n.prevent = false;
      n.ua.push(POWER_ON_RESET_OCCURRED);
    }
  }

  addNexus(initiator: Initiator): void {
    const n = new Nexus(initiator);
    n.ua.push(POWER_ON_RESET_OCCURRED);
    this.nexuses.set(initiator.id, n);
  }

  removeNexus(initiator: Initiator): void {
    this.nexuses.delete(initiator.id);
    this.reservations.dropReserve6(initiator.id);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  // ---- unit attentions -------------------------------------------------------------------------

  /** The nexus of `initiator`, created with 06/29/00 pending if it is new (an implicit login). */
  protected nexusFor(initiator: Initiator): Nexus {
    let n = this.nexuses.get(initiator.id);
    if (n === undefined) {
      n = new Nexus(initiator);
      n.ua.push(POWER_ON_RESET_OCCURRED);
      this.nexuses.set(initiator.id, n);
    }
    return n;
  }

  /** Queue a unit attention for one initiator (ignored when it has no nexus here). */
  queueUa(initiatorId: number, code: number): void {
    this.nexuses.get(initiatorId)?.ua.push(code);
  }

  /** Queue a unit attention for every nexus, except `exceptId` when given. */
  queueUaAll(code: number, exceptId = -1): void {
    for (const [id, n] of this.nexuses) if (id !== exceptId) n.ua.push(code);
  }

  /** Drop a pending condition of one initiator (REPORT LUNS clears 3F/0E). */
  clearUa(initiatorId: number, code: number): void {
    this.nexuses.get(initiatorId)?.ua.remove(code);
  }

  /** Whether any nexus has PREVENT set (SBC-3 §5.13: removal is prevented if any does). */
  protected removalPrevented(): boolean {
    for (const n of this.nexuses.values()) if (n.prevent) return true;
    return false;
  }

  // ---- completion helpers (each calls task.done exactly once) ----------------------------------

  protected good(task: ScsiTask, transferred: number): Handled {
    this.finished = true;
    task.done(SAM_STAT_GOOD, transferred, 0);
    return HANDLED;
  }

  /** CHECK CONDITION with `code`, no data (SAM-5: no data with CHECK CONDITION here). */
  protected check(
    task: ScsiTask,
    code: number,
    sks = 0,
    information = NO_INFORMATION,
    senseFlags = 0,
  ): Handled {
    const n = writeSense(
      task.sense,
      this.descSense,
      code,
      senseFlags,
      information,
      sks,
      this.isBlockDevice(),
    );
    this.finished = true;
    task.done(SAM_STAT_CHECK_CONDITION, 0, n);
    return HANDLED;
  }

  /**
   * CHECK CONDITION that still moved data: sequential-access devices report FILEMARK, EOM and
   * ILI conditions together with the blocks read or written before them (SSC-3 READ(6):
   * the data of an incorrect-length block is transferred). The residual tells the
   * initiator how much moved; `information` is the residue in the sense data.
   */
  protected checkWithData(
    task: ScsiTask,
    code: number,
    transferred: number,
    information: number,
    senseFlags: number,
  ): Handled {
    const n = writeSense(task.sense, this.descSense, code, senseFlags, information, 0, this.isBlockDevice());
    this.finished = true;
    task.done(SAM_STAT_CHECK_CONDITION, Math.max(0, Math.min(transferred, task.data.length)), n);
    return HANDLED;
  }

  /** 05/24/00 INVALID FIELD IN CDB pointing at `byte` (and `bit`, the field's most significant bit). */
  protected invalidField(task: ScsiTask, byte: number, bit = -1): Handled {
    return this.check(task, INVALID_FIELD_IN_CDB, fieldPointer(true, byte, bit));
  }

  protected conflict(task: ScsiTask): Handled {
    this.finished = true;
    task.done(SAM_STAT_RESERVATION_CONFLICT, 0, 0);
    return HANDLED;
  }

  /** Copy `length` bytes of `src` as data-in, cut to `allocation` and the buffer; GOOD. */
  protected sendData(task: ScsiTask, src: Uint8Array, length: number, allocation: number): Handled {
    const n = Math.max(0, Math.min(length, allocation, task.data.length));
    if (n > 0) task.data.write(0, src, 0, n);
    return this.good(task, n);
  }

  /** Whether sense uses the block commands descriptor for ILI (SBC) rather than the stream one. */
  protected isBlockDevice(): boolean {
    return false;
  }

  /**
   * Read a `length`-byte parameter list into {@link params}. A data-out buffer shorter than the
   * CDB's length field is an overflow Linux TCM rejects for control CDBs with 05/24/00
   * (`target_cmd_size_check`); the field pointer names the length field at `lengthByte`.
   * Returns false (task completed) when the list is not all there.
   */
  protected readParams(task: ScsiTask, length: number, lengthByte: number): boolean {
    if (length > this.params.length || task.data.length < length) {
      this.invalidField(task, lengthByte, 7);
      return false;
    }
    task.data.read(0, this.params, 0, length);
    return true;
  }

  // ---- SPC commands ----------------------------------------------------------------------------

  private requestSense(task: ScsiTask): Handled {
    const cdb = task.cdb;
    const desc = (cdb[1]! & 0x01) !== 0;
    const alloc = cdb[4]!;
    const nexus = this.nexusFor(task.initiator);
    // SPC-4 §6.39: a pending unit attention is returned as parameter data, GOOD, and cleared;
    // otherwise the sense for the unit's current state (NOT READY) or NO SENSE.
    let code = nexus.ua.shift();
    if (code < 0) code = this.notReadyCode() || NO_ADDITIONAL_SENSE;
    const n = writeSense(this.scratch, desc, code, 0, NO_INFORMATION, 0, this.isBlockDevice());
    return this.sendData(task, this.scratch, n, alloc);
  }

  private peripheralByte(): number {
    return this.info.type & 0x1f;
  }

  private inquiry(task: ScsiTask): Handled {
    const cdb = task.cdb;
    const alloc = be16(cdb, 3);
    const b = this.scratch;
    if ((cdb[1]! & 0x01) === 0) {
      if (cdb[2] !== 0) return this.invalidField(task, 2, 7);
      const v = this.info.scsiLevel >= 6 ? VERSION_SPC4 : VERSION_SPC3;
      const n = writeStandardInquiry(b, this.info, [VERSION_SAM5, v, ...this.versionDescriptors()]);
      return this.sendData(task, b, n, alloc);
    }
    const page = cdb[2]!;
    const byte0 = this.peripheralByte();
    let n: number;
    if (page === 0x00) n = writeVpdSupportedPages(b, byte0, [0x00, 0x80, 0x83, ...this.extraVpdPages()]);
    else if (page === 0x80) n = writeVpdSerial(b, byte0, this.info.serial);
    else if (page === 0x83) n = writeVpdDeviceIdentification(b, byte0, this.identity());
    else n = this.extraVpdPages().includes(page) ? this.writeVpd(page, b) : -1;
    if (n < 0) return this.invalidField(task, 2, 7);
    return this.sendData(task, b, n, alloc);
  }

  private identity(): DeviceIdentity {
    return {
      wwn: this.wwn,
      vendor: this.info.vendor,
      serial: this.info.serial,
      targetPortWwn: this.port?.wwnBytes ?? null,
      relativePortId: this.port?.relativePortId ?? 1,
    };
  }

  private reportLuns(task: ScsiTask): Handled {
    const cdb = task.cdb;
    const select = cdb[2]!;
    const alloc = be32(cdb, 6);
    if (select > 2) return this.invalidField(task, 2, 7);
    if (alloc < 16) return this.invalidField(task, 6, 7);
    const port = this.port;
    if (port) {
      port.clearReportedLunsChanged(task.initiator.id);
      return this.good(task, port.writeLunList(task.data, select, alloc));
    }
    this.nexusFor(task.initiator).ua.remove(REPORTED_LUNS_DATA_HAS_CHANGED);
    // Not behind a target: the unit is alone at its LUN.
    const b = this.scratch;
    b.fill(0, 0, 16);
    const n = select === 1 ? 8 : 16;
    b[3] = n - 8;
    b[9] = this.lun & 0xff;
    return this.sendData(task, b, n, alloc);
  }

  private modeSense(task: ScsiTask, ten: boolean): Handled {
    const cdb = task.cdb;
    const dbd = (cdb[1]! & 0x08) !== 0;
    const llbaa = ten && (cdb[1]! & 0x10) !== 0;
    const pc = cdb[2]! >>> 6;
    const page = cdb[2]! & 0x3f;
    const subpage = cdb[3]!;
    const alloc = ten ? be16(cdb, 7) : cdb[4]!;
    if (pc === PC_SAVED) return this.check(task, SAVING_PARAMETERS_NOT_SUPPORTED);
    const b = this.scratch;
    const hdr = ten ? 8 : 4;
    b.fill(0, 0, hdr);
    const bdl = dbd ? 0 : this.blockDescriptor(b, hdr, llbaa);
    const end = this.modePages.sense(b, hdr + bdl, pc, page, subpage);
    if (end < 0) {
      // The page code is supported but not that sub-page → point at SUBPAGE CODE; else PAGE CODE.
      const known = page === 0x3f || this.hasPage(page);
      return this.invalidField(task, known ? 3 : 2, known ? 7 : 5);
    }
    if (ten) {
      b[0] = ((end - 2) >>> 8) & 0xff;
      b[1] = (end - 2) & 0xff;
      b[3] = this.deviceSpecificParameter();
      b[4] = bdl === 16 ? 0x01 : 0; // LONGLBA
      b[6] = 0;
      b[7] = bdl;
    } else {
      b[0] = Math.min(end - 1, 0xff);
      b[2] = this.deviceSpecificParameter();
      b[3] = bdl;
    }
    return this.sendData(task, b, end, alloc);
  }

  private hasPage(code: number): boolean {
    return this.modePages.sense(this.params, 0, 0, code, 0xff) >= 0;
  }

  private modeSelect(task: ScsiTask, ten: boolean): Handled {
    const cdb = task.cdb;
    const length = ten ? be16(cdb, 7) : cdb[4]!;
    if ((cdb[1]! & 0x10) === 0) return this.invalidField(task, 1, 4); // PF: only page format
    if ((cdb[1]! & 0x01) !== 0) return this.invalidField(task, 1, 0); // SP: nothing is saved
    if (length === 0) return this.good(task, 0);
    if (!this.readParams(task, length, ten ? 7 : 4)) return HANDLED;
    const p = this.params;
    const hdr = ten ? 8 : 4;
    if (length < hdr) return this.check(task, PARAMETER_LIST_LENGTH_ERROR);
    const bdl = ten ? be16(p, 6) : p[3]!;
    if (hdr + bdl > length) return this.check(task, PARAMETER_LIST_LENGTH_ERROR);
    const bad = this.checkBlockDescriptors(p, hdr, bdl);
    if (bad !== 0) return this.check(task, bad, this.selectSks);
    const r = this.modePages.select(p, hdr + bdl, length);
    if (r !== 0) return this.check(task, r, this.modePages.sks);
    const headerChanged = this.modeSelectApplied(p, hdr, bdl);
    if (this.modePages.changed || headerChanged) {
      this.descSense = (this.controlPage.current[2]! & 0x04) !== 0;
      this.modePagesChanged();
      // SPC-4 §6.9: other I_T nexuses learn of the change through 06/2A/01.
      this.queueUaAll(MODE_PARAMETERS_CHANGED, task.initiator.id);
    }
    return this.good(task, length);
  }

  /** Software write protect (SWP) in the Control mode page. */
  protected get softwareWriteProtect(): boolean {
    return (this.controlPage.current[4]! & 0x08) !== 0;
  }

  private reportOpcodes(task: ScsiTask): Handled {
    const cdb = task.cdb;
    const options = cdb[2]! & 0x07;
    const rctd = (cdb[2]! & 0x80) !== 0;
    const op = cdb[3]!;
    const sa = be16(cdb, 4);
    const alloc = be32(cdb, 6);
    const b = this.scratch;
    let n: number;
    if (options === 0) {
      n = writeAllCommands(b, this.commands, rctd);
    } else if (options === 1) {
      if (this.commands.hasServiceActions(op)) return this.invalidField(task, 3, 7);
      n = writeOneCommand(b, this.commands.find(op, -1), rctd);
    } else if (options === 2) {
      if (this.commands.find(op, -1)) return this.invalidField(task, 3, 7);
      n = writeOneCommand(b, sa <= 0x1f ? this.commands.find(op, sa) : undefined, rctd);
    } else {
      return this.invalidField(task, 2, 2);
    }
    return this.sendData(task, b, n, alloc);
  }

  private prIn(task: ScsiTask, sa: number): Handled {
    const alloc = be16(task.cdb, 7);
    const r = this.reservations;
    const b = this.scratch;
    const n =
      sa === PR_IN_READ_KEYS
        ? r.readKeys(b)
        : sa === PR_IN_READ_RESERVATION
          ? r.readReservation(b)
          : sa === PR_IN_REPORT_CAPABILITIES
            ? r.reportCapabilities(b)
            : r.readFullStatus(b);
    return this.sendData(task, b, n, alloc);
  }

  private prOut(task: ScsiTask): Handled {
    const cdb = task.cdb;
    const length = be32(cdb, 5);
    if (length !== PR_OUT_PARAMETER_LIST_LENGTH) return this.check(task, PARAMETER_LIST_LENGTH_ERROR);
    if (!this.readParams(task, length, 5)) return HANDLED;
    return this.finishPr(task, this.reservations.out(task.initiator, cdb, this.params, length), length);
  }

  private finishPr(task: ScsiTask, r: number, transferred = 0): Handled {
    if (r === PR_GOOD) return this.good(task, transferred);
    if (r === PR_CONFLICT) return this.conflict(task);
    return this.check(task, r, this.reservations.sks);
  }
}
