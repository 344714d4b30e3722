/**
 * A guest application: an iSCSI target (RFC 7143) exporting the guest's own SCSI devices. Every
 * command a remote initiator sends becomes a command the guest issues through its scsifront, so
 * it crosses the PV ring, the grants and scsiback like any guest I/O. The protocol is
 * {@link IscsiTargetConnection} (sans-IO); this module is its `node:net` shell plus the
 * target-level SCSI a multi-LUN target answers itself (REPORT LUNS, absent LUNs).
 * @module
 */

import { createServer, type Server, type Socket } from "node:net";
import {
  IscsiTargetConnection,
  type TargetCommand,
  type TargetResult,
  TMF_ABORT_TASK,
  TMF_LOGICAL_UNIT_RESET,
  TMF_TARGET_COLD_RESET,
  TMF_TARGET_WARM_RESET,
  type TmfRequest,
} from "../iscsi/target.js";
import type { ScsiResult } from "../scsifront/scsi-host.js";
import type { GuestScsiDevice } from "./midlayer.js";

/** Options of an {@link IscsiExport}. */
export interface IscsiExportOptions {
  /** Target IQN; default `iqn.2026-12.org.pvscsi:<name>`. */
  readonly iqn?: string;
  /** Listen address; default 127.0.0.1 (servers in pvscsi listen on loopback unless told). */
  readonly host?: string;
  /** TCP port; default 3260; 0 picks a free one. */
  readonly port?: number;
  /** Initiator names allowed to log in (an ACL); default: all. */
  readonly allow?: readonly string[];
}

/**
 * One exported LUN: the iSCSI LUN number and the guest device behind it. A LU the guest reaches
 * through several vscsi controllers (a shareable pdev given to more than one vhost) has one path
 * per controller; each is an I_T nexus of its own at scsiback and at the device.
 */
export interface ExportedLun {
  readonly lun: number;
  /** The first path (the LU's name in listings). */
  readonly device: GuestScsiDevice;
  /** Every guest path to this LU, `device` first. */
  readonly paths: readonly GuestScsiDevice[];
}

/** What the export tracks per path: the sessions bound to it and the nexus state they left. */
interface PathState {
  readonly sessions: Set<IscsiTargetConnection>;
  /** A RESERVE(6) taken through this path is held (until RELEASE(6) or the nexus ends). */
  reserved: boolean;
  /** PREVENT MEDIUM REMOVAL is in force through this path. */
  prevented: boolean;
}

/** Initiator names whose last path per LUN the export remembers. */
const MAX_REMEMBERED_INITIATORS = 1024;

/** RESERVE(6), RELEASE(6), PREVENT ALLOW MEDIUM REMOVAL. */
const OP_RESERVE6 = 0x16;
const OP_RELEASE6 = 0x17;
const OP_PREVENT_ALLOW = 0x1e;

const EMPTY = new Uint8Array(0);

/** Fixed-format sense for key/ASC/ASCQ (SPC-4 §4.5.3). */
function fixedSense(key: number, asc: number, ascq: number): Uint8Array {
  const s = new Uint8Array(18);
  s[0] = 0x70;
  s[2] = key;
  s[7] = 10;
  s[12] = asc;
  s[13] = ascq;
  return s;
}

/** Where a data CDB keeps its TRANSFER LENGTH: [offset, bytes], for READ/WRITE/WRITE AND VERIFY (6/10/12/16). */
const TRANSFER_LENGTH: Record<number, readonly [number, number, "in" | "out"]> = {
  8: [4, 1, "in"],
  10: [4, 1, "out"],
  40: [7, 2, "in"],
  42: [7, 2, "out"],
  46: [7, 2, "out"],
  168: [6, 4, "in"],
  170: [6, 4, "out"],
  174: [6, 4, "out"],
  136: [10, 4, "in"],
  138: [10, 4, "out"],
  142: [10, 4, "out"],
};

function getField(cdb: Uint8Array, at: number, n: number): number {
  let v = 0;
  for (let i = 0; i < n; i++) v = v * 256 + cdb[at + i]!;
  return v;
}

function setField(cdb: Uint8Array, at: number, n: number, v: number): void {
  for (let i = n - 1; i >= 0; i--) {
    cdb[at + i] = v % 256;
    v = Math.floor(v / 256);
  }
}

/** A data CDB fitted to what the initiator's EDTL allows (see {@link fitToEdtl}). */
export interface FittedCommand {
  readonly cdb: Uint8Array;
  readonly dataOut: Uint8Array | null;
  readonly inLength: number;
  /** Bytes the CDB asked for beyond EDTL (residual overflow). */
  readonly overflow: number;
  /** Data-in to keep (EDTL when a partial block was read), else -1. */
  readonly keep: number;
  /** Answer without sending anything (a 6-byte CDB cannot say 0 blocks). */
  readonly noop: boolean;
  /** A partial block of data-out: CHECK CONDITION 05/0E/03. */
  readonly invalid: boolean;
}

/**
 * What an iSCSI target does when the iSCSI Expected Data Transfer Length disagrees with the
 * CDB's TRANSFER LENGTH (RFC 7143 §11.4.5.1; Linux TCM's `target_cmd_size_check`): move at most
 * EDTL bytes — a shorter transfer length in the CDB, a read of a partial block cut to EDTL, the
 * surplus data-out ignored — and report the difference as residual overflow or underflow. A read
 * CDB sent with data-out runs as the read it is and its data is dropped. Other CDBs pass as
 * they are. `blockSize` is the LU's logical block length.
 */
export function fitToEdtl(cmd: TargetCommand, blockSize: number): FittedCommand {
  const tl = TRANSFER_LENGTH[cmd.cdb[0]!];
  const plain: FittedCommand = {
    cdb: cmd.cdb,
    dataOut: cmd.dataOut,
    inLength: cmd.inLength,
    overflow: 0,
    keep: -1,
    noop: false,
    invalid: false,
  };
  if (!tl) return plain;
  const [at, n, dir] = tl;
  let blocks = getField(cmd.cdb, at, n);
  if (n === 1 && blocks === 0) blocks = 256;
  const wanted = blocks * blockSize;
  const edtl = cmd.dataOut ? cmd.dataOut.length : cmd.inLength;
  if (dir === "in" && cmd.dataOut) {
    return { ...plain, dataOut: null, inLength: wanted, keep: 0 };
  }
  if (edtl === wanted) return plain;
  if (edtl > wanted) {
    return dir === "out" ? { ...plain, dataOut: cmd.dataOut!.subarray(0, wanted) } : plain;
  }
  const overflow = wanted - edtl;
  const cdb = cmd.cdb.slice();
  if (dir === "out") {
    if (edtl % blockSize !== 0) return { ...plain, overflow, invalid: true };
    const fit = edtl / blockSize;
    if (fit === 0 && n === 1) return { ...plain, overflow, noop: true };
    setField(cdb, at, n, fit);
    return { ...plain, cdb, dataOut: cmd.dataOut ?? new Uint8Array(0), overflow };
  }
  const fit = Math.ceil(edtl / blockSize);
  if (fit === 0 && n === 1) return { ...plain, overflow, noop: true };
  setField(cdb, at, n, fit);
  return { ...plain, cdb, inLength: fit * blockSize, overflow, keep: edtl };
}

/**
 * An iSCSI target over a list of guest devices: LUN `i` is `luns[i]`. One TCP server, any
 * number of sessions (each its own connection, ERL 0).
 */
export class IscsiExport {
  readonly iqn: string;
  readonly luns: readonly ExportedLun[];
  private readonly options: IscsiExportOptions;
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private nextTsih = 1;
  private readonly inFlight = new Map<TargetCommand, Promise<unknown>>();
  private _address = "";
  private readonly blockSizes = new Map<number, number>();
  private readonly unitAttentions = new Map<IscsiTargetConnection, Map<number, Uint8Array[]>>();
  private readonly pathStates = new Map<GuestScsiDevice, PathState>();
  /** Each session's path per LUN, chosen at its first command to the LUN. */
  private readonly bound = new Map<IscsiTargetConnection, Map<number, GuestScsiDevice>>();
  /** The path each initiator name last used per LUN, so a returning initiator finds its nexus again. */
  private readonly lastPath = new Map<string, Map<number, GuestScsiDevice>>();
  /** Per LUN: what the end of a session still has to undo below, awaited by every later command. */
  private readonly cleanup = new Map<number, Promise<void>>();
  private _port = 0;

  /**
   * @param devices LUN `i` is `devices[i]`: one guest device, or every guest path to one LU
   *   (see {@link groupPaths}).
   */
  constructor(
    devices: readonly (GuestScsiDevice | readonly GuestScsiDevice[])[],
    name: string,
    options: IscsiExportOptions = {},
  ) {
    this.iqn = options.iqn ?? `iqn.2026-12.org.pvscsi:${name}`;
    this.luns = devices.map((d, lun) => {
      const paths = Array.isArray(d) ? [...(d as readonly GuestScsiDevice[])] : [d as GuestScsiDevice];
      if (paths.length === 0) throw new Error(`LUN ${lun} has no path`);
      for (const p of paths)
        this.pathStates.set(p, { sessions: new Set(), reserved: false, prevented: false });
      return { lun, device: paths[0]!, paths };
    });
    this.options = options;
  }

  /** `host:port` once listening. */
  get portal(): string {
    return `${this._address}:${this._port}`;
  }

  /** The port listened on (after {@link listen}). */
  get port(): number {
    return this._port;
  }

  /** Sessions connected now. */
  get connections(): number {
    return this.sockets.size;
  }

  /** Start listening; resolves with the portal. */
  listen(): Promise<string> {
    const host = this.options.host ?? "127.0.0.1";
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.options.port ?? 3260, host, () => {
        server.off("error", reject);
        const a = server.address();
        if (a && typeof a === "object") {
          this._address = a.address;
          this._port = a.port;
        }
        resolve(this.portal);
      });
    });
  }

  /** Stop listening and drop every session. */
  async close(): Promise<void> {
    // Each socket's "close" ends its session as any lost connection does (nexusLoss included).
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }

  private accept(socket: Socket): void {
    socket.setNoDelay(true);
    this.sockets.add(socket);
    const tsih = this.nextTsih;
    this.nextTsih = (this.nextTsih % 0xfffe) + 1;
    const allow = this.options.allow;
    const conn: IscsiTargetConnection = new IscsiTargetConnection(
      { targetName: this.iqn, address: `${this._address}:${this._port},1`, tsih },
      {
        send: (b) => {
          if (!socket.destroyed) socket.write(b);
        },
        close: () => {
          socket.end();
        },
        execute: (cmd) => this.execute(conn, cmd),
        taskManagement: (req) => {
          void this.tmf(conn, req);
        },
        ...(allow ? { authorize: (name: string) => allow.includes(name) } : {}),
      },
    );
    socket.on("data", (d: Buffer) => conn.receive(new Uint8Array(d.buffer, d.byteOffset, d.length)));
    // A new I_T nexus meets 06/29/00 POWER ON, RESET OR BUS DEVICE RESET on every LU (SAM-5
    // §6.3.1), as tgtd and LIO report it: the guest's own power-on UA was its kernel's to see.
    const uas = new Map<number, Uint8Array[]>();
    for (const { lun } of this.luns) uas.set(lun, [fixedSense(6, 0x29, 0)]);
    this.unitAttentions.set(conn, uas);
    let ended = false;
    const gone = () => {
      if (ended) return;
      ended = true;
      this.sockets.delete(socket);
      this.unitAttentions.delete(conn);
      conn.closed();
      this.nexusLoss(conn);
    };
    socket.on("close", gone);
    socket.on("error", gone);
  }

  private execute(conn: IscsiTargetConnection, cmd: TargetCommand): void {
    const p = this.withUnitAttentions(conn, cmd).then(
      (r) => {
        this.inFlight.delete(cmd);
        conn.complete(cmd, r);
      },
      (e: unknown) => {
        this.inFlight.delete(cmd);
        // A command the guest could not even issue: ABORTED COMMAND, no data.
        conn.complete(cmd, { status: 2, sense: fixedSense(0x0b, 0, 0), ...(e ? {} : {}) });
      },
    );
    this.inFlight.set(cmd, p);
  }

  /**
   * The path a session uses to reach LUN `lun`, bound at its first command there: the path the
   * same initiator used last if no other session holds it (its registrations are that nexus's),
   * else a path no session holds, else the one with fewest sessions (they then share its nexus).
   */
  private pathFor(conn: IscsiTargetConnection, lun: number): GuestScsiDevice {
    let mine = this.bound.get(conn);
    const had = mine?.get(lun);
    if (had) return had;
    const lu = this.luns[lun]!;
    const name = conn.initiatorName;
    const last = this.lastPath.get(name)?.get(lun);
    const free = (p: GuestScsiDevice) => this.pathStates.get(p)!.sessions.size === 0;
    let path = last && free(last) ? last : lu.paths.find(free);
    if (!path) {
      path = lu.paths[0]!;
      for (const p of lu.paths)
        if (this.pathStates.get(p)!.sessions.size < this.pathStates.get(path)!.sessions.size) path = p;
    }
    if (!mine) {
      mine = new Map();
      this.bound.set(conn, mine);
    }
    mine.set(lun, path);
    this.pathStates.get(path)!.sessions.add(conn);
    let names = this.lastPath.get(name);
    if (!names) {
      names = new Map();
      this.lastPath.set(name, names);
      // Remembered for the most recent initiator names only: a peer cycling through names
      // must not grow this without bound.
      if (this.lastPath.size > MAX_REMEMBERED_INITIATORS) {
        this.lastPath.delete(this.lastPath.keys().next().value!);
      }
    }
    names.set(lun, path);
    return path;
  }

  /**
   * A session ended (logout, dropped connection): its I_T nexus is gone (SAM-5 §4.6.2). The
   * device's nexus is the path's, which outlives one session, so the export undoes below what
   * the departed initiator left that SPC ends with nexus loss — a RESERVE(6) reservation
   * (SPC-2 §5.5.1) and PREVENT MEDIUM REMOVAL (SPC-4 §6.13) — once no session is left on the
   * path. Persistent reservation registrations survive nexus loss (SPC-4 §5.13.2): kept. Later
   * commands to the LU wait until this is done.
   */
  private nexusLoss(conn: IscsiTargetConnection): void {
    const mine = this.bound.get(conn);
    this.bound.delete(conn);
    if (!mine) return;
    for (const [lun, path] of mine) {
      const st = this.pathStates.get(path)!;
      st.sessions.delete(conn);
      if (st.sessions.size > 0 || (!st.reserved && !st.prevented)) continue;
      const cdbs: Uint8Array[] = [];
      if (st.reserved) cdbs.push(Uint8Array.of(OP_RELEASE6, 0, 0, 0, 0, 0));
      if (st.prevented) cdbs.push(Uint8Array.of(OP_PREVENT_ALLOW, 0, 0, 0, 0, 0));
      st.reserved = false;
      st.prevented = false;
      const before = this.cleanup.get(lun) ?? Promise.resolve();
      const done = before.then(async () => {
        for (const cdb of cdbs) {
          await path.host
            .execute({ channel: path.channel, id: path.id, lun: path.lun, cdb })
            .catch(() => undefined);
        }
      });
      this.cleanup.set(lun, done);
      void done.then(() => {
        if (this.cleanup.get(lun) === done) this.cleanup.delete(lun);
      });
    }
  }

  /**
   * Every iSCSI session is an I_T nexus of its own to the initiators; to the device, the nexus
   * is the session's path (the guest's vhost). A unit attention the device reports through one
   * session (a LUN reset, changed mode parameters or LUN inventory, a preempted reservation) is
   * queued for every other session on the same path, and each session's pending UAs are
   * reported before its next command runs (INQUIRY and REPORT LUNS excepted; REQUEST SENSE
   * returns one as its data, SPC-4 §5.15).
   */
  private async withUnitAttentions(conn: IscsiTargetConnection, cmd: TargetCommand): Promise<TargetResult> {
    const pending = this.cleanup.get(cmd.lun);
    if (pending) await pending;
    const op = cmd.cdb[0]!;
    const mine = this.unitAttentions.get(conn)?.get(cmd.lun);
    if (mine && mine.length > 0 && op !== 0x12 && op !== 0xa0 && this.luns[cmd.lun]) {
      const ua = mine.shift()!;
      if (op === 0x03) return { status: 0, data: ua.subarray(0, Math.min(ua.length, cmd.inLength)) };
      return { status: 2, sense: ua };
    }
    const path = this.luns[cmd.lun] ? this.pathFor(conn, cmd.lun) : null;
    const r = await this.run(cmd, path);
    if (!path) return r;
    const st = this.pathStates.get(path)!;
    if (r.status === 0 && op === OP_RESERVE6) st.reserved = true;
    else if (r.status === 0 && op === OP_RELEASE6) st.reserved = false;
    else if (r.status === 0 && op === OP_PREVENT_ALLOW) st.prevented = (cmd.cdb[4]! & 0x01) !== 0;
    const sense = r.sense;
    if (
      r.status === 2 &&
      sense &&
      sense.length >= 14 &&
      (sense[0]! & 0x7f) === 0x70 &&
      (sense[2]! & 0x0f) === 6
    ) {
      for (const other of st.sessions) {
        if (other === conn) continue;
        const q = this.unitAttentions.get(other)?.get(cmd.lun);
        if (q && q.length < 8 && !q.some((x) => x[12] === sense[12] && x[13] === sense[13]))
          q.push(sense.slice(0, 18));
      }
    }
    return r;
  }

  /** The target-level answers, then the guest's own device through its scsifront (`path`). */
  private async run(cmd: TargetCommand, path: GuestScsiDevice | null): Promise<TargetResult> {
    const op = cmd.cdb[0]!;
    if (op === 0xa0) return this.reportLuns(cmd);
    if (!path) {
      if (op === 0x12) {
        // INQUIRY of an absent LUN: peripheral qualifier 011b, type 1Fh (SPC-4 §6.6.2).
        const inq = new Uint8Array(36);
        inq[0] = 0x7f;
        inq[2] = 5;
        inq[3] = 2;
        inq[4] = 31;
        return { status: 0, data: inq.subarray(0, cmd.inLength) };
      }
      return { status: 2, sense: fixedSense(5, 0x25, 0) };
    }
    const dev = path;
    const fit = fitToEdtl(cmd, this.blockSizes.get(cmd.lun) ?? 512);
    if (fit.invalid) return { status: 2, sense: fixedSense(5, 0x0e, 0x03), overflow: fit.overflow };
    if (fit.noop) return { status: 0, overflow: fit.overflow };
    const max = dev.host.maxTransfer;
    const len = fit.dataOut ? fit.dataOut.length : fit.inLength;
    const bs = this.blockSizes.get(cmd.lun) ?? 512;
    const r =
      len > max
        ? await this.split(dev, fit, Math.floor(max / bs), bs)
        : await dev.host.execute({
            channel: dev.channel,
            id: dev.id,
            lun: dev.lun,
            cdb: fit.cdb,
            ...(fit.dataOut && fit.dataOut.length > 0
              ? { dataOut: fit.dataOut }
              : fit.inLength > 0
                ? { dataInLength: fit.inLength }
                : {}),
          });
    if (r.host !== 0) {
      // The guest's transport failed the command (host byte): no SCSI status to report, so
      // the initiator sees ABORTED COMMAND, as a SAS/FC target reports a lost nexus.
      return { status: 2, sense: fixedSense(0x0b, 0x47, 0) };
    }
    let data: Uint8Array = fit.keep >= 0 ? r.data.subarray(0, fit.keep) : r.data;
    if (r.status === 0) this.sniff(cmd, data);
    if (op === 0x12 && (cmd.cdb[1]! & 1) === 1 && cmd.cdb[2] === 0xb0 && data.length >= 12) {
      // Block Limits: no more per command than the guest's ring takes (documented difference).
      data = data.slice();
      const blocks = Math.floor(max / (this.blockSizes.get(cmd.lun) ?? 512));
      const cur = ((data[8]! << 24) | (data[9]! << 16) | (data[10]! << 8) | data[11]!) >>> 0;
      if (cur === 0 || cur > blocks) setField(data, 8, 4, blocks);
      // MAXIMUM ATOMIC TRANSFER LENGTH may not exceed MAXIMUM TRANSFER LENGTH (SBC-4 §6.6.4),
      // and an atomic write is never split.
      if (data.length >= 48 && getField(data, 44, 4) > blocks) setField(data, 44, 4, blocks);
    }
    const moved = fit.dataOut ? fit.dataOut.length - Math.min(r.residual, fit.dataOut.length) : 0;
    return {
      status: r.status,
      sense: r.sense,
      data: cmd.dataOut ? EMPTY : data,
      writeResidual: cmd.dataOut ? cmd.dataOut.length - moved : 0,
      overflow: fit.overflow,
    };
  }

  /**
   * A READ/WRITE larger than the guest's ring takes per request, as Linux's block layer splits
   * it: consecutive pieces of `chunk` blocks, stopping at the first that does not end GOOD (its
   * status and sense are the command's; the data before it is kept).
   */
  private async split(
    dev: GuestScsiDevice,
    fit: FittedCommand,
    chunk: number,
    bs: number,
  ): Promise<ScsiResult> {
    const op = fit.cdb[0]!;
    const tl = TRANSFER_LENGTH[op];
    const lbaAt = op === 0x08 || op === 0x0a ? null : 2;
    if (!tl || lbaAt === null || chunk < 1) {
      return { status: 2, host: 0, sense: fixedSense(5, 0x24, 0), residual: 0, data: EMPTY };
    }
    const [at, n] = tl;
    const lbaLen = op >= 0x88 && op <= 0x8f ? 8 : 4;
    const lba = getField(fit.cdb, lbaAt, lbaLen);
    const blocks = getField(fit.cdb, at, n);
    const parts: Uint8Array[] = [];
    let last: ScsiResult | null = null;
    for (let done = 0; done < blocks; done += chunk) {
      const count = Math.min(chunk, blocks - done);
      const cdb = fit.cdb.slice();
      setField(cdb, lbaAt, lbaLen, lba + done);
      setField(cdb, at, n, count);
      last = await dev.host.execute({
        channel: dev.channel,
        id: dev.id,
        lun: dev.lun,
        cdb,
        ...(fit.dataOut
          ? { dataOut: fit.dataOut.subarray(done * bs, (done + count) * bs) }
          : { dataInLength: count * bs }),
      });
      if (last.host !== 0 || last.status !== 0) break;
      if (!fit.dataOut) parts.push(last.data);
    }
    const data = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of parts) {
      data.set(p, o);
      o += p.length;
    }
    const total = fit.dataOut ? fit.dataOut.length : fit.inLength;
    return { ...last!, data, residual: fit.dataOut ? (last!.status === 0 ? 0 : total) : total - data.length };
  }

  /** Learn each LU's block length from the READ CAPACITY answers that pass by. */
  private sniff(cmd: TargetCommand, data: Uint8Array): void {
    const op = cmd.cdb[0];
    let bs = 0;
    if (op === 0x25 && data.length >= 8)
      bs = ((data[4]! << 24) | (data[5]! << 16) | (data[6]! << 8) | data[7]!) >>> 0;
    else if (op === 0x9e && (cmd.cdb[1]! & 0x1f) === 0x10 && data.length >= 12)
      bs = ((data[8]! << 24) | (data[9]! << 16) | (data[10]! << 8) | data[11]!) >>> 0;
    if (bs >= 512 && bs <= 65536) this.blockSizes.set(cmd.lun, bs);
  }

  /** REPORT LUNS for the whole target (SPC-4 §6.33): the export's LUN table. */
  private reportLuns(cmd: TargetCommand): TargetResult {
    const c = cmd.cdb;
    const alloc = ((c[6]! << 24) | (c[7]! << 16) | (c[8]! << 8) | c[9]!) >>> 0;
    if (alloc < 16 || c[2]! > 2) return { status: 2, sense: fixedSense(5, 0x24, 0) };
    const list = new Uint8Array(8 + 8 * this.luns.length);
    const n = this.luns.length * 8;
    list[0] = n >>> 24;
    list[1] = (n >>> 16) & 0xff;
    list[2] = (n >>> 8) & 0xff;
    list[3] = n & 0xff;
    for (const { lun } of this.luns) {
      const at = 8 + lun * 8;
      if (lun < 256) list[at + 1] = lun;
      else {
        list[at] = 0x40 | ((lun >> 8) & 0x3f);
        list[at + 1] = lun & 0xff;
      }
    }
    return { status: 0, data: list.subarray(0, Math.min(alloc, cmd.inLength)) };
  }

  private async tmf(conn: IscsiTargetConnection, req: TmfRequest): Promise<void> {
    const settle = async () => {
      // The aborted commands' completions are dropped by the connection; wait until the guest has
      // them back, so "complete" means nothing of theirs is still running below.
      await Promise.allSettled(req.aborted.map((c) => this.inFlight.get(c)).filter((p) => p !== undefined));
    };
    try {
      if (req.fn === TMF_ABORT_TASK) {
        await settle();
        req.respond(0);
        return;
      }
      // The reset goes down the session's own path (its nexus at the device).
      const resetLun = async (lun: number): Promise<boolean> => {
        if (!this.luns[lun]) return false;
        const p = this.pathFor(conn, lun);
        return p.host.reset(p.channel, p.id, p.lun);
      };
      if (req.fn === TMF_LOGICAL_UNIT_RESET) {
        if (!this.luns[req.lun]) {
          req.respond(2); // LUN does not exist
          return;
        }
        const ok = await resetLun(req.lun);
        await settle();
        req.respond(ok ? 0 : 255);
        return;
      }
      if (req.fn === TMF_TARGET_WARM_RESET || req.fn === TMF_TARGET_COLD_RESET) {
        let ok = true;
        for (const { lun } of this.luns) ok = (await resetLun(lun)) && ok;
        await settle();
        req.respond(ok ? 0 : 255);
        // TARGET COLD RESET: "in addition to TARGET WARM RESET, the target MUST terminate all of
        // its TCP connections to all initiators" (RFC 7143 §11.5.1) — after the response, which
        // `end` flushes. Each session's end is a nexus loss (see nexusLoss).
        if (ok && req.fn === TMF_TARGET_COLD_RESET) for (const s of this.sockets) s.end();
        return;
      }
      // ABORT TASK SET / CLEAR TASK SET: this session's tasks on the LUN.
      await settle();
      req.respond(0);
    } catch {
      req.respond(255);
    }
  }
}

/**
 * The LU's own names from VPD page 83h (SPC-4 §7.8.6): every designator with ASSOCIATION 00b
 * (the logical unit), as one string; "" when the device gives none.
 */
function luDesignators(page: Uint8Array): string {
  const parts: string[] = [];
  if (page.length < 4 || page[1] !== 0x83) return "";
  const end = Math.min(page.length, 4 + ((page[2]! << 8) | page[3]!));
  for (let at = 4; at + 4 <= end; ) {
    const len = page[at + 3]!;
    if (at + 4 + len > end) break;
    if (((page[at + 1]! >>> 4) & 0x03) === 0) {
      parts.push(Buffer.from(page.subarray(at, at + 4 + len)).toString("hex"));
    }
    at += 4 + len;
  }
  return parts.join(".");
}

/**
 * Group guest devices that are paths to one logical unit, as dm-multipath does: by the LU's
 * designators in VPD page 83h (the WWID). A device that reports none, or cannot be asked, is a
 * LU of its own. Groups keep the order of their first path.
 */
export async function groupPaths(devices: readonly GuestScsiDevice[]): Promise<GuestScsiDevice[][]> {
  const groups = new Map<string, GuestScsiDevice[]>();
  let anonymous = 0;
  for (const dev of devices) {
    let wwid = "";
    try {
      const r = await dev.host.execute({
        channel: dev.channel,
        id: dev.id,
        lun: dev.lun,
        cdb: Uint8Array.of(0x12, 0x01, 0x83, 0x00, 0xff, 0x00),
        dataInLength: 255,
      });
      if (r.host === 0 && r.status === 0) wwid = luDesignators(r.data);
    } catch {
      wwid = "";
    }
    const key = wwid === "" ? `\0${anonymous++}` : `${dev.type}:${wwid}`;
    const g = groups.get(key);
    if (g) g.push(dev);
    else groups.set(key, [dev]);
  }
  return [...groups.values()];
}
