/**
 * A "physical" SCSI device of dom0 that is a LUN of a remote iSCSI target: every task scsiback
 * submits becomes an iSCSI SCSI Command on a session to that target. The protocol is
 * {@link IscsiInitiatorSession} (sans-IO); this module is its `node:net` shell.
 *
 * Each I_T nexus (a guest's vHBA, as scsiback names it) may log in with its own initiator name,
 * so the target's ACLs decide what each guest sees — the iSCSI form of NPIV. ABORT TASK and
 * LOGICAL UNIT RESET become iSCSI task management. A lost connection fails the commands that
 * were in flight with ABORTED COMMAND (never acknowledged, so no acknowledged write is lost) and
 * the next command logs in again; the target's new-nexus unit attention (06/29/00) then tells
 * the guest, as a real device reports a reset.
 * @module
 */

import { connect, type Socket } from "node:net";
import {
  type ChapCredentials,
  type InitiatorResult,
  IscsiInitiatorSession,
  TMF_ABORT_TASK,
  TMF_LOGICAL_UNIT_RESET,
  TMF_RSP_COMPLETE,
  TMF_RSP_NO_TASK,
} from "../iscsi/index.js";
import {
  type DeviceInfo,
  type Initiator,
  SCSI_SENSE_BUFFERSIZE,
  type ScsiDevice,
  type ScsiTask,
  type TmfResponse,
} from "../scsi/device.js";
import type { TargetMember, TargetPort } from "./target-port.js";

/** Where the LUN is and how to log in. */
export interface IscsiLunConfig {
  /** `host:port` (port default 3260). */
  readonly portal: string;
  /** Target IQN. */
  readonly target: string;
  /** LUN on that target. */
  readonly lun: number;
  /** Our initiator name (the base of per-vHBA names). */
  readonly initiatorName: string;
  /**
   * Log in once per I_T nexus with `<initiatorName>:<nexus>` (e.g.
   * `iqn.2026-12.org.pvscsi:dom0:xen-pvscsi:dom1.vhost0`), so target ACLs see each vHBA.
   * Default false: one session, `initiatorName`, shared by every nexus.
   */
  readonly perNexusInitiator?: boolean;
  /** CHAP credentials when the target wants them (one-way, or mutual with `targetSecret`). */
  readonly chap?: ChapCredentials;
  /**
   * Called when a command's sense is 06/3F/0E REPORTED LUNS DATA HAS CHANGED: the target added
   * or removed a LU (its own unit attention; the command's result goes on unchanged).
   */
  readonly onLunsChanged?: () => void;
  /** Milliseconds to wait for TCP connect + login; default 5000. */
  readonly loginTimeoutMs?: number;
}

/** Parse `host[:port]` (IPv4 or a name; `[v6]:port`). */
export function parsePortal(portal: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(portal) ?? /^([^:]+)(?::(\d+))?$/.exec(portal);
  if (!m) throw new Error(`bad portal ${JSON.stringify(portal)} (expected host[:port])`);
  const port = m[2] === undefined ? 3260 : Number(m[2]);
  if (port < 1 || port > 65535) throw new Error(`bad port in portal ${JSON.stringify(portal)}`);
  return { host: m[1]!, port };
}

/**
 * Reusable bounce buffers for one device, by power-of-two size class (4 KiB up), so a command
 * does not allocate its data-out copy or its Data-In buffer: taken at submit, given back when the
 * command completes (the session copies data-out into each PDU it encodes, so nothing holds a
 * buffer after its result). At most {@link BOUNCE_KEEP} idle buffers per class are kept.
 */
class BouncePool {
  private readonly free: Uint8Array[][] = [];

  take(len: number): Uint8Array {
    const cls = BouncePool.classOf(len);
    return this.free[cls]?.pop() ?? new Uint8Array(4096 * 2 ** cls);
  }

  give(b: Uint8Array): void {
    const cls = BouncePool.classOf(b.length);
    if (4096 * 2 ** cls !== b.length) return; // not one of ours
    let list = this.free[cls];
    if (!list) {
      list = [];
      this.free[cls] = list;
    }
    if (list.length < BOUNCE_KEEP) list.push(b);
  }

  private static classOf(len: number): number {
    let cls = 0;
    while (4096 * 2 ** cls < len) cls++;
    return cls;
  }
}

/** Idle bounce buffers kept per size class (the ring's queue depth is 16 at most, per vhost). */
const BOUNCE_KEEP = 32;

/** The last ISID qualifier handed out (see {@link sessionIsid}). */
let isidQualifier = 0;

/**
 * A fresh ISID for each session this process opens: type 80h (random, RFC 7143 §11.12.5) with
 * a random 24-bit part and a counter as qualifier. Two units of one target under one initiator
 * name (an `[iscsi-target]`'s LUNs, or two `[iscsi]` sections) each have their own session; with
 * one ISID the target would take the second login for a reinstatement and drop the first.
 */
function sessionIsid(): Uint8Array {
  const isid = crypto.getRandomValues(new Uint8Array(6));
  isid[0] = 0x80;
  isidQualifier = (isidQualifier + 1) & 0xffff;
  isid[4] = isidQualifier >> 8;
  isid[5] = isidQualifier & 0xff;
  return isid;
}

/** One TCP connection carrying one iSCSI session. */
class Connection {
  readonly session: IscsiInitiatorSession;
  private readonly socket: Socket;
  private lostReason: string | null = null;
  onLost: (reason: string) => void = () => {};

  private constructor(socket: Socket, session: IscsiInitiatorSession) {
    this.socket = socket;
    this.session = session;
  }

  /** Connect and log in; rejects with the login failure. */
  static open(cfg: IscsiLunConfig, initiatorName: string): Promise<Connection> {
    const { host, port } = parsePortal(cfg.portal);
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      socket.setNoDelay(true);
      let settled = false;
      const timer = setTimeout(
        () => finish(new Error(`iSCSI login to ${cfg.target} at ${cfg.portal} timed out`)),
        cfg.loginTimeoutMs ?? 5000,
      );
      const finish = (err: Error | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) {
          socket.destroy();
          reject(err);
        } else resolve(conn);
      };
      const session = new IscsiInitiatorSession(
        {
          initiatorName,
          targetName: cfg.target,
          isid: sessionIsid(),
          ...(cfg.chap ? { chap: cfg.chap } : {}),
        },
        {
          send: (b) => {
            if (!socket.destroyed) socket.write(b);
          },
          close: (reason) => {
            socket.end();
            if (!settled)
              finish(
                new Error(
                  `iSCSI login to ${cfg.target} at ${cfg.portal} as ${initiatorName}: ${session.failure || reason}`,
                ),
              );
          },
          loggedIn: () => finish(null),
        },
      );
      const conn = new Connection(socket, session);
      socket.on("connect", () => session.start());
      socket.on("data", (d: Buffer) => session.receive(new Uint8Array(d.buffer, d.byteOffset, d.length)));
      const gone = (why: string) => {
        if (conn.lostReason !== null) return;
        conn.lostReason = why;
        session.closed(why);
        if (!settled) finish(new Error(`iSCSI connection to ${cfg.portal}: ${why}`));
        else conn.onLost(why);
      };
      socket.on("error", (e) => gone(e.message));
      socket.on("close", () => gone("connection closed"));
    });
  }

  get alive(): boolean {
    return this.lostReason === null && this.session.phase === "full-feature";
  }

  command(
    lun: number,
    cdb: Uint8Array,
    dataOut: Uint8Array | null,
    inLength: number,
  ): Promise<InitiatorResult> {
    return new Promise((resolve) => {
      this.session.command({ lun, cdb, ...(dataOut ? { dataOut } : { inLength }) }, resolve);
    });
  }

  tmf(fn: number, lun: number, refItt: number): Promise<number | null> {
    return new Promise((resolve) => this.session.taskManagement(fn, lun, refItt, (r) => resolve(r)));
  }

  async logout(): Promise<void> {
    if (this.alive) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 1000);
        this.session.logout(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    this.socket.destroy();
  }
}

/** A lazily (re)connected session for one initiator name. */
class Nexus {
  private conn: Connection | null = null;
  private connecting: Promise<Connection> | null = null;
  /** ITTs of tasks in flight, by task tag. */
  readonly inFlight = new Map<number, number>();
  /** Logins after the first (the connection was lost). */
  reconnects = 0;
  constructor(
    private readonly cfg: IscsiLunConfig,
    readonly initiatorName: string,
  ) {}

  async get(): Promise<Connection> {
    if (this.conn?.alive) return this.conn;
    if (this.connecting) return this.connecting;
    if (this.conn) this.reconnects++;
    this.connecting = Connection.open(this.cfg, this.initiatorName).then(
      (c) => {
        this.conn = c;
        this.connecting = null;
        return c;
      },
      (e: unknown) => {
        this.connecting = null;
        throw e;
      },
    );
    return this.connecting;
  }

  current(): Connection | null {
    return this.conn?.alive ? this.conn : null;
  }

  async close(): Promise<void> {
    const c = this.conn;
    this.conn = null;
    await c?.logout();
  }
}

/** 06/3F/0E REPORTED LUNS DATA HAS CHANGED, in fixed (70h/71h) or descriptor (72h/73h) format. */
function lunsChangedSense(s: Uint8Array): boolean {
  const code = (s[0] ?? 0) & 0x7f;
  if (code === 0x70 || code === 0x71) return (s[2]! & 0x0f) === 6 && s[12] === 0x3f && s[13] === 0x0e;
  if (code === 0x72 || code === 0x73) return (s[1]! & 0x0f) === 6 && s[2] === 0x3f && s[3] === 0x0e;
  return false;
}

function sense(task: ScsiTask, key: number, asc: number, ascq: number): number {
  const s = task.sense;
  s.fill(0, 0, 18);
  s[0] = 0x70;
  s[2] = key;
  s[7] = 10;
  s[12] = asc;
  s[13] = ascq;
  return 18;
}

const trim = (b: Uint8Array, from: number, to: number): string =>
  String.fromCharCode(...b.subarray(from, to)).trim();

/**
 * An iSCSI LUN as a dom0 {@link ScsiDevice}. As a member of a dom0 target (h:c:t) it takes the
 * place a local unit would; its unit attentions are the remote target's own, so the local
 * target's (`queueUaAll`) have no effect on it, and REPORT LUNS sent to it is the remote's.
 */
export class IscsiInitiatorDevice implements ScsiDevice, TargetMember {
  /** The dom0 target port it sits behind (set by the target). */
  port: TargetPort | null = null;
  /** Its LUN in dom0's numbering (set by the target). */
  lun = 0;
  readonly info: DeviceInfo;
  readonly config: IscsiLunConfig;
  private readonly shared: Nexus;
  private readonly nexuses = new Map<number, Nexus>();
  private closed = false;
  private readonly bounce = new BouncePool();

  private constructor(config: IscsiLunConfig, info: DeviceInfo, shared: Nexus) {
    this.config = config;
    this.info = info;
    this.shared = shared;
  }

  /**
   * Log in (as `initiatorName`), read the LU's INQUIRY, unit serial number and NAA designator
   * for dom0's inventory, and return the device. Rejects when the target cannot be reached,
   * refuses the login, or has no such LUN.
   */
  static async open(config: IscsiLunConfig): Promise<IscsiInitiatorDevice> {
    const shared = new Nexus(config, config.initiatorName);
    const conn = await shared.get();
    const inq = await conn.command(config.lun, Uint8Array.of(0x12, 0, 0, 0, 96, 0), null, 96);
    if (inq.error || inq.status !== 0 || inq.data.length < 36) {
      await shared.close();
      throw new Error(
        `INQUIRY of ${config.target} LUN ${config.lun} failed${inq.error ? `: ${inq.error}` : ` (status 0x${inq.status.toString(16)})`}`,
      );
    }
    const d = inq.data;
    if ((d[0]! & 0xe0) !== 0) {
      await shared.close();
      throw new Error(`${config.target} has no LUN ${config.lun} (peripheral qualifier ${d[0]! >> 5})`);
    }
    const vpd80 = await conn.command(config.lun, Uint8Array.of(0x12, 1, 0x80, 0, 255, 0), null, 255);
    const serial = vpd80.status === 0 && vpd80.data.length > 4 ? trim(vpd80.data, 4, 4 + vpd80.data[3]!) : "";
    const vpd83 = await conn.command(config.lun, Uint8Array.of(0x12, 1, 0x83, 0, 255, 0), null, 255);
    let wwn = "";
    if (vpd83.status === 0) {
      const v = vpd83.data;
      for (let at = 4; at + 4 <= v.length; at += 4 + v[at + 3]!) {
        const type = v[at + 1]! & 0x0f;
        const len = v[at + 3]!;
        if (type === 3 && (len === 8 || len === 16)) {
          wwn = Buffer.from(v.subarray(at + 4, at + 4 + 8)).toString("hex");
          break;
        }
      }
    }
    const info: DeviceInfo = {
      type: d[0]! & 0x1f,
      vendor: trim(d, 8, 16),
      product: trim(d, 16, 32),
      revision: trim(d, 32, 36),
      scsiLevel: d[2]! & 0x07,
      removable: (d[1]! & 0x80) !== 0,
      serial: serial || `${config.target}:${config.lun}`,
      wwn: wwn || "6000000000000000",
    };
    return new IscsiInitiatorDevice(config, info, shared);
  }

  /**
   * The LUNs `config.target` reports (REPORT LUNS, SELECT REPORT 0, sent to LUN 0 as Linux's
   * scan does), ascending. Logs in as `config.initiatorName` and out again; the new nexus's unit
   * attention is drained first (bounded). Rejects when the target cannot be reached or refuses.
   */
  static async reportLuns(config: IscsiLunConfig): Promise<number[]> {
    const nexus = new Nexus(config, config.initiatorName);
    try {
      const conn = await nexus.get();
      const cdb = Uint8Array.of(0xa0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x08, 0, 0); // 4104 bytes: 512 LUNs
      let r = await conn.command(0, cdb, null, 4104);
      for (let i = 0; i < 5 && !r.error && r.status === 2 && (r.sense[2]! & 0x0f) === 6; i++)
        r = await conn.command(0, cdb, null, 4104);
      if (r.error || r.status !== 0 || r.data.length < 8)
        throw new Error(
          `REPORT LUNS of ${config.target} failed${r.error ? `: ${r.error}` : ` (status 0x${r.status.toString(16)})`}`,
        );
      const d = r.data;
      const n = Math.min(((d[0]! << 24) | (d[1]! << 16) | (d[2]! << 8) | d[3]!) >>> 3, (d.length - 8) >>> 3);
      const luns: number[] = [];
      for (let i = 0; i < n; i++) {
        const b0 = d[8 + 8 * i]!;
        const b1 = d[9 + 8 * i]!;
        const method = b0 >> 6;
        // SAM-5 §4.7.7: peripheral device (bus 0) and flat space addressing; others are not ours.
        if (method === 0 && (b0 & 0x3f) === 0) luns.push(b1);
        else if (method === 1) luns.push(((b0 & 0x3f) << 8) | b1);
      }
      return luns.sort((a, b) => a - b);
    } finally {
      await nexus.close();
    }
  }

  /** Sessions that were lost and logged in again, over every nexus. */
  get reconnects(): number {
    let n = this.shared.reconnects;
    for (const x of this.nexuses.values()) n += x.reconnects;
    return n;
  }

  /**
   * A unit whose target could not be reached at start-up: it answers with `info` (from the
   * config) and logs in on its next command, NOT READY (02/04/01) until the target answers.
   */
  static offline(config: IscsiLunConfig, info: DeviceInfo): IscsiInitiatorDevice {
    return new IscsiInitiatorDevice(config, info, new Nexus(config, config.initiatorName));
  }

  private nexusFor(initiator: Initiator): Nexus {
    if (!this.config.perNexusInitiator) return this.shared;
    let n = this.nexuses.get(initiator.id);
    if (!n) {
      const suffix = initiator.name.toLowerCase().replace(/[^a-z0-9.:-]+/g, ".");
      n = new Nexus(this.config, `${this.config.initiatorName}:${suffix}`);
      this.nexuses.set(initiator.id, n);
    }
    return n;
  }

  submit(task: ScsiTask): void {
    if (this.closed) {
      task.done(0x02, 0, sense(task, 0x02, 0x04, 0x00));
      return;
    }
    const nexus = this.nexusFor(task.initiator);
    const len = task.data.length;
    let out: Uint8Array | null = null;
    const inLen = task.direction === 2 ? len : 0;
    const buf = len > 0 && (task.direction === 1 || task.direction === 2) ? this.bounce.take(len) : null;
    if (buf && task.direction === 1) {
      out = buf.subarray(0, len);
      task.data.read(0, out);
    }
    void nexus
      .get()
      .then(
        (conn) => {
          let itt = 0;
          const p = new Promise<InitiatorResult>((resolve) => {
            itt = conn.session.command(
              {
                lun: this.config.lun,
                cdb: task.cdb,
                ...(out ? { dataOut: out } : { inLength: inLen, ...(buf ? { inBuffer: buf } : {}) }),
              },
              resolve,
            );
          });
          nexus.inFlight.set(task.tag, itt);
          return p;
        },
        (e: unknown): InitiatorResult => ({
          response: 0xff,
          status: 0,
          sense: new Uint8Array(0),
          data: new Uint8Array(0),
          residual: 0,
          overflow: false,
          error: `login: ${(e as Error).message}`,
        }),
      )
      .then((r) => {
        nexus.inFlight.delete(task.tag);
        try {
          this.complete(task, r, out, inLen);
        } finally {
          if (buf) this.bounce.give(buf);
        }
      });
  }

  /** Hand the session's result to the task (data, sense, status), or the error a guest retries. */
  private complete(task: ScsiTask, r: InitiatorResult, out: Uint8Array | null, inLen: number): void {
    if (r.error !== undefined || r.response !== 0) {
      if (r.error === "aborted") {
        task.done(0x40, 0, 0); // TASK ABORTED
      } else if (r.error?.startsWith("login")) {
        task.done(0x02, 0, sense(task, 0x02, 0x04, 0x01)); // NOT READY, BECOMING READY: retry
      } else {
        // Never acknowledged: the guest retries on ABORTED COMMAND.
        task.done(0x02, 0, sense(task, 0x0b, 0x47, 0x00));
      }
      return;
    }
    const len = task.data.length;
    let transferred = 0;
    if (inLen > 0 && r.data.length > 0)
      transferred = task.data.write(0, r.data, 0, Math.min(r.data.length, inLen));
    else if (out) transferred = r.overflow ? len : Math.max(0, len - r.residual);
    const n = Math.min(r.sense.length, SCSI_SENSE_BUFFERSIZE, task.sense.length);
    task.sense.set(r.sense.subarray(0, n));
    if (r.status === 0x02 && this.config.onLunsChanged && lunsChangedSense(r.sense))
      this.config.onLunsChanged();
    task.done(r.status, transferred, n);
  }

  async abortTask(initiator: Initiator, tag: number): Promise<TmfResponse> {
    const nexus = this.nexusFor(initiator);
    const itt = nexus.inFlight.get(tag);
    const conn = nexus.current();
    if (itt === undefined || !conn) return "not-found";
    const r = await conn.tmf(TMF_ABORT_TASK, this.config.lun, itt);
    return r === TMF_RSP_COMPLETE ? "complete" : r === TMF_RSP_NO_TASK ? "not-found" : "rejected";
  }

  async lunReset(initiator: Initiator): Promise<TmfResponse> {
    const nexus = this.nexusFor(initiator);
    let conn: Connection;
    try {
      conn = await nexus.get();
    } catch {
      return "rejected";
    }
    const r = await conn.tmf(TMF_LOGICAL_UNIT_RESET, this.config.lun, 0);
    return r === TMF_RSP_COMPLETE ? "complete" : "rejected";
  }

  /** Unit attentions are the remote target's: nothing to queue here. */
  queueUaAll(_code: number, _exceptId?: number): void {}

  /** Nothing is queued here (see {@link queueUaAll}). */
  clearUa(_initiatorId: number, _code: number): void {}

  addNexus(_initiator: Initiator): void {
    // The target raises 06/29/00 for a new I_T nexus itself (on login).
  }

  removeNexus(initiator: Initiator): void {
    const n = this.nexuses.get(initiator.id);
    if (!n) return;
    this.nexuses.delete(initiator.id);
    void n.close();
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([this.shared.close(), ...[...this.nexuses.values()].map((n) => n.close())]);
    this.nexuses.clear();
  }
}
