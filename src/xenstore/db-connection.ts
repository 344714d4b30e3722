import { TraceKind } from "../trace/trace-buffer.js";
import { tracer } from "../trace/tracer.js";
import { xenstoreError } from "../xen/errors.js";
import { canonicalize, checkedNodePath, checkedWatchPath, domainPath, isSpecialPath } from "./path.js";
import type { XsPerms } from "./perms.js";
import type { XsQuotas } from "./quotas.js";
import { Transaction } from "./transaction.js";
import {
  makeDirectory,
  type OpContext,
  readDirectory,
  readPerms,
  readValue,
  removeNode,
  setNodePerms,
  type TreeChange,
  type TreeState,
  writeValue,
  type XsCaller,
} from "./tree-ops.js";
import { eventPath, type XsWatch, type XsWatchEvent } from "./watch.js";

const decoder = new TextDecoder("latin1");

const encoder = new TextEncoder();

/**
 * What a connection needs of the database that made it: the part of `XenstoreDb` it calls. An
 * interface, so that the connection does not import the database that imports it (as tinybench's
 * `BenchLike` decouples a task from its bench).
 */
export interface XsDbCore {
  readonly quotas: XsQuotas;
  readonly live: TreeState;
  readonly connections: Set<XsDbConnection>;
  readonly watchCount: Map<number, number>;
  readonly txCount: Map<number, number>;
  liveContext(caller: XsCaller, changes: TreeChange[]): OpContext;
  txContext(caller: XsCaller, tx: Transaction): OpContext;
  commit(caller: XsCaller, tx: Transaction): void;
  fire(changes: readonly TreeChange[]): void;
  setSpecialPerms(caller: XsCaller, name: string, perms: XsPerms): void;
  introduce(domid: number, mfn: number, port: number): void;
  release(domid: number): void;
  isIntroduced(domid: number): boolean;
}

/**
 * One client of the store: a domain's ring, or an in-process client of dom0. It carries the
 * caller's identity, its watches, its open transactions (ids are per connection, never 0) and the
 * bounded queue of watch events waiting to be sent. Every operation takes a transaction id; 0
 * means none. Failures throw `XenstoreError` with the errno xenstored would send.
 */
export class XsDbConnection implements XsCaller {
  readonly id: number;
  readonly domid: number;
  readonly privileged: boolean;
  /** `/local/domain/<domid>`: what relative paths are relative to. */
  readonly home: string;
  /** Watch events dropped because the queue was full (see `XsQuotas.pendingEventsPerConnection`). */
  droppedEvents = 0;
  /** Called when an event is queued, so the transport can send it. */
  onWatchEvent: (() => void) | undefined;

  private readonly db: XsDbCore;
  private readonly watches: XsWatch[] = [];
  private readonly transactions = new Map<number, Transaction>();
  private nextTxId = 1;
  private readonly events: XsWatchEvent[] = [];
  private eventHead = 0;
  private closed = false;

  /** @internal Use `XenstoreDb.connect`. */
  constructor(db: XsDbCore, id: number, domid: number, privileged: boolean) {
    this.db = db;
    this.id = id;
    this.domid = domid;
    this.privileged = privileged;
    this.home = domainPath(domid);
  }

  /** Whether {@link close} was called (or the domain was released). */
  get isClosed(): boolean {
    return this.closed;
  }

  /** `READ`: a copy of the value. */
  read(path: string, txId = 0): Uint8Array {
    return readValue(this.context(txId).ctx, checkedNodePath(this.domid, path)).slice();
  }

  /** `WRITE`: strings are stored as UTF-8; bytes are copied (the store's nodes are immutable). */
  write(path: string, value: Uint8Array | string, txId = 0): void {
    const bytes = typeof value === "string" ? encoder.encode(value) : value.slice();
    const abs = checkedNodePath(this.domid, path);
    this.mutate(txId, (ctx) => writeValue(ctx, abs, bytes), { kind: "write", path: abs, value: bytes });
    const t = tracer;
    if (t !== null)
      t.record(
        TraceKind.XenstoreWrite,
        this.domid,
        t.intern(abs),
        t.intern(decoder.decode(bytes.subarray(0, 128))),
      );
  }

  /** `MKDIR`. */
  mkdir(path: string, txId = 0): void {
    const abs = checkedNodePath(this.domid, path);
    this.mutate(txId, (ctx) => makeDirectory(ctx, abs), { kind: "mkdir", path: abs });
  }

  /** `RM`. */
  rm(path: string, txId = 0): void {
    const abs = checkedNodePath(this.domid, path);
    this.mutate(txId, (ctx) => removeNode(ctx, abs), { kind: "rm", path: abs });
  }

  /** `DIRECTORY`: names of the children, in creation order. */
  directory(path: string, txId = 0): string[] {
    return [...readDirectory(this.context(txId).ctx, checkedNodePath(this.domid, path)).children.keys()];
  }

  /** The children and the node's generation, for `DIRECTORY_PART`. */
  directoryWithGeneration(path: string, txId = 0): { gen: number; children: string[] } {
    const node = readDirectory(this.context(txId).ctx, checkedNodePath(this.domid, path));
    return { gen: node.gen, children: [...node.children.keys()] };
  }

  /** `GET_PERMS`. */
  getPerms(path: string, txId = 0): XsPerms {
    return readPerms(this.context(txId).ctx, checkedNodePath(this.domid, path));
  }

  /** `SET_PERMS`; `@introduceDomain` and `@releaseDomain` take permissions too (privileged only). */
  setPerms(path: string, perms: XsPerms, txId = 0): void {
    if (perms.length === 0) throw xenstoreError("EINVAL", path, "at least the owner entry is needed");
    if (isSpecialPath(path)) {
      this.db.setSpecialPerms(this, path, perms);
      return;
    }
    const abs = checkedNodePath(this.domid, path);
    this.mutate(txId, (ctx) => setNodePerms(ctx, abs, perms), { kind: "setPerms", path: abs, perms });
  }

  /**
   * `WATCH`: fire once now, then on every change at or below `path` this connection may see.
   * A relative path gets relative event paths. Same path and token twice is `EEXIST`.
   */
  watch(path: string, token: string): void {
    this.checkOpen();
    const checked = checkedWatchPath(this.domid, path);
    for (const w of this.watches) {
      if (w.path === checked.path && w.token === token) {
        throw xenstoreError("EEXIST", path, `already watched with token ${JSON.stringify(token)}`);
      }
    }
    const held = this.db.watchCount.get(this.domid) ?? 0;
    if (!this.privileged && held >= this.db.quotas.watchesPerDomain) {
      throw xenstoreError("E2BIG", path, `domain ${this.domid} holds its quota of ${held} watches`);
    }
    const w: XsWatch = Object.freeze({
      path: checked.path,
      token,
      home: checked.relative ? this.home : undefined,
    });
    this.watches.push(w);
    this.db.watchCount.set(this.domid, held + 1);
    this.queueEvent(w, w.path);
  }

  /** `UNWATCH`: `ENOENT` if no such watch. */
  unwatch(path: string, token: string): void {
    this.checkOpen();
    const abs = canonicalize(this.domid, path);
    const i = this.watches.findIndex((w) => w.path === abs && w.token === token);
    if (i < 0) throw xenstoreError("ENOENT", path, `no watch with token ${JSON.stringify(token)}`);
    this.watches.splice(i, 1);
    this.db.watchCount.set(this.domid, (this.db.watchCount.get(this.domid) ?? 1) - 1);
  }

  /** `RESET_WATCHES`: drop every watch and transaction of this connection. */
  resetWatches(): void {
    this.dropWatches();
    this.dropTransactions();
  }

  /** Back to a fresh connection: no watches, transactions or queued events (ring reconnection). */
  reset(): void {
    this.resetWatches();
    this.events.length = 0;
    this.eventHead = 0;
  }

  /** `TRANSACTION_START`: a new transaction id. */
  transactionStart(): number {
    this.checkOpen();
    const open = this.db.txCount.get(this.domid) ?? 0;
    if (!this.privileged && open >= this.db.quotas.transactionsPerDomain) {
      throw xenstoreError("ENOSPC", "transaction", `domain ${this.domid} has its quota of ${open} open`);
    }
    let id = this.nextTxId;
    while (id === 0 || this.transactions.has(id)) id = (id + 1) >>> 0;
    this.nextTxId = (id + 1) >>> 0;
    this.transactions.set(id, new Transaction(id, this.db.live));
    this.db.txCount.set(this.domid, open + 1);
    return id;
  }

  /**
   * `TRANSACTION_END`: commit (`EAGAIN` on a conflict) or abort. Either way the id is gone
   * afterwards; an unknown id is `ENOENT`.
   */
  transactionEnd(txId: number, commit: boolean): void {
    this.checkOpen();
    const tx = this.transactions.get(txId);
    if (tx === undefined) throw xenstoreError("ENOENT", `transaction ${txId}`, "no such transaction");
    this.transactions.delete(txId);
    this.db.txCount.set(this.domid, (this.db.txCount.get(this.domid) ?? 1) - 1);
    if (commit) this.db.commit(this, tx);
  }

  /** Whether `txId` names an open transaction of this connection. */
  hasTransaction(txId: number): boolean {
    return this.transactions.has(txId);
  }

  /** Open transactions. */
  get transactionCount(): number {
    return this.transactions.size;
  }

  /** `GET_DOMAIN_PATH`. */
  getDomainPath(domid: number): string {
    return domainPath(domid);
  }

  /** `INTRODUCE` (privileged only). */
  introduce(domid: number, mfn: number, port: number): void {
    this.checkPrivileged("INTRODUCE");
    this.db.introduce(domid, mfn, port);
  }

  /** `RELEASE` (privileged only). */
  release(domid: number): void {
    this.checkPrivileged("RELEASE");
    this.db.release(domid);
  }

  /** `IS_DOMAIN_INTRODUCED` (privileged only). */
  isDomainIntroduced(domid: number): boolean {
    this.checkPrivileged("IS_DOMAIN_INTRODUCED");
    return this.db.isIntroduced(domid);
  }

  /** The watches this connection holds, oldest first. */
  watchList(): readonly XsWatch[] {
    return this.watches;
  }

  /** Watch events waiting to be taken. */
  get pendingEvents(): number {
    return this.events.length - this.eventHead;
  }

  /** The oldest waiting watch event, removed from the queue. */
  takeEvent(): XsWatchEvent | undefined {
    if (this.eventHead === this.events.length) return undefined;
    const e = this.events[this.eventHead++]!;
    if (this.eventHead === this.events.length) {
      this.events.length = 0;
      this.eventHead = 0;
    }
    return e;
  }

  /** Queue an event for watch `w` about `path`; dropped and counted past the quota. @internal */
  queueEvent(w: XsWatch, path: string): void {
    if (this.closed) return;
    if (this.pendingEvents >= this.db.quotas.pendingEventsPerConnection) {
      this.droppedEvents++;
      return;
    }
    this.events.push({ path: eventPath(w, path), token: w.token });
    this.onWatchEvent?.();
  }

  /** Drop everything this connection holds and leave the store. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.dropWatches();
    this.dropTransactions();
    this.events.length = 0;
    this.eventHead = 0;
    this.closed = true;
    this.db.connections.delete(this);
  }

  private dropWatches(): void {
    if (this.watches.length === 0) return;
    this.db.watchCount.set(this.domid, (this.db.watchCount.get(this.domid) ?? 0) - this.watches.length);
    this.watches.length = 0;
  }

  private dropTransactions(): void {
    if (this.transactions.size === 0) return;
    this.db.txCount.set(this.domid, (this.db.txCount.get(this.domid) ?? 0) - this.transactions.size);
    this.transactions.clear();
  }

  private checkOpen(): void {
    if (this.closed) throw xenstoreError("EINVAL", `connection ${this.id}`, "closed");
  }

  private checkPrivileged(what: string): void {
    this.checkOpen();
    if (!this.privileged) throw xenstoreError("EACCES", what, `domain ${this.domid} is not privileged`);
  }

  private context(txId: number): { ctx: OpContext; tx: Transaction | undefined; changes: TreeChange[] } {
    this.checkOpen();
    const changes: TreeChange[] = [];
    if (txId === 0) return { ctx: this.db.liveContext(this, changes), tx: undefined, changes };
    const tx = this.transactions.get(txId);
    if (tx === undefined) throw xenstoreError("ENOENT", `transaction ${txId}`, "no such transaction");
    const limit = this.db.quotas.nodesPerTransaction;
    if (!this.privileged && (tx.accessed.size >= limit || tx.ops.length >= limit)) {
      throw xenstoreError("ENOSPC", `transaction ${txId}`, `touches its quota of ${limit} nodes or changes`);
    }
    return { ctx: this.db.txContext(this, tx), tx, changes };
  }

  private mutate(txId: number, op: (ctx: OpContext) => void, record: Transaction["ops"][number]): void {
    const { ctx, tx, changes } = this.context(txId);
    op(ctx);
    if (tx !== undefined) tx.ops.push(record);
    else this.db.fire(changes);
  }
}
