/**
 * The target side of one iSCSI connection (RFC 7143) as a sans-IO state machine: bytes in through
 * {@link IscsiTargetConnection.receive}, bytes out and SCSI work through its
 * {@link IscsiTargetHandler}. Login with key negotiation, SendTargets discovery, SCSI Command
 * with immediate and unsolicited data, R2T/Data-Out, Data-In with status, SCSI Response with
 * sense and residuals, the CmdSN window, NOP-In/Out, task management and Logout, at
 * ErrorRecoveryLevel 0. A peer's bad PDU gets a Reject or a dropped connection, never an
 * exception out of `receive`.
 * @module
 */

import {
  answerKeys,
  DEFAULT_POLICY,
  decodeKeys,
  defaultParams,
  encodeKeys,
  type ParamPolicy,
  type SessionParams,
} from "./keys.js";
import {
  cdbOf,
  encodePdu,
  IscsiProtocolError,
  isImmediate,
  ittOf,
  lunOf,
  NO_DIGESTS,
  newBhs,
  OP_DATA_IN,
  OP_DATA_OUT,
  OP_LOGIN_REQ,
  OP_LOGIN_RSP,
  OP_LOGOUT_REQ,
  OP_LOGOUT_RSP,
  OP_NOP_IN,
  OP_NOP_OUT,
  OP_R2T,
  OP_SCSI_CMD,
  OP_SCSI_RSP,
  OP_SNACK,
  OP_TEXT_REQ,
  OP_TEXT_RSP,
  OP_TMF_REQ,
  OP_TMF_RSP,
  opcodeOf,
  type Pdu,
  PduReader,
  REJECT_INVALID_FIELD,
  REJECT_NOT_SUPPORTED,
  REJECT_PROTOCOL_ERROR,
  REJECT_SNACK,
  RESERVED_TAG,
  rejectPdu,
  setU32,
  snLt,
  u32,
} from "./pdu.js";

/** Task management functions (RFC 7143 §11.5.1). */
export const TMF_ABORT_TASK = 1;
/** ABORT TASK SET. */
export const TMF_ABORT_TASK_SET = 2;
/** CLEAR ACA. */
export const TMF_CLEAR_ACA = 3;
/** CLEAR TASK SET. */
export const TMF_CLEAR_TASK_SET = 4;
/** LOGICAL UNIT RESET. */
export const TMF_LOGICAL_UNIT_RESET = 5;
/** TARGET WARM RESET. */
export const TMF_TARGET_WARM_RESET = 6;
/** TARGET COLD RESET. */
export const TMF_TARGET_COLD_RESET = 7;
/** TASK REASSIGN. */
export const TMF_TASK_REASSIGN = 8;

/** TMF responses (§11.6.1). */
export const TMF_RSP_COMPLETE = 0;
/** Task does not exist. */
export const TMF_RSP_NO_TASK = 1;
/** LUN does not exist. */
export const TMF_RSP_NO_LUN = 2;
/** Task management function not supported. */
export const TMF_RSP_NOT_SUPPORTED = 5;
/** Function rejected. */
export const TMF_RSP_REJECTED = 255;

/** A SCSI command the target hands to its handler once all its data-out is in. */
export interface TargetCommand {
  /** Initiator Task Tag: unique among the connection's tasks in flight. */
  readonly itt: number;
  readonly lun: number;
  readonly cdb: Uint8Array;
  /** Data-out (exactly EDTL bytes) of a write, else null. */
  readonly dataOut: Uint8Array | null;
  /** Expected data-in length of a read (EDTL), else 0. */
  readonly inLength: number;
  /** Task attribute (0 untagged, 1 simple, 2 ordered, 3 head of queue, 4 ACA). */
  readonly attr: number;
}

/** The outcome of a {@link TargetCommand}. */
export interface TargetResult {
  /** SAM status. */
  readonly status: number;
  /** Sense data (fixed or descriptor format), sent with the SCSI Response. */
  readonly sense?: Uint8Array;
  /** Data-in actually produced (at most `inLength` bytes are sent). */
  readonly data?: Uint8Array;
  /** Data-out bytes the device did not consume (write underflow). */
  readonly writeResidual?: number;
  /** Bytes the command wanted beyond EDTL (residual overflow), when the handler knows. */
  readonly overflow?: number;
}

/** A task management request, answered with {@link TmfRequest.respond}. */
export interface TmfRequest {
  readonly fn: number;
  readonly lun: number;
  /** The referenced task of ABORT TASK, if it was still in flight here (its completion will be dropped). */
  readonly task: TargetCommand | null;
  /** Every task this function aborted (ABORT TASK SET, LUN RESET …). */
  readonly aborted: readonly TargetCommand[];
  /** Send the TMF Response. */
  respond(response: number): void;
}

/** What the connection needs from its shell. */
export interface IscsiTargetHandler {
  /** Write bytes to the peer. */
  send(bytes: Uint8Array): void;
  /** Close the connection (after what was sent); `reason` for logs. Called once. */
  close(reason: string): void;
  /** Run a command; answer with {@link IscsiTargetConnection.complete}. */
  execute(cmd: TargetCommand): void;
  /** A task management function; the handler resets/aborts, then calls `respond`. */
  taskManagement(req: TmfRequest): void;
  /** Whether a normal session may log in as `initiator` (ACL); default: every initiator. */
  authorize?(initiator: string): boolean;
}

/** Fixed facts of one target portal. */
export interface IscsiTargetConfig {
  /** Target IQN. */
  readonly targetName: string;
  /** TargetAddress for SendTargets: `ip:port,tpgt`. */
  readonly address: string;
  /** Target Session Identifying Handle for this connection's session (non-zero). */
  readonly tsih: number;
  /** Negotiation limits; default {@link DEFAULT_POLICY}. */
  readonly policy?: ParamPolicy;
  /** Command window (MaxCmdSN - ExpCmdSN + 1); default 32. */
  readonly window?: number;
  /** An alias sent as TargetAlias. */
  readonly alias?: string;
}

/** The connection's phase. */
export type TargetPhase = "login" | "full-feature" | "closed";

interface R2tState {
  ttt: number;
  offset: number;
  length: number;
  received: number;
  nextDataSn: number;
}

interface Task {
  readonly cmd: TargetCommand;
  readonly edtl: number;
  readonly write: boolean;
  readonly buf: Uint8Array | null;
  received: number;
  /** End of the region the initiator may send without an R2T. */
  unsolicitedEnd: number;
  unsolicitedOpen: boolean;
  unsolicitedDataSn: number;
  nextSolicit: number;
  r2t: R2tState | null;
  r2tSn: number;
  executing: boolean;
  aborted: boolean;
}

const EMPTY = new Uint8Array(0);

/**
 * One iSCSI connection, target side. At ERL 0 a session has one connection, so this is also the
 * session's state (CmdSN window, StatSN).
 */
export class IscsiTargetConnection {
  private readonly cfg: IscsiTargetConfig;
  private readonly handler: IscsiTargetHandler;
  private readonly policy: ParamPolicy;
  private readonly window: number;
  private readonly reader = new PduReader(65536);
  private _phase: TargetPhase = "login";
  private sessionType: "Normal" | "Discovery" = "Normal";
  private _initiatorName = "";
  /** Negotiated parameters (valid in full-feature phase). */
  readonly params: SessionParams = defaultParams();
  private statSn = 0;
  private expCmdSn = 0;
  private stage = 0;
  private loginKeys: [string, string][] = [];
  private readonly tasks = new Map<number, Task>();
  private readonly held = new Map<number, Pdu>();
  private nextTtt = 1;
  private pingTtt = 0x10000;
  private closing = false;

  constructor(config: IscsiTargetConfig, handler: IscsiTargetHandler) {
    this.cfg = config;
    this.handler = handler;
    this.policy = config.policy ?? DEFAULT_POLICY;
    this.window = config.window ?? 32;
  }

  /** Where the connection is. */
  get phase(): TargetPhase {
    return this._phase;
  }

  /** The logged-in initiator's name ("" before login). */
  get initiatorName(): string {
    return this._initiatorName;
  }

  /** "Normal" or "Discovery". */
  get session(): "Normal" | "Discovery" {
    return this.sessionType;
  }

  /** Tasks received and not yet answered. */
  get tasksInFlight(): number {
    return this.tasks.size;
  }

  private get maxCmdSn(): number {
    return (this.expCmdSn + this.window - 1) >>> 0;
  }

  /** Feed bytes from the peer. Never throws: protocol faults close the connection. */
  receive(bytes: Uint8Array): void {
    if (this._phase === "closed") return;
    this.reader.push(bytes);
    try {
      for (;;) {
        if (this.isClosed() || this.closing) return;
        const pdu = this.reader.next();
        if (!pdu) return;
        this.dispatch(pdu);
      }
    } catch (e) {
      this.fail(e instanceof Error ? e.message : String(e));
    }
  }

  private isClosed(): boolean {
    return this._phase === "closed";
  }

  /** The peer's socket closed (or errored): forget every task. */
  closed(): void {
    if (this._phase === "closed") return;
    this._phase = "closed";
    this.tasks.clear();
    this.held.clear();
  }

  /** Close with `reason` (protocol fault). */
  private fail(reason: string): void {
    if (this._phase === "closed") return;
    this.closed();
    this.handler.close(reason);
  }

  private out(pdu: Pdu): void {
    if (this._phase === "closed") return;
    const digests =
      this._phase === "full-feature"
        ? { header: this.params.headerDigest, data: this.params.dataDigest }
        : NO_DIGESTS;
    this.handler.send(encodePdu(pdu, digests));
  }

  private reject(reason: number, bhs: Uint8Array): void {
    this.out(rejectPdu(reason, bhs, this.statSn, this.expCmdSn, this.maxCmdSn));
    this.statSn = (this.statSn + 1) >>> 0;
  }

  private dispatch(pdu: Pdu): void {
    const op = opcodeOf(pdu.bhs);
    if (this._phase === "login") {
      if (op !== OP_LOGIN_REQ)
        throw new IscsiProtocolError(`opcode 0x${op.toString(16)} before login completed`);
      this.login(pdu);
      return;
    }
    switch (op) {
      case OP_DATA_OUT:
        this.dataOut(pdu);
        return;
      case OP_SNACK:
        this.reject(REJECT_SNACK, pdu.bhs); // ERL 0: no SNACK (§7.1.4)
        return;
      case OP_LOGIN_REQ:
        throw new IscsiProtocolError("Login Request in full feature phase");
      case OP_NOP_OUT:
      case OP_SCSI_CMD:
      case OP_TMF_REQ:
      case OP_TEXT_REQ:
      case OP_LOGOUT_REQ:
        this.ordered(pdu);
        return;
      default:
        this.reject(REJECT_NOT_SUPPORTED, pdu.bhs);
    }
  }

  /**
   * CmdSN ordering (§4.2.2.1): immediate PDUs run at once without consuming a CmdSN; others run
   * in CmdSN order; a CmdSN outside [ExpCmdSN, MaxCmdSN] is silently dropped.
   */
  private ordered(pdu: Pdu): void {
    const op = opcodeOf(pdu.bhs);
    // A NOP-Out answering our ping (ITT reserved) carries no CmdSN of its own.
    if (op === OP_NOP_OUT && ittOf(pdu.bhs) === RESERVED_TAG) {
      this.nopOut(pdu);
      return;
    }
    if (isImmediate(pdu.bhs)) {
      this.run(pdu);
      return;
    }
    const cmdSn = u32(pdu.bhs, 24);
    if (snLt(cmdSn, this.expCmdSn) || snLt(this.maxCmdSn, cmdSn)) return; // outside the window
    if (cmdSn !== this.expCmdSn) {
      this.held.set(cmdSn, pdu);
      return;
    }
    this.expCmdSn = (this.expCmdSn + 1) >>> 0;
    this.run(pdu);
    for (let next = this.held.get(this.expCmdSn); next; next = this.held.get(this.expCmdSn)) {
      this.held.delete(this.expCmdSn);
      this.expCmdSn = (this.expCmdSn + 1) >>> 0;
      this.run(next);
      if (this.isClosed()) return;
    }
  }

  private run(pdu: Pdu): void {
    switch (opcodeOf(pdu.bhs)) {
      case OP_NOP_OUT:
        this.nopOut(pdu);
        return;
      case OP_SCSI_CMD:
        this.scsiCommand(pdu);
        return;
      case OP_TMF_REQ:
        this.tmf(pdu);
        return;
      case OP_TEXT_REQ:
        this.text(pdu);
        return;
      case OP_LOGOUT_REQ:
        this.logout(pdu);
        return;
    }
  }

  // ---- login ----------------------------------------------------------------------------------

  private loginResponse(
    req: Uint8Array,
    flags: number,
    cls: number,
    detail: number,
    keys: [string, string][],
  ): void {
    const bhs = newBhs(OP_LOGIN_RSP);
    bhs[1] = flags;
    bhs[2] = 0; // version-max
    bhs[3] = 0; // version-active
    bhs.set(req.subarray(8, 14), 8); // ISID
    const tsih = cls === 0 ? this.cfg.tsih & 0xffff : 0;
    bhs[14] = tsih >> 8;
    bhs[15] = tsih & 0xff;
    setU32(bhs, 16, ittOf(req));
    setU32(bhs, 24, this.statSn);
    setU32(bhs, 28, this.expCmdSn);
    setU32(bhs, 32, this.maxCmdSn);
    bhs[36] = cls;
    bhs[37] = detail;
    this.out({ bhs, ahs: EMPTY, data: encodeKeys(keys) });
  }

  private loginFail(req: Uint8Array, cls: number, detail: number, why: string): void {
    this.loginResponse(req, req[1]! & 0x0c, cls, detail, []);
    this.fail(`login rejected: ${why}`);
  }

  private login(pdu: Pdu): void {
    const b = pdu.bhs;
    const transit = (b[1]! & 0x80) !== 0;
    const cont = (b[1]! & 0x40) !== 0;
    const csg = (b[1]! >> 2) & 3;
    const nsg = b[1]! & 3;
    if (this.stage === 0 && this.loginKeys.length === 0) {
      this.expCmdSn = u32(b, 24);
      this.statSn = u32(b, 28);
    }
    if (b[3]! > 0) return this.loginFail(b, 2, 5, "unsupported version");
    if ((transit && cont) || csg === 2 || (transit && (nsg === 2 || nsg <= csg)) || csg < this.stage)
      return this.loginFail(b, 2, 0, "invalid stage transition");
    let pairs: [string, string][];
    try {
      pairs = decodeKeys(pdu.data);
    } catch (e) {
      return this.loginFail(b, 2, 0, (e as Error).message);
    }
    this.loginKeys.push(...pairs);
    if (cont) {
      // More text follows (§6.3.1): acknowledge with an empty response.
      this.loginResponse(b, (csg << 2) | nsg, 0, 0, []);
      return;
    }
    const keys = this.loginKeys;
    this.loginKeys = [];
    const get = (k: string): string | undefined => keys.find(([key]) => key === k)?.[1];
    const answers: [string, string][] = [];
    const name = get("InitiatorName");
    if (name !== undefined) this._initiatorName = name;
    const st = get("SessionType");
    if (st !== undefined) {
      if (st !== "Normal" && st !== "Discovery") return this.loginFail(b, 2, 9, `SessionType=${st}`);
      this.sessionType = st;
    }
    if (!this.identified) {
      // The first complete login request names the initiator and, for a normal session, the target.
      if (this._initiatorName === "") return this.loginFail(b, 2, 7, "no InitiatorName");
      if (this.sessionType === "Normal") {
        const target = get("TargetName");
        if (target === undefined) return this.loginFail(b, 2, 7, "no TargetName");
        if (target !== this.cfg.targetName) return this.loginFail(b, 2, 3, `unknown target ${target}`);
        if (this.handler.authorize && !this.handler.authorize(this._initiatorName))
          return this.loginFail(b, 2, 2, `initiator ${this._initiatorName} not authorized`);
      }
      this.identified = true;
    }
    if (csg === 0) {
      const auth = get("AuthMethod");
      if (auth !== undefined) {
        if (!auth.split(",").includes("None")) return this.loginFail(b, 2, 1, `AuthMethod=${auth}`);
        answers.push(["AuthMethod", "None"]);
      }
      // Operational keys may appear in the security stage too; answer them as well.
      answers.push(
        ...answerKeys(
          keys.filter(([k]) => k !== "AuthMethod"),
          this.policy,
          this.params,
        ),
      );
    } else {
      answers.push(...answerKeys(keys, this.policy, this.params));
    }
    if (!this.sentTpgt && this.sessionType === "Normal") {
      answers.push(["TargetPortalGroupTag", "1"]);
      if (this.cfg.alias) answers.push(["TargetAlias", this.cfg.alias]);
      this.sentTpgt = true;
    }
    if (!this.sentMrdsl) {
      answers.push(["MaxRecvDataSegmentLength", String(this.policy.maxRecvDataSegmentLength)]);
      this.params.maxRecvDataSegmentLength = this.policy.maxRecvDataSegmentLength;
      this.sentMrdsl = true;
    }
    if (!transit) {
      this.stage = csg;
      this.loginResponse(b, (csg << 2) | nsg, 0, 0, answers);
      return;
    }
    this.stage = nsg;
    this.loginResponse(b, 0x80 | (csg << 2) | nsg, 0, 0, answers);
    if (nsg === 3) {
      this.statSn = (this.statSn + 1) >>> 0;
      this._phase = "full-feature";
      this.reader.maxDataSegment = this.params.maxRecvDataSegmentLength;
      this.reader.digests = { header: this.params.headerDigest, data: this.params.dataDigest };
    }
  }
  private identified = false;
  private sentTpgt = false;
  private sentMrdsl = false;

  // ---- text, nop, logout ----------------------------------------------------------------------

  private text(pdu: Pdu): void {
    const b = pdu.bhs;
    let pairs: [string, string][];
    try {
      pairs = decodeKeys(pdu.data);
    } catch {
      this.reject(REJECT_INVALID_FIELD, b);
      return;
    }
    const answers: [string, string][] = [];
    for (const [k, v] of pairs) {
      if (k === "SendTargets") {
        // All in a discovery session; "" (this session's target) or our name in a normal one (§13.3).
        if (v === "All" || v === "" || v === this.cfg.targetName) {
          answers.push(["TargetName", this.cfg.targetName], ["TargetAddress", this.cfg.address]);
        }
      } else answers.push([k, "NotUnderstood"]);
    }
    const rsp = newBhs(OP_TEXT_RSP);
    rsp[1] = 0x80;
    rsp.set(b.subarray(8, 16), 8);
    setU32(rsp, 16, ittOf(b));
    setU32(rsp, 20, RESERVED_TAG);
    this.statusFields(rsp);
    this.out({ bhs: rsp, ahs: EMPTY, data: encodeKeys(answers) });
  }

  private statusFields(bhs: Uint8Array): void {
    setU32(bhs, 24, this.statSn);
    this.statSn = (this.statSn + 1) >>> 0;
    setU32(bhs, 28, this.expCmdSn);
    setU32(bhs, 32, this.maxCmdSn);
  }

  private nopOut(pdu: Pdu): void {
    const b = pdu.bhs;
    const itt = ittOf(b);
    if (itt === RESERVED_TAG) return; // a reply to our ping, or a ping that wants no answer
    const rsp = newBhs(OP_NOP_IN);
    rsp[1] = 0x80;
    rsp.set(b.subarray(8, 16), 8);
    setU32(rsp, 16, itt);
    setU32(rsp, 20, RESERVED_TAG);
    this.statusFields(rsp);
    this.out({ bhs: rsp, ahs: EMPTY, data: pdu.data.subarray(0, this.params.maxXmitDataSegmentLength) });
  }

  /** Ping the initiator (NOP-In asking for a NOP-Out); the answer is consumed silently. */
  ping(): void {
    if (this._phase !== "full-feature") return;
    const bhs = newBhs(OP_NOP_IN);
    bhs[1] = 0x80;
    setU32(bhs, 16, RESERVED_TAG);
    setU32(bhs, 20, this.pingTtt++);
    setU32(bhs, 24, this.statSn); // not advanced (§11.19.4)
    setU32(bhs, 28, this.expCmdSn);
    setU32(bhs, 32, this.maxCmdSn);
    this.out({ bhs, ahs: EMPTY, data: EMPTY });
  }

  private logout(pdu: Pdu): void {
    const b = pdu.bhs;
    const reason = b[1]! & 0x7f;
    const rsp = newBhs(OP_LOGOUT_RSP);
    rsp[1] = 0x80;
    // 0 closed; reasons 1 (close connection) and 2 (recovery) behave as 0 with one connection,
    // except recovery, which ERL 0 does not support (response 2).
    rsp[2] = reason === 2 ? 2 : reason <= 1 ? 0 : 3;
    setU32(rsp, 16, ittOf(b));
    this.statusFields(rsp);
    rsp[40] = 0;
    rsp[41] = this.params.defaultTime2Wait;
    rsp[43] = this.params.defaultTime2Retain;
    this.out({ bhs: rsp, ahs: EMPTY, data: EMPTY });
    if (rsp[2] === 0) {
      this.closing = true;
      this.closed();
      this.handler.close("logout");
    }
  }

  // ---- SCSI -----------------------------------------------------------------------------------

  private scsiCommand(pdu: Pdu): void {
    const b = pdu.bhs;
    if (this.sessionType === "Discovery") {
      this.reject(REJECT_PROTOCOL_ERROR, b);
      return;
    }
    const flags = b[1]!;
    const read = (flags & 0x40) !== 0;
    const write = (flags & 0x20) !== 0;
    const final = (flags & 0x80) !== 0;
    const edtl = u32(b, 20);
    const itt = ittOf(b);
    if ((read && write) || (!write && pdu.data.length > 0) || (write && pdu.data.length > edtl)) {
      // Bidirectional commands are not supported; data without W, or more than EDTL, is a fault.
      this.reject(read && write ? REJECT_NOT_SUPPORTED : REJECT_PROTOCOL_ERROR, b);
      return;
    }
    if (write && pdu.data.length > 0 && !this.params.immediateData) {
      this.reject(REJECT_PROTOCOL_ERROR, b);
      return;
    }
    if (write && pdu.data.length > this.params.firstBurstLength) {
      this.reject(REJECT_PROTOCOL_ERROR, b);
      return;
    }
    if (this.tasks.has(itt) || itt === RESERVED_TAG) {
      this.reject(REJECT_INVALID_FIELD, b); // a tag already in use (§11.3: "task in progress" 0x07 at ERL>0)
      return;
    }
    if (edtl > 0x4000000 || (!read && !write && edtl > 0)) {
      // More than 64 MiB per command is refused rather than allocated; EDTL without R/W is a fault.
      this.reject(REJECT_INVALID_FIELD, b);
      return;
    }
    const cmd: TargetCommand = {
      itt,
      lun: lunOf(b),
      cdb: cdbOf(pdu),
      dataOut: null,
      inLength: read ? edtl : 0,
      attr: flags & 7,
    };
    const buf = write ? new Uint8Array(edtl) : null;
    const task: Task = {
      cmd,
      edtl,
      write,
      buf,
      received: 0,
      unsolicitedEnd: 0,
      unsolicitedOpen: false,
      unsolicitedDataSn: 0,
      nextSolicit: 0,
      r2t: null,
      r2tSn: 0,
      executing: false,
      aborted: false,
    };
    this.tasks.set(itt, task);
    if (!write) {
      this.start(task);
      return;
    }
    buf!.set(pdu.data, 0);
    task.received = pdu.data.length;
    task.unsolicitedOpen = !final && !this.params.initialR2T && task.received < edtl;
    task.unsolicitedEnd = task.unsolicitedOpen ? Math.min(this.params.firstBurstLength, edtl) : task.received;
    task.nextSolicit = task.unsolicitedEnd;
    this.advanceWrite(task);
  }

  /** Ask for more data, or start the command when all of it is in. */
  private advanceWrite(task: Task): void {
    if (task.unsolicitedOpen || task.r2t) return;
    if (task.received >= task.edtl) {
      (task.cmd as { dataOut: Uint8Array | null }).dataOut = task.buf;
      this.start(task);
      return;
    }
    const offset = task.nextSolicit;
    const length = Math.min(this.params.maxBurstLength, task.edtl - offset);
    task.nextSolicit += length;
    const ttt = this.nextTtt;
    this.nextTtt = (this.nextTtt % 0x7fffffff) + 1;
    task.r2t = { ttt, offset, length, received: 0, nextDataSn: 0 };
    const bhs = newBhs(OP_R2T);
    bhs[1] = 0x80;
    bhs.set(lunBytes(task.cmd.lun), 8);
    setU32(bhs, 16, task.cmd.itt);
    setU32(bhs, 20, ttt);
    setU32(bhs, 24, this.statSn);
    setU32(bhs, 28, this.expCmdSn);
    setU32(bhs, 32, this.maxCmdSn);
    setU32(bhs, 36, task.r2tSn++);
    setU32(bhs, 40, offset);
    setU32(bhs, 44, length);
    this.out({ bhs, ahs: EMPTY, data: EMPTY });
  }

  private dataOut(pdu: Pdu): void {
    const b = pdu.bhs;
    const task = this.tasks.get(ittOf(b));
    // Data for a task that is gone (aborted, or never existed) is discarded (§11.7.4 at ERL 0).
    if (!task?.write || task.executing) return;
    const ttt = u32(b, 20);
    const dataSn = u32(b, 36);
    const offset = u32(b, 40);
    const len = pdu.data.length;
    const final = (b[1]! & 0x80) !== 0;
    if (ttt === RESERVED_TAG) {
      if (!task.unsolicitedOpen || offset !== task.received || offset + len > task.unsolicitedEnd)
        throw new IscsiProtocolError(`unsolicited Data-Out at ${offset}+${len} outside the first burst`);
      if (dataSn !== task.unsolicitedDataSn)
        throw new IscsiProtocolError(`Data-Out DataSN ${dataSn}, expected ${task.unsolicitedDataSn}`);
      task.unsolicitedDataSn++;
      task.buf!.set(pdu.data, offset);
      task.received += len;
      if (final || task.received >= task.unsolicitedEnd) {
        task.unsolicitedOpen = false;
        task.nextSolicit = task.received;
      }
      this.advanceWrite(task);
      return;
    }
    const r2t = task.r2t;
    if (!r2t || r2t.ttt !== ttt)
      throw new IscsiProtocolError(`Data-Out with unknown TTT 0x${ttt.toString(16)}`);
    if (dataSn !== r2t.nextDataSn)
      throw new IscsiProtocolError(`Data-Out DataSN ${dataSn}, expected ${r2t.nextDataSn}`);
    if (offset !== r2t.offset + r2t.received || r2t.received + len > r2t.length)
      throw new IscsiProtocolError(`Data-Out at ${offset}+${len} outside R2T ${r2t.offset}+${r2t.length}`);
    r2t.nextDataSn++;
    task.buf!.set(pdu.data, offset);
    r2t.received += len;
    task.received += len;
    if (r2t.received === r2t.length) {
      if (!final) throw new IscsiProtocolError("Data-Out sequence complete without the F bit");
      task.r2t = null;
      this.advanceWrite(task);
    } else if (final) throw new IscsiProtocolError("Data-Out F bit before the R2T's data was sent");
  }

  private start(task: Task): void {
    task.executing = true;
    this.handler.execute(task.cmd);
  }

  /** Answer `cmd` (Data-In and/or SCSI Response). A task aborted meanwhile is answered by nobody. */
  complete(cmd: TargetCommand, result: TargetResult): void {
    const task = this.tasks.get(cmd.itt);
    if (!task || task.cmd !== cmd) return;
    this.tasks.delete(cmd.itt);
    if (task.aborted || this._phase !== "full-feature") return;
    const sense = result.sense && result.sense.length > 0 ? result.sense : null;
    const good = result.status === 0 && !sense;
    const data = task.write ? EMPTY : (result.data ?? EMPTY).subarray(0, task.edtl);
    let residual = 0;
    let flags = 0;
    if (result.overflow && result.overflow > 0) {
      flags = 0x04;
      residual = result.overflow;
    } else {
      const moved = task.write ? task.edtl - Math.min(task.edtl, result.writeResidual ?? 0) : data.length;
      if (moved < task.edtl) {
        flags = 0x02;
        residual = task.edtl - moved;
      }
    }
    const lun = lunBytes(cmd.lun);
    const mxs = this.params.maxXmitDataSegmentLength;
    let dataSn = 0;
    for (let at = 0; at < data.length; ) {
      const n = Math.min(
        mxs,
        data.length - at,
        this.params.maxBurstLength - (at % this.params.maxBurstLength),
      );
      const last = at + n === data.length;
      const bhs = newBhs(OP_DATA_IN);
      const endOfBurst = (at + n) % this.params.maxBurstLength === 0;
      bhs[1] = last || endOfBurst ? 0x80 : 0;
      bhs.set(lun, 8);
      setU32(bhs, 16, cmd.itt);
      setU32(bhs, 20, RESERVED_TAG);
      if (last && good) {
        bhs[1] = 0x80 | 0x01 | flags;
        bhs[3] = result.status;
        setU32(bhs, 24, this.statSn);
        this.statSn = (this.statSn + 1) >>> 0;
        setU32(bhs, 44, residual);
      }
      setU32(bhs, 28, this.expCmdSn);
      setU32(bhs, 32, this.maxCmdSn);
      setU32(bhs, 36, dataSn++);
      setU32(bhs, 40, at);
      this.out({ bhs, ahs: EMPTY, data: data.subarray(at, at + n) });
      at += n;
    }
    if (good && data.length > 0) return;
    const bhs = newBhs(OP_SCSI_RSP);
    bhs[1] = 0x80 | flags;
    bhs[2] = 0; // command completed at target
    bhs[3] = result.status;
    setU32(bhs, 16, cmd.itt);
    this.statusFields(bhs);
    setU32(bhs, 36, task.write ? task.r2tSn : dataSn);
    setU32(bhs, 44, residual);
    let seg = EMPTY;
    if (sense) {
      const n = Math.min(sense.length, mxs - 2, 0xffff);
      seg = new Uint8Array(2 + n);
      seg[0] = n >> 8;
      seg[1] = n & 0xff;
      seg.set(sense.subarray(0, n), 2);
    }
    this.out({ bhs, ahs: EMPTY, data: seg });
  }

  // ---- task management ------------------------------------------------------------------------

  private tmf(pdu: Pdu): void {
    const b = pdu.bhs;
    const fn = b[1]! & 0x7f;
    const lun = lunOf(b);
    const itt = ittOf(b);
    let answered = false;
    const respond = (response: number): void => {
      if (answered) return;
      answered = true;
      const rsp = newBhs(OP_TMF_RSP);
      rsp[1] = 0x80;
      rsp[2] = response;
      setU32(rsp, 16, itt);
      this.statusFields(rsp);
      this.out({ bhs: rsp, ahs: EMPTY, data: EMPTY });
    };
    if (this.sessionType === "Discovery") {
      this.reject(REJECT_PROTOCOL_ERROR, b);
      return;
    }
    const abortWhere = (pred: (t: Task) => boolean): TargetCommand[] => {
      const out: TargetCommand[] = [];
      for (const [tag, t] of this.tasks) {
        if (!pred(t)) continue;
        t.aborted = true;
        out.push(t.cmd);
        // A task still collecting data has nothing running below: forget it now.
        if (!t.executing) this.tasks.delete(tag);
      }
      return out;
    };
    switch (fn) {
      case TMF_ABORT_TASK: {
        const ref = u32(b, 20);
        const t = this.tasks.get(ref);
        if (!t || t.cmd.lun !== lun || t.aborted) {
          respond(TMF_RSP_NO_TASK);
          return;
        }
        const aborted = abortWhere((x) => x === t);
        this.handler.taskManagement({ fn, lun, task: t.cmd, aborted, respond });
        return;
      }
      case TMF_ABORT_TASK_SET:
      case TMF_CLEAR_TASK_SET:
      case TMF_LOGICAL_UNIT_RESET: {
        const aborted = abortWhere((x) => x.cmd.lun === lun);
        this.handler.taskManagement({ fn, lun, task: null, aborted, respond });
        return;
      }
      case TMF_TARGET_WARM_RESET:
      case TMF_TARGET_COLD_RESET: {
        // A cold reset is a warm one whose shell then ends every session of the target once the
        // response is out (§11.5.1).
        const aborted = abortWhere(() => true);
        this.handler.taskManagement({ fn, lun, task: null, aborted, respond });
        return;
      }
      default:
        respond(TMF_RSP_NOT_SUPPORTED);
    }
  }
}

/** The 8 LUN bytes for `lun` (peripheral addressing below 256, flat above). */
export function lunBytes(lun: number): Uint8Array {
  const b = new Uint8Array(8);
  if (lun < 256) b[1] = lun;
  else {
    b[0] = 0x40 | ((lun >> 8) & 0x3f);
    b[1] = lun & 0xff;
  }
  return b;
}
