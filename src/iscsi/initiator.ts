/**
 * The initiator side of one iSCSI session (one connection, ErrorRecoveryLevel 0, RFC 7143) as a
 * sans-IO state machine: bytes in through {@link IscsiInitiatorSession.receive}, bytes out
 * through its handler, results through per-request callbacks. Login at CSG 1 → NSG 3 with key
 * negotiation, SendTargets, SCSI commands with immediate/unsolicited/solicited data, Data-In
 * with status, SCSI Response with sense and residuals, the CmdSN window (commands wait while it
 * is closed), NOP both ways, task management and Logout.
 * @module
 */

import { type ChapCredentials, chapResponse, decodeBinary, encodeBinary, sameBytes } from "./chap.js";
import {
  applyAnswers,
  DEFAULT_POLICY,
  decodeKeys,
  defaultParams,
  encodeKeys,
  offerKeys,
  type ParamPolicy,
  type SessionParams,
} from "./keys.js";
import {
  BHS_LENGTH,
  encodePdu,
  extendedCdbAhs,
  IscsiProtocolError,
  ittOf,
  NO_DIGESTS,
  newBhs,
  OP_ASYNC,
  OP_DATA_IN,
  OP_DATA_OUT,
  OP_LOGIN_REQ,
  OP_LOGIN_RSP,
  OP_LOGOUT_REQ,
  OP_LOGOUT_RSP,
  OP_NOP_IN,
  OP_NOP_OUT,
  OP_R2T,
  OP_REJECT,
  OP_SCSI_CMD,
  OP_SCSI_RSP,
  OP_TEXT_REQ,
  OP_TEXT_RSP,
  OP_TMF_REQ,
  OP_TMF_RSP,
  opcodeOf,
  type Pdu,
  PduReader,
  RESERVED_TAG,
  setLun,
  setU32,
  snLt,
  u32,
} from "./pdu.js";

/** Configuration of an initiator session. */
export interface IscsiInitiatorConfig {
  /** Our IQN (InitiatorName). Each vHBA may use its own, so a target's ACLs tell guests apart. */
  readonly initiatorName: string;
  /** The target to log in to (a normal session); omit for a discovery session. */
  readonly targetName?: string;
  /** ISID, 6 bytes; default: type 0x80 (random) with bytes derived from the initiator name. */
  readonly isid?: Uint8Array;
  /** First CmdSN; default 1. */
  readonly cmdSn?: number;
  /** What we offer; default {@link DEFAULT_POLICY}. */
  readonly policy?: ParamPolicy;
  /**
   * CHAP credentials (RFC 7143 §12.1.3): login starts in the security stage offering
   * `AuthMethod=CHAP,None`; with `targetSecret` the target must answer our challenge too.
   */
  readonly chap?: ChapCredentials;
  /** Random bytes for our mutual-CHAP challenge; default `crypto.getRandomValues`. */
  readonly random?: (n: number) => Uint8Array;
}

/** How a SCSI command ended, as the initiator saw it. */
export interface InitiatorResult {
  /** iSCSI Response (0 = command completed at target); non-zero, or `error`, means no SCSI status. */
  readonly response: number;
  readonly status: number;
  readonly sense: Uint8Array;
  /** Data-in received (up to the highest offset received). */
  readonly data: Uint8Array;
  /** Residual count with its kind: underflow (U) or overflow (O). */
  readonly residual: number;
  readonly overflow: boolean;
  /** Set when the command never got a status: connection lost, Reject, session closed. */
  readonly error?: string;
}

/** What the session needs from its shell. */
export interface IscsiInitiatorHandler {
  send(bytes: Uint8Array): void;
  /** The session ended (protocol fault, login failure, logout); close the socket. Called once. */
  close(reason: string): void;
  /** Login completed; commands flow. */
  loggedIn?(): void;
  /** An Asynchronous Message (§11.9): event code and any sense it carried. */
  asyncEvent?(event: number, sense: Uint8Array): void;
}

/** A SCSI command to send. */
export interface InitiatorCommand {
  readonly lun: number;
  readonly cdb: ArrayLike<number>;
  readonly dataOut?: Uint8Array;
  readonly inLength?: number;
  /**
   * Where Data-In lands (at least `inLength` bytes; the result's `data` is a view of it); the
   * session allocates one per command when omitted. The caller must not reuse it before the
   * result callback.
   */
  readonly inBuffer?: Uint8Array;
  /** Task attribute; default 1 (SIMPLE). */
  readonly attr?: number;
}

/** The session's phase. */
export type InitiatorPhase = "idle" | "login" | "full-feature" | "closed";

interface ScsiTaskState {
  readonly kind: "scsi";
  readonly itt: number;
  readonly req: InitiatorCommand;
  readonly cb: (r: InitiatorResult) => void;
  readonly inBuf: Uint8Array;
  received: number;
  cmdSn: number;
}
interface OtherTask {
  readonly kind: "nop" | "text" | "tmf" | "logout";
  readonly itt: number;
  readonly cb: (pdu: Pdu | null, error?: string) => void;
}
type Task = ScsiTaskState | OtherTask;

const EMPTY = new Uint8Array(0);

function defaultIsid(name: string): Uint8Array {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return Uint8Array.of(0x80, (h >>> 24) & 0xff, (h >>> 16) & 0xff, (h >>> 8) & 0xff, 0, 1);
}

/** One iSCSI session of one connection, initiator side. */
export class IscsiInitiatorSession {
  private readonly cfg: IscsiInitiatorConfig;
  private readonly handler: IscsiInitiatorHandler;
  private readonly policy: ParamPolicy;
  private readonly reader = new PduReader(65536);
  private readonly isid: Uint8Array;
  private _phase: InitiatorPhase = "idle";
  /** Negotiated parameters (valid in full-feature phase). */
  readonly params: SessionParams = defaultParams();
  private cmdSn: number;
  private expCmdSn: number;
  private maxCmdSn: number;
  private expStatSn = 0;
  private tsih = 0;
  private nextItt = 1;
  private loginRounds = 0;
  private readonly tasks = new Map<number, Task>();
  private readonly waiting: { pdu: Pdu; task: ScsiTaskState | OtherTask; after?: () => void }[] = [];
  private loginError = "";
  /** Where the security stage is (CHAP only; "off" when we start at the operational stage). */
  private auth: "off" | "offered" | "algorithm" | "responded" | "done" = "off";
  private myChapId = 0;
  private myChallenge: Uint8Array = EMPTY;

  constructor(config: IscsiInitiatorConfig, handler: IscsiInitiatorHandler) {
    this.cfg = config;
    this.handler = handler;
    this.policy = config.policy ?? DEFAULT_POLICY;
    this.isid = config.isid ?? defaultIsid(config.initiatorName);
    this.cmdSn = config.cmdSn ?? 1;
    this.expCmdSn = this.cmdSn;
    this.maxCmdSn = this.cmdSn;
  }

  /** Where the session is. */
  get phase(): InitiatorPhase {
    return this._phase;
  }

  /** The TSIH the target assigned (0 before login). */
  get sessionHandle(): number {
    return this.tsih;
  }

  /** Why login failed, or "". */
  get failure(): string {
    return this.loginError;
  }

  /** Commands sent or queued and not yet answered. */
  get outstanding(): number {
    return this.tasks.size;
  }

  private allocItt(): number {
    for (;;) {
      const itt = this.nextItt;
      this.nextItt = this.nextItt >= 0x7fffffff ? 1 : this.nextItt + 1;
      if (!this.tasks.has(itt)) return itt;
    }
  }

  private out(pdu: Pdu): void {
    if (this._phase === "closed") return;
    const digests =
      this._phase === "full-feature"
        ? { header: this.params.headerDigest, data: this.params.dataDigest }
        : NO_DIGESTS;
    this.handler.send(encodePdu(pdu, digests));
  }

  /** Send the first Login Request. */
  start(): void {
    if (this._phase !== "idle") throw new Error("login already started");
    this._phase = "login";
    const keys: [string, string][] = [["InitiatorName", this.cfg.initiatorName]];
    if (this.cfg.targetName !== undefined) {
      keys.push(["TargetName", this.cfg.targetName], ["SessionType", "Normal"]);
    } else keys.push(["SessionType", "Discovery"]);
    if (this.cfg.chap) {
      // CSG 0 → NSG 1: the target picks the method; operational keys follow in stage 1.
      this.auth = "offered";
      keys.push(["AuthMethod", "CHAP,None"]);
      this.loginPdu(0x80 | (0 << 2) | 1, keys);
      return;
    }
    keys.push(...offerKeys(this.policy));
    this.loginPdu(0x80 | (1 << 2) | 3, keys);
  }

  /** The first PDU of the operational stage: our offer, asking to go to full feature. */
  private operationalStage(): void {
    this.auth = "done";
    this.loginPdu(0x80 | (1 << 2) | 3, offerKeys(this.policy));
  }

  /**
   * One Login Response of the security stage (CSG 0): AuthMethod, then CHAP_A/I/C from the
   * target, our CHAP_N/R (and CHAP_I/C for mutual CHAP), then the target's CHAP_N/R. Returns
   * an error text, or null when the next PDU went out.
   */
  private securityStage(keys: readonly [string, string][], transit: boolean, nsg: number): string | null {
    const chap = this.cfg.chap;
    const target = this.cfg.targetName ?? "the discovery portal";
    if (!chap) return "target answered in a security stage we did not start";
    const get = (k: string) => keys.find(([x]) => x === k)?.[1];
    switch (this.auth) {
      case "offered": {
        const method = get("AuthMethod");
        if (method === "CHAP") {
          this.auth = "algorithm";
          this.loginPdu(0 << 2, [["CHAP_A", "5"]]);
          return null;
        }
        if (method !== undefined && method !== "None") return `${target} answered AuthMethod=${method}`;
        if (chap.targetSecret !== undefined)
          return `${target} chose no authentication, but mutual CHAP is configured (it cannot prove itself)`;
        break;
      }
      case "algorithm": {
        const a = get("CHAP_A");
        if (a !== "5") return `${target} answered CHAP_A=${a ?? "(none)"}; only 5 (MD5) is supported`;
        const i = get("CHAP_I");
        const id = i !== undefined && /^(\d+|0x[0-9a-f]+)$/i.test(i) ? Number(i) : -1;
        if (id < 0 || id > 255) return `${target} sent a bad CHAP_I=${i ?? "(none)"}`;
        const challenge = decodeBinary(get("CHAP_C") ?? "");
        if (!challenge || challenge.length === 0) return `${target} sent a bad CHAP_C`;
        const reply: [string, string][] = [
          ["CHAP_N", chap.username],
          ["CHAP_R", encodeBinary(chapResponse(id, chap.secret, challenge))],
        ];
        if (chap.targetSecret !== undefined) {
          const random = this.cfg.random ?? ((n: number) => crypto.getRandomValues(new Uint8Array(n)));
          this.myChapId = random(1)[0]!;
          this.myChallenge = random(16);
          reply.push(["CHAP_I", String(this.myChapId)], ["CHAP_C", encodeBinary(this.myChallenge)]);
        }
        this.auth = "responded";
        this.loginPdu(0x80 | (0 << 2) | 1, reply);
        return null;
      }
      case "responded": {
        if (chap.targetSecret === undefined) break;
        const r = get("CHAP_R");
        if (r === undefined) {
          if (transit) return `${target} did not answer our CHAP challenge (mutual CHAP)`;
          break;
        }
        const n = get("CHAP_N");
        if (chap.targetUsername !== undefined && n !== chap.targetUsername)
          return `${target} answered mutual CHAP as ${JSON.stringify(n)}, expected ${JSON.stringify(chap.targetUsername)}`;
        const got = decodeBinary(r);
        const want = chapResponse(this.myChapId, chap.targetSecret, this.myChallenge);
        if (!got || !sameBytes(got, want))
          return `${target} failed mutual CHAP authentication (wrong CHAP_R: its secret is not the one configured)`;
        break;
      }
      default:
        return `${target} sent security keys after authentication`;
    }
    if (transit && nsg === 1) this.operationalStage();
    else if (transit && nsg === 3) return `${target} skipped the operational stage`;
    else this.loginPdu(0x80 | (0 << 2) | 1, []);
    return null;
  }

  private loginPdu(flags: number, keys: [string, string][]): void {
    const bhs = newBhs(OP_LOGIN_REQ, true);
    bhs[1] = flags;
    bhs.set(this.isid, 8);
    bhs[14] = this.tsih >> 8;
    bhs[15] = this.tsih & 0xff;
    setU32(bhs, 16, 0);
    setU32(bhs, 24, this.cmdSn);
    setU32(bhs, 28, this.expStatSn);
    this.out({ bhs, ahs: EMPTY, data: encodeKeys(keys) });
  }

  /** Feed bytes from the target. Never throws: protocol faults end the session. */
  receive(bytes: Uint8Array): void {
    if (this._phase === "closed") return;
    this.reader.push(bytes);
    try {
      for (;;) {
        if (this.isClosed()) return;
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

  /** The connection is gone: every task ends with `error` (no status). */
  closed(reason = "connection closed"): void {
    if (this._phase === "closed") return;
    this._phase = "closed";
    const tasks = [...this.tasks.values()];
    this.tasks.clear();
    this.waiting.length = 0;
    for (const t of tasks) this.failTask(t, reason);
  }

  private fail(reason: string): void {
    if (this._phase === "closed") return;
    this.closed(reason);
    this.handler.close(reason);
  }

  private failTask(t: Task, error: string): void {
    if (t.kind === "scsi")
      t.cb({ response: 0xff, status: 0, sense: EMPTY, data: EMPTY, residual: 0, overflow: false, error });
    else t.cb(null, error);
  }

  private window(bhs: Uint8Array): void {
    const exp = u32(bhs, 28);
    const max = u32(bhs, 32);
    if (snLt(max, (exp - 1) >>> 0)) return; // ignored (§4.2.2.1)
    if (snLt(this.maxCmdSn, max)) this.maxCmdSn = max;
    if (snLt(this.expCmdSn, exp)) this.expCmdSn = exp;
  }

  private status(bhs: Uint8Array): void {
    const statSn = u32(bhs, 24);
    if (!snLt((statSn + 1) >>> 0, this.expStatSn)) this.expStatSn = (statSn + 1) >>> 0;
  }

  private dispatch(pdu: Pdu): void {
    const b = pdu.bhs;
    const op = opcodeOf(b);
    if (this._phase === "login") {
      if (op !== OP_LOGIN_RSP) throw new IscsiProtocolError(`opcode 0x${op.toString(16)} during login`);
      this.loginResponse(pdu);
      return;
    }
    this.window(b);
    switch (op) {
      case OP_DATA_IN:
        this.dataIn(pdu);
        break;
      case OP_SCSI_RSP:
        this.scsiResponse(pdu);
        break;
      case OP_R2T:
        this.r2t(pdu);
        break;
      case OP_NOP_IN: {
        const itt = ittOf(b);
        if (itt === RESERVED_TAG) {
          const ttt = u32(b, 20);
          if (ttt !== RESERVED_TAG) this.nopReply(b, ttt);
          break;
        }
        this.status(b);
        this.finishOther(itt, pdu, "nop");
        break;
      }
      case OP_TEXT_RSP:
        this.status(b);
        this.finishOther(ittOf(b), pdu, "text");
        break;
      case OP_TMF_RSP:
        this.status(b);
        this.finishOther(ittOf(b), pdu, "tmf");
        break;
      case OP_LOGOUT_RSP:
        this.status(b);
        this.finishOther(ittOf(b), pdu, "logout");
        this.fail("logged out");
        break;
      case OP_REJECT: {
        this.status(b);
        const reason = b[2]!;
        if (pdu.data.length >= BHS_LENGTH) {
          const t = this.tasks.get(ittOf(pdu.data));
          if (t) {
            this.tasks.delete(t.itt);
            this.failTask(t, `rejected by the target (reason 0x${reason.toString(16)})`);
          }
        }
        break;
      }
      case OP_ASYNC: {
        const event = b[36]!;
        const len = pdu.data.length >= 2 ? (pdu.data[0]! << 8) | pdu.data[1]! : 0;
        this.handler.asyncEvent?.(event, pdu.data.slice(2, 2 + len));
        if (event === 1) this.logout(() => {});
        else if (event === 2 || event === 3)
          this.fail(`target dropped the connection (async event ${event})`);
        break;
      }
      default:
        throw new IscsiProtocolError(`unexpected opcode 0x${op.toString(16)} from the target`);
    }
    this.flush();
  }

  private loginResponse(pdu: Pdu): void {
    const b = pdu.bhs;
    const cls = b[36]!;
    const detail = b[37]!;
    let keys: [string, string][];
    try {
      keys = decodeKeys(pdu.data);
    } catch (e) {
      throw new IscsiProtocolError(`bad login response text: ${(e as Error).message}`);
    }
    if (cls !== 0) {
      const addr = keys.find(([k]) => k === "TargetAddress")?.[1];
      this.loginError = `login failed: status 0x${((cls << 8) | detail).toString(16).padStart(4, "0")} (${loginStatusText(cls, detail)})${addr ? `, TargetAddress=${addr}` : ""}`;
      this.fail(this.loginError);
      return;
    }
    this.tsih = (b[14]! << 8) | b[15]!;
    this.expStatSn = (u32(b, 24) + 1) >>> 0;
    this.expCmdSn = u32(b, 28);
    this.maxCmdSn = u32(b, 32);
    const transit = (b[1]! & 0x80) !== 0;
    const csg = (b[1]! >> 2) & 3;
    const nsg = b[1]! & 3;
    if (csg === 0 || (this.auth !== "off" && this.auth !== "done")) {
      const e = csg === 0 ? this.securityStage(keys, transit, nsg) : "target left the security stage early";
      if (e) {
        this.loginError = e;
        this.fail(e);
      } else if (++this.loginRounds > 8) {
        this.loginError = "login did not complete in 8 rounds";
        this.fail(this.loginError);
      }
      return;
    }
    const err = applyAnswers(keys, this.policy, this.params);
    if (err) {
      this.loginError = err;
      this.fail(err);
      return;
    }
    if (transit && nsg === 3) {
      this._phase = "full-feature";
      this.reader.maxDataSegment = this.params.maxRecvDataSegmentLength;
      this.reader.digests = { header: this.params.headerDigest, data: this.params.dataDigest };
      this.handler.loggedIn?.();
      this.flush();
      return;
    }
    if (++this.loginRounds > 8) {
      this.loginError = "login did not complete in 8 rounds";
      this.fail(this.loginError);
      return;
    }
    this.loginPdu(0x80 | ((transit ? nsg : csg) << 2) | 3, []);
  }

  // ---- requests -------------------------------------------------------------------------------

  private commonHeader(bhs: Uint8Array, itt: number, immediate: boolean): void {
    setU32(bhs, 16, itt);
    setU32(bhs, 24, this.cmdSn);
    setU32(bhs, 28, this.expStatSn);
    if (!immediate) this.cmdSn = (this.cmdSn + 1) >>> 0;
  }

  /** Send (or queue while the window is closed) a PDU that consumes a CmdSN. */
  private submit(pdu: Pdu, task: ScsiTaskState | OtherTask, after?: () => void): void {
    this.tasks.set(task.itt, task);
    if ((pdu.bhs[0]! & 0x40) !== 0 && this._phase === "full-feature") {
      // Immediate delivery: not held by the command window (§3.2.2.1).
      this.commonHeader(pdu.bhs, task.itt, true);
      this.out(pdu);
      after?.();
      return;
    }
    this.waiting.push(after ? { pdu, task, after } : { pdu, task });
    this.flush();
  }

  private flush(): void {
    while (this._phase === "full-feature" && this.waiting.length > 0 && !snLt(this.maxCmdSn, this.cmdSn)) {
      const w = this.waiting.shift()!;
      if (!this.tasks.has(w.task.itt)) continue; // aborted while queued
      const immediate = (w.pdu.bhs[0]! & 0x40) !== 0;
      if (w.task.kind === "scsi") w.task.cmdSn = this.cmdSn;
      this.commonHeader(w.pdu.bhs, w.task.itt, immediate);
      this.out(w.pdu);
      w.after?.();
    }
  }

  /** Issue a SCSI command; `cb` gets its result. Returns the ITT (for ABORT TASK). */
  command(req: InitiatorCommand, cb: (r: InitiatorResult) => void): number {
    const itt = this.allocItt();
    const out = req.dataOut ?? EMPTY;
    const inLen = req.inLength ?? 0;
    if (out.length > 0 && inLen > 0) throw new RangeError("bidirectional commands are not supported");
    const task: ScsiTaskState = {
      kind: "scsi",
      itt,
      req,
      cb,
      inBuf:
        req.inBuffer && req.inBuffer.length >= inLen
          ? req.inBuffer.subarray(0, inLen)
          : new Uint8Array(inLen),
      received: 0,
      cmdSn: 0,
    };
    if (this._phase === "closed") {
      this.failTask(task, "session closed");
      return itt;
    }
    const bhs = newBhs(OP_SCSI_CMD);
    const p = this.params;
    const immLen =
      out.length > 0 && p.immediateData
        ? Math.min(out.length, p.firstBurstLength, p.maxXmitDataSegmentLength)
        : 0;
    const unsolicitedEnd = p.initialR2T ? immLen : Math.min(out.length, p.firstBurstLength);
    bhs[1] =
      (unsolicitedEnd > immLen ? 0 : 0x80) |
      (inLen > 0 ? 0x40 : 0) |
      (out.length > 0 ? 0x20 : 0) |
      ((req.attr ?? 1) & 7);
    setLun(bhs, req.lun);
    setU32(bhs, 20, out.length > 0 ? out.length : inLen);
    const cdb = req.cdb;
    for (let i = 0; i < Math.min(16, cdb.length); i++) bhs[32 + i] = cdb[i]!;
    const pdu: Pdu = { bhs, ahs: extendedCdbAhs(cdb), data: out.subarray(0, immLen) };
    this.submit(pdu, task, () => {
      if (unsolicitedEnd > immLen) this.sendData(task, RESERVED_TAG, immLen, unsolicitedEnd - immLen);
    });
    return itt;
  }

  private sendData(task: ScsiTaskState, ttt: number, offset: number, length: number): void {
    const out = task.req.dataOut ?? EMPTY;
    const mx = this.params.maxXmitDataSegmentLength;
    let dataSn = 0;
    for (let at = offset; at < offset + length; ) {
      const n = Math.min(mx, offset + length - at);
      const bhs = newBhs(OP_DATA_OUT);
      bhs[1] = at + n === offset + length ? 0x80 : 0;
      setLun(bhs, task.req.lun);
      setU32(bhs, 16, task.itt);
      setU32(bhs, 20, ttt);
      setU32(bhs, 28, this.expStatSn);
      setU32(bhs, 36, dataSn++);
      setU32(bhs, 40, at);
      this.out({ bhs, ahs: EMPTY, data: out.subarray(at, at + n) });
      at += n;
    }
  }

  private r2t(pdu: Pdu): void {
    const b = pdu.bhs;
    const t = this.tasks.get(ittOf(b));
    if (t?.kind !== "scsi") return; // a task we aborted
    const out = t.req.dataOut ?? EMPTY;
    const offset = u32(b, 40);
    const length = u32(b, 44);
    if (offset + length > out.length || length === 0)
      throw new IscsiProtocolError(`R2T for ${offset}+${length} beyond the ${out.length} bytes of the write`);
    this.sendData(t, u32(b, 20), offset, length);
  }

  private dataIn(pdu: Pdu): void {
    const b = pdu.bhs;
    const t = this.tasks.get(ittOf(b));
    if (t?.kind !== "scsi") return;
    const offset = u32(b, 40);
    if (offset + pdu.data.length > t.inBuf.length)
      throw new IscsiProtocolError(`Data-In at ${offset}+${pdu.data.length} beyond EDTL ${t.inBuf.length}`);
    t.inBuf.set(pdu.data, offset);
    t.received = Math.max(t.received, offset + pdu.data.length);
    if ((b[1]! & 0x01) === 0) return;
    this.status(b);
    this.tasks.delete(t.itt);
    const flags = b[1]!;
    t.cb({
      response: 0,
      status: b[3]!,
      sense: EMPTY,
      data: t.inBuf.subarray(0, t.received),
      residual: flags & 0x06 ? u32(b, 44) : 0,
      overflow: (flags & 0x04) !== 0,
    });
  }

  private scsiResponse(pdu: Pdu): void {
    const b = pdu.bhs;
    this.status(b);
    const t = this.tasks.get(ittOf(b));
    if (t?.kind !== "scsi") return;
    this.tasks.delete(t.itt);
    let sense: Uint8Array = EMPTY;
    if (pdu.data.length >= 2) {
      const n = Math.min((pdu.data[0]! << 8) | pdu.data[1]!, pdu.data.length - 2);
      sense = pdu.data.slice(2, 2 + n);
    }
    const flags = b[1]!;
    t.cb({
      response: b[2]!,
      status: b[3]!,
      sense,
      data: t.inBuf.subarray(0, t.received),
      residual: flags & 0x06 ? u32(b, 44) : 0,
      overflow: (flags & 0x04) !== 0,
    });
  }

  private finishOther(itt: number, pdu: Pdu, kind: OtherTask["kind"]): void {
    const t = this.tasks.get(itt);
    if (!t || t.kind !== kind) return;
    this.tasks.delete(itt);
    t.cb(pdu);
  }

  private nopReply(b: Uint8Array, ttt: number): void {
    const bhs = newBhs(OP_NOP_OUT, true);
    bhs[1] = 0x80;
    bhs.set(b.subarray(8, 16), 8);
    setU32(bhs, 16, RESERVED_TAG);
    setU32(bhs, 20, ttt);
    setU32(bhs, 24, this.cmdSn);
    setU32(bhs, 28, this.expStatSn);
    this.out({ bhs, ahs: EMPTY, data: EMPTY });
  }

  /** NOP-Out ping (immediate); `cb` gets the echoed data, or an error. */
  nop(data: Uint8Array, cb: (echo: Uint8Array | null, error?: string) => void): void {
    const itt = this.allocItt();
    const bhs = newBhs(OP_NOP_OUT, true);
    bhs[1] = 0x80;
    setU32(bhs, 20, RESERVED_TAG);
    this.submit({ bhs, ahs: EMPTY, data }, { kind: "nop", itt, cb: (p, e) => cb(p ? p.data : null, e) });
  }

  /** SendTargets (Text Request); `cb` gets the target records (name with its addresses). */
  sendTargets(
    value: string,
    cb: (targets: { name: string; addresses: string[] }[] | null, error?: string) => void,
  ): void {
    const itt = this.allocItt();
    const bhs = newBhs(OP_TEXT_REQ, true);
    bhs[1] = 0x80;
    setU32(bhs, 20, RESERVED_TAG);
    this.submit(
      { bhs, ahs: EMPTY, data: encodeKeys([["SendTargets", value]]) },
      {
        kind: "text",
        itt,
        cb: (p, e) => {
          if (!p) return cb(null, e);
          const out: { name: string; addresses: string[] }[] = [];
          try {
            for (const [k, v] of decodeKeys(p.data)) {
              if (k === "TargetName") out.push({ name: v, addresses: [] });
              else if (k === "TargetAddress" && out.length > 0) out[out.length - 1]!.addresses.push(v);
            }
          } catch (err) {
            return cb(null, (err as Error).message);
          }
          cb(out);
        },
      },
    );
  }

  /**
   * Task management (immediate). `refItt` is the task of ABORT TASK. `cb` gets the TMF response
   * code. The aborted task's callback is never called with a status once the target confirmed
   * (response 0); it ends with an `error` "aborted".
   */
  taskManagement(
    fn: number,
    lun: number,
    refItt: number,
    cb: (response: number | null, error?: string) => void,
  ): void {
    const itt = this.allocItt();
    const bhs = newBhs(OP_TMF_REQ, true);
    bhs[1] = 0x80 | (fn & 0x7f);
    setLun(bhs, lun);
    setU32(bhs, 20, fn === 1 ? refItt : RESERVED_TAG);
    const ref = this.tasks.get(refItt);
    if (ref && ref.kind === "scsi") setU32(bhs, 32, ref.cmdSn);
    this.submit(
      { bhs, ahs: EMPTY, data: EMPTY },
      {
        kind: "tmf",
        itt,
        cb: (p, e) => {
          if (!p) return cb(null, e);
          const response = p.bhs[2]!;
          if (response === 0) {
            // The target answers no more for the tasks this function aborted (§4.2.3.x, §11.5.1).
            for (const t of [...this.tasks.values()]) {
              if (t.kind !== "scsi") continue;
              const hit = fn === 1 ? t.itt === refItt : fn === 6 || fn === 7 ? true : t.req.lun === lun;
              if (hit && (fn === 1 || fn === 2 || fn === 4 || fn === 5 || fn === 6 || fn === 7)) {
                this.tasks.delete(t.itt);
                this.failTask(t, "aborted");
              }
            }
          }
          cb(response);
        },
      },
    );
  }

  /** Logout (reason 0: close the session); the session closes after the response. */
  logout(cb: (response: number | null, error?: string) => void): void {
    if (this._phase !== "full-feature") {
      cb(null, "not logged in");
      return;
    }
    const itt = this.allocItt();
    const bhs = newBhs(OP_LOGOUT_REQ, true);
    bhs[1] = 0x80;
    this.submit(
      { bhs, ahs: EMPTY, data: EMPTY },
      { kind: "logout", itt, cb: (p, e) => cb(p ? p.bhs[2]! : null, e) },
    );
  }
}

/** libiscsi's words for a login status (RFC 7143 §11.13.5). */
export function loginStatusText(cls: number, detail: number): string {
  const code = (cls << 8) | detail;
  const words: Record<number, string> = {
    257: "target moved temporarily",
    258: "target moved permanently",
    512: "initiator error",
    513: "authentication failure",
    514: "authorization failure",
    515: "target not found",
    516: "target removed",
    517: "unsupported version",
    518: "too many connections",
    519: "missing parameter",
    520: "can't include in session",
    521: "session type not supported",
    522: "session does not exist",
    523: "invalid request during login",
    768: "target error",
    769: "service unavailable",
    770: "out of resources",
  };
  return words[code] ?? "unknown";
}
