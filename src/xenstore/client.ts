import createDebug from "debug";
import { XenstoreError, xenstoreError } from "../xen/errors.js";
import {
  decodeStrings,
  encodeMessage,
  encodeStrings,
  fromLatin1,
  latin1,
  type XsMessage,
} from "./message.js";
import { parsePerms, permsToStrings, type XsPerms } from "./perms.js";
import type { XsTransport } from "./transport.js";
import {
  XS_DIRECTORY,
  XS_ERROR,
  XS_GET_DOMAIN_PATH,
  XS_GET_PERMS,
  XS_INTRODUCE,
  XS_IS_DOMAIN_INTRODUCED,
  XS_MKDIR,
  XS_READ,
  XS_RELEASE,
  XS_RESET_WATCHES,
  XS_RM,
  XS_SET_PERMS,
  XS_TRANSACTION_END,
  XS_TRANSACTION_START,
  XS_TYPE_NAMES,
  XS_UNWATCH,
  XS_WATCH,
  XS_WATCH_EVENT,
  XS_WRITE,
} from "./wire.js";

const log = createDebug("pvscsi:xenstore:client");
const utf8 = new TextDecoder();
const encoder = new TextEncoder();

/** Called with the path of each watch event (relative if the watch was). */
export type XsWatchCallback = (path: string, watch: XsWatchHandle) => void;

/** A registered watch; {@link unwatch} removes it. */
export interface XsWatchHandle {
  readonly path: string;
  /** The token on the wire, unique within this client. */
  readonly token: string;
  unwatch(): Promise<void>;
}

/** The operations that take a transaction id, bound to one transaction (or none). */
export interface XsOps {
  read(path: string): Promise<string>;
  readBytes(path: string): Promise<Uint8Array>;
  /** The value, or undefined if the node does not exist (`ENOENT`). */
  tryRead(path: string): Promise<string | undefined>;
  write(path: string, value: string | Uint8Array): Promise<void>;
  mkdir(path: string): Promise<void>;
  rm(path: string): Promise<void>;
  directory(path: string): Promise<string[]>;
  getPerms(path: string): Promise<XsPerms>;
  setPerms(path: string, perms: XsPerms | readonly string[]): Promise<void>;
}

/** Options of {@link XenstoreClient}. */
export interface XenstoreClientOptions {
  /**
   * Attempts of {@link XenstoreClient.transaction} before its `EAGAIN` is passed on. Bounded so
   * that a store under constant conflicting change cannot keep a caller looping forever. Default 16.
   */
  readonly maxTransactionAttempts?: number;
}

interface Pending {
  readonly what: string;
  resolve(payload: Uint8Array): void;
  reject(e: Error): void;
}

/**
 * The xenstore client every domain's code uses (Linux's `xenbus_xs.c`): requests matched to replies
 * by `req_id`, watch events dispatched to callbacks by token, and transactions retried on
 * `EAGAIN`. It speaks only through an {@link XsTransport}, so the same code runs over a guest's
 * ring page or in process next to xenstored. Failures reject with `XenstoreError` (`errno` is the
 * name xenstored sent).
 */
export class XenstoreClient implements XsOps {
  readonly transport: XsTransport;
  private readonly maxAttempts: number;
  private nextReqId = 1;
  private nextToken = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly watches = new Map<string, { handle: XsWatchHandle; callback: XsWatchCallback }>();
  private closedReason: string | undefined;
  private readonly none: XsOps;

  constructor(transport: XsTransport, options: XenstoreClientOptions = {}) {
    this.transport = transport;
    this.maxAttempts = options.maxTransactionAttempts ?? 16;
    transport.onMessage = (m) => this.onMessage(m);
    transport.onClose = (reason) => this.shutDown(reason);
    this.none = this.ops(0);
  }

  /** Requests sent and not yet answered. */
  get pendingRequests(): number {
    return this.pending.size;
  }

  /** Watches registered through this client. */
  get watchCount(): number {
    return this.watches.size;
  }

  read(path: string): Promise<string> {
    return this.none.read(path);
  }
  readBytes(path: string): Promise<Uint8Array> {
    return this.none.readBytes(path);
  }
  tryRead(path: string): Promise<string | undefined> {
    return this.none.tryRead(path);
  }
  write(path: string, value: string | Uint8Array): Promise<void> {
    return this.none.write(path, value);
  }
  mkdir(path: string): Promise<void> {
    return this.none.mkdir(path);
  }
  rm(path: string): Promise<void> {
    return this.none.rm(path);
  }
  directory(path: string): Promise<string[]> {
    return this.none.directory(path);
  }
  getPerms(path: string): Promise<XsPerms> {
    return this.none.getPerms(path);
  }
  setPerms(path: string, perms: XsPerms | readonly string[]): Promise<void> {
    return this.none.setPerms(path, perms);
  }

  /**
   * Watch `path`: `callback` runs once soon after registration, then for every change at or below
   * it that this domain may see.
   */
  async watch(path: string, callback: XsWatchCallback): Promise<XsWatchHandle> {
    const token = `pvscsi-${this.nextToken++}`;
    const handle: XsWatchHandle = {
      path,
      token,
      unwatch: async () => {
        if (!this.watches.delete(token)) return;
        await this.request(XS_UNWATCH, encodeStrings([path, token]), 0, path);
      },
    };
    // Registered before the request: the first event may arrive right behind the reply.
    this.watches.set(token, { handle, callback });
    try {
      await this.request(XS_WATCH, encodeStrings([path, token]), 0, path);
    } catch (e) {
      this.watches.delete(token);
      throw e;
    }
    return handle;
  }

  /** `RESET_WATCHES`: drop all watches and transactions of this connection. */
  async resetWatches(): Promise<void> {
    this.watches.clear();
    await this.request(XS_RESET_WATCHES, new Uint8Array(1), 0, "RESET_WATCHES");
  }

  /** `TRANSACTION_START`. Prefer {@link transaction}, which retries. */
  async transactionStart(): Promise<number> {
    const payload = await this.request(XS_TRANSACTION_START, new Uint8Array(1), 0, "TRANSACTION_START");
    return Number(decodeStrings(payload)[0]);
  }

  /** `TRANSACTION_END`: commit (`EAGAIN` on conflict) or abort. */
  async transactionEnd(txId: number, commit: boolean): Promise<void> {
    await this.request(XS_TRANSACTION_END, encodeStrings([commit ? "T" : "F"]), txId, "TRANSACTION_END");
  }

  /** The operations bound to transaction `txId`. */
  inTransaction(txId: number): XsOps {
    return this.ops(txId);
  }

  /**
   * Run `body` in a transaction and commit it, starting over on `EAGAIN` (up to
   * `maxTransactionAttempts` times). If `body` throws, the transaction is aborted and the error
   * passed on. `body` may run more than once, so it should only act through `tx`.
   */
  async transaction<T>(body: (tx: XsOps) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const id = await this.transactionStart();
      let result: T;
      try {
        result = await body(this.ops(id));
      } catch (e) {
        await this.transactionEnd(id, false).catch(() => undefined);
        throw e;
      }
      try {
        await this.transactionEnd(id, true);
        return result;
      } catch (e) {
        if (!(e instanceof XenstoreError) || e.errno !== "EAGAIN" || attempt >= this.maxAttempts) throw e;
        log("transaction %d conflicted, attempt %d", id, attempt);
      }
    }
  }

  /** `GET_DOMAIN_PATH`. */
  async getDomainPath(domid: number): Promise<string> {
    return decodeStrings(
      await this.request(XS_GET_DOMAIN_PATH, encodeStrings([String(domid)]), 0, "GET_DOMAIN_PATH"),
    )[0]!;
  }

  /** `INTRODUCE` (dom0 only). */
  async introduce(domid: number, mfn: number, port: number): Promise<void> {
    await this.request(
      XS_INTRODUCE,
      encodeStrings([String(domid), String(mfn), String(port)]),
      0,
      "INTRODUCE",
    );
  }

  /** `RELEASE` (dom0 only). */
  async release(domid: number): Promise<void> {
    await this.request(XS_RELEASE, encodeStrings([String(domid)]), 0, "RELEASE");
  }

  /** `IS_DOMAIN_INTRODUCED` (dom0 only). */
  async isDomainIntroduced(domid: number): Promise<boolean> {
    const p = await this.request(
      XS_IS_DOMAIN_INTRODUCED,
      encodeStrings([String(domid)]),
      0,
      "IS_DOMAIN_INTRODUCED",
    );
    return decodeStrings(p)[0] === "T";
  }

  /** Close the transport; pending requests fail and watches stop. */
  close(): void {
    this.transport.close();
    this.shutDown("closed");
  }

  /** Send a raw request (tests use it to send what the typed calls would refuse to). */
  request(type: number, payload: Uint8Array, txId: number, what: string): Promise<Uint8Array> {
    if (this.closedReason !== undefined) {
      return Promise.reject(xenstoreError("EIO", what, `connection closed: ${this.closedReason}`));
    }
    let reqId = this.nextReqId;
    while (reqId === 0 || this.pending.has(reqId)) reqId = (reqId + 1) >>> 0;
    this.nextReqId = (reqId + 1) >>> 0;
    const label = `${XS_TYPE_NAMES[type] ?? type} ${what}`;
    const p = new Promise<Uint8Array>((resolve, reject) =>
      this.pending.set(reqId, { what: label, resolve, reject }),
    );
    this.transport.send(encodeMessage(type, reqId, txId, payload));
    return p;
  }

  private ops(tx: number): XsOps {
    const req = (type: number, payload: Uint8Array, path: string) => this.request(type, payload, tx, path);
    const readBytes = (path: string) => req(XS_READ, encodeStrings([path]), path);
    return {
      readBytes,
      read: async (path) => utf8.decode(await readBytes(path)),
      tryRead: async (path) => {
        try {
          return utf8.decode(await readBytes(path));
        } catch (e) {
          if (e instanceof XenstoreError && e.errno === "ENOENT") return undefined;
          throw e;
        }
      },
      write: async (path, value) => {
        const v = typeof value === "string" ? encoder.encode(value) : value;
        const p = latin1(path);
        const payload = new Uint8Array(p.length + 1 + v.length);
        payload.set(p, 0);
        payload.set(v, p.length + 1);
        await req(XS_WRITE, payload, path);
      },
      mkdir: async (path) => void (await req(XS_MKDIR, encodeStrings([path]), path)),
      rm: async (path) => void (await req(XS_RM, encodeStrings([path]), path)),
      directory: async (path) => decodeStrings(await req(XS_DIRECTORY, encodeStrings([path]), path)),
      getPerms: async (path) =>
        parsePerms(decodeStrings(await req(XS_GET_PERMS, encodeStrings([path]), path))),
      setPerms: async (path, perms) => {
        const strings = perms.map((p) => (typeof p === "string" ? p : permsToStrings([p])[0]!));
        await req(XS_SET_PERMS, encodeStrings([path, ...strings]), path);
      },
    };
  }

  private onMessage(m: XsMessage): void {
    if (m.type === XS_WATCH_EVENT) {
      const [path, token] = decodeStrings(m.payload);
      const w = token === undefined ? undefined : this.watches.get(token);
      if (w === undefined || path === undefined) return; // unwatched meanwhile, or junk
      try {
        w.callback(path, w.handle);
      } catch (e) {
        log("watch callback for %s threw %O", w.handle.path, e);
      }
      return;
    }
    const p = this.pending.get(m.reqId);
    if (p === undefined) {
      log("reply to unknown req_id %d ignored", m.reqId);
      return;
    }
    this.pending.delete(m.reqId);
    if (m.type === XS_ERROR) {
      const errno = decodeStrings(m.payload)[0] ?? fromLatin1(m.payload);
      p.reject(xenstoreError(errno, p.what, "refused by xenstored"));
    } else {
      p.resolve(m.payload);
    }
  }

  private shutDown(reason: string): void {
    if (this.closedReason !== undefined) return;
    this.closedReason = reason;
    for (const p of this.pending.values())
      p.reject(xenstoreError("EIO", p.what, `connection closed: ${reason}`));
    this.pending.clear();
    this.watches.clear();
  }
}
