import createDebug from "debug";
import { invalidArgument, xenstoreError } from "../xen/errors.js";
import { XsDbConnection, type XsDbCore } from "./db-connection.js";
import { type DumpNode, nodeFromDump, nodeToDump } from "./dump.js";
import { countNodes, forEachPostOrder, lookup, makeNode, type XsNode } from "./node.js";
import { checkedNodePath, splitPath } from "./path.js";
import { permFor, XS_PERM_NONE, XS_PERM_READ, type XsPerms } from "./perms.js";
import { DEFAULT_QUOTAS, type XsQuotas } from "./quotas.js";
import type { Transaction } from "./transaction.js";
import {
  makeDirectory,
  type OpContext,
  removeNode,
  setNodePerms,
  type TreeChange,
  type TreeState,
  writeValue,
  type XsCaller,
} from "./tree-ops.js";
import { watchMatches, watchPermitted } from "./watch.js";

const log = createDebug("pvscsi:xenstore");

/** The special watch fired when a domain is introduced. */
export const XS_INTRODUCE_DOMAIN = "@introduceDomain";
/** The special watch fired when a domain is released. */
export const XS_RELEASE_DOMAIN = "@releaseDomain";

/** Largest real domain id (`DOMID_FIRST_RESERVED - 1`); the ids above are special. */
export const DOMID_MAX_REAL = 0x7fef;

/** The domain whose connections are privileged (dom0, running the toolstack and xenstored). */
export const DOMID_PRIVILEGED = 0;

/** Told when the privileged domain introduces or releases a domain (the driver maps its ring). */
export interface XsDomainListener {
  introduced(domid: number, mfn: number, port: number): void;
  released(domid: number): void;
}

/** What the store holds right now; a test checks these drop to zero at teardown. */
export interface XsStats {
  readonly nodes: number;
  readonly connections: number;
  readonly watches: number;
  readonly transactions: number;
  readonly pendingEvents: number;
  readonly introducedDomains: number;
}

/** Options of {@link XenstoreDb}. */
export interface XenstoreDbOptions {
  /** Per-domain limits; the rest default to xenstored's. */
  readonly quotas?: Partial<XsQuotas>;
  /** A tree to start from, as {@link XenstoreDb.dump} wrote it. */
  readonly root?: DumpNode;
}

/**
 * The xenstore database: a tree of nodes with values and permissions, per-connection watches and
 * transactions, per-domain quotas, and the introduced domains. Pure and synchronous: it knows
 * nothing of rings, bytes or threads (the protocol layer and the driver wrap it), so a test can
 * drive it directly, as QEMU keeps `xenstore_impl.c` apart from the wire in `xen_xenstore.c`.
 *
 * Everything happens through a {@link XsDbConnection} made by {@link connect}: it carries the
 * caller's domain, its watches and transactions, and the queue of watch events for it.
 */
export class XenstoreDb implements XsDbCore {
  readonly quotas: XsQuotas;
  /** The live tree and node counts per owner. */
  readonly live: TreeState;
  /** Store-wide change counter. */
  private generation = 0;
  private nextConnId = 1;
  /**
   * Fault injection (the simulator's): asked at each commit of a transaction that would
   * succeed; true makes it fail with `EAGAIN` as if another writer had changed a node it read, so
   * that every caller's retry path runs. Null (the default) injects nothing.
   */
  injectConflict: ((caller: XsCaller, txId: number) => boolean) | null = null;
  /** @internal */
  readonly connections = new Set<XsDbConnection>();
  private readonly introduced = new Map<number, { mfn: number; port: number }>();
  private readonly specialPerms = new Map<string, XsPerms>([
    [XS_INTRODUCE_DOMAIN, Object.freeze([{ id: 0, perms: XS_PERM_NONE }])],
    [XS_RELEASE_DOMAIN, Object.freeze([{ id: 0, perms: XS_PERM_NONE }])],
  ]);
  /** Watches per domain, for the quota. @internal */
  readonly watchCount = new Map<number, number>();
  /** Open transactions per domain, for the quota. @internal */
  readonly txCount = new Map<number, number>();
  /** Set by the driver to map and unmap rings as domains come and go. */
  domainListener: XsDomainListener | undefined;

  constructor(options: XenstoreDbOptions = {}) {
    this.quotas = Object.freeze({ ...DEFAULT_QUOTAS, ...options.quotas });
    for (const [k, v] of Object.entries(this.quotas)) {
      if (!Number.isInteger(v) || v < 0) throw invalidArgument(`quotas.${k}`, "a non-negative integer", v);
    }
    const root = options.root === undefined ? initialTree() : nodeFromDump(options.root, "root");
    this.live = { root, owners: countOwners(root) };
  }

  /** Open a connection for `domid`; domain 0 is privileged. */
  connect(domid: number): XsDbConnection {
    if (!Number.isInteger(domid) || domid < 0 || domid > DOMID_MAX_REAL) {
      throw invalidArgument("domid", `an integer in [0, ${DOMID_MAX_REAL}]`, domid);
    }
    const conn = new XsDbConnection(this, this.nextConnId++, domid, domid === DOMID_PRIVILEGED);
    this.connections.add(conn);
    return conn;
  }

  /** The next generation. @internal */
  nextGen(): number {
    return ++this.generation;
  }

  /** A context for one operation on the live tree; changes are collected into `changes`. @internal */
  liveContext(caller: XsCaller, changes: TreeChange[]): OpContext {
    return {
      state: this.live,
      caller,
      quotas: this.quotas,
      nextGen: () => this.nextGen(),
      changed: (c) => changes.push(c),
    };
  }

  /** A context for one operation inside `tx`. @internal */
  txContext(caller: XsCaller, tx: Transaction): OpContext {
    return {
      state: tx.state,
      caller,
      quotas: this.quotas,
      nextGen: () => this.nextGen(),
      accessed: tx.accessed,
    };
  }

  /**
   * Commit `tx` for `caller`: `EAGAIN` if a node it depended on changed since it started (see
   * {@link Transaction}); otherwise replay its changes on the live tree and fire their watches.
   * If the replay fails (a quota the live store now hits), nothing is applied. @internal
   */
  commit(caller: XsCaller, tx: Transaction): void {
    const conflict = tx.conflict(this.live.root);
    if (conflict !== undefined) {
      throw xenstoreError(
        "EAGAIN",
        `transaction ${tx.id}`,
        `${conflict} changed since the transaction started`,
      );
    }
    if (this.injectConflict?.(caller, tx.id)) {
      throw xenstoreError("EAGAIN", `transaction ${tx.id}`, "a conflicting change (injected)");
    }
    if (tx.ops.length === 0) return;
    const scratch: TreeState = { root: this.live.root, owners: new Map(this.live.owners) };
    const changes: TreeChange[] = [];
    const ctx: OpContext = {
      state: scratch,
      caller,
      quotas: this.quotas,
      nextGen: () => this.nextGen(),
      changed: (c) => changes.push(c),
    };
    for (const op of tx.ops) {
      switch (op.kind) {
        case "write":
          writeValue(ctx, op.path, op.value);
          break;
        case "mkdir":
          makeDirectory(ctx, op.path);
          break;
        case "rm":
          removeNode(ctx, op.path);
          break;
        case "setPerms":
          setNodePerms(ctx, op.path, op.perms);
          break;
      }
    }
    this.live.root = scratch.root;
    this.live.owners = scratch.owners;
    this.fire(changes);
  }

  /** Queue watch events for `changes` on every connection whose watches they match. @internal */
  fire(changes: readonly TreeChange[]): void {
    for (const change of changes) {
      for (const conn of this.connections) {
        let permitted: boolean | undefined;
        for (const w of conn.watchList()) {
          if (w.path.charCodeAt(0) === 0x40 || !watchMatches(w, change)) continue;
          permitted ??= watchPermitted(conn, change);
          if (!permitted) break;
          conn.queueEvent(w, change.path);
        }
      }
    }
  }

  /** Fire a special `@` watch, for connections allowed to read its permissions. */
  private fireSpecial(name: string): void {
    const perms = this.specialPerms.get(name)!;
    for (const conn of this.connections) {
      if ((permFor(conn.domid, conn.privileged, perms) & XS_PERM_READ) === 0) continue;
      for (const w of conn.watchList()) if (w.path === name) conn.queueEvent(w, name);
    }
  }

  /** `SET_PERMS` on `@introduceDomain` / `@releaseDomain` (privileged only). @internal */
  setSpecialPerms(caller: XsCaller, name: string, perms: XsPerms): void {
    if (!this.specialPerms.has(name)) throw xenstoreError("EINVAL", name, "no such special node");
    if (!caller.privileged) throw xenstoreError("EACCES", name, "only the privileged domain may");
    this.specialPerms.set(name, perms);
  }

  /** `INTRODUCE`: start serving `domid`, whose xenstore page is `mfn` and event channel `port`. @internal */
  introduce(domid: number, mfn: number, port: number): void {
    if (domid === DOMID_PRIVILEGED || domid > DOMID_MAX_REAL) {
      throw xenstoreError("EINVAL", `domain ${domid}`, "only a real, unprivileged domain can be introduced");
    }
    const known = this.introduced.get(domid);
    if (known !== undefined) {
      if (known.mfn === mfn && known.port === port) return;
      throw xenstoreError("EEXIST", `domain ${domid}`, "already introduced with another page or port");
    }
    this.introduced.set(domid, { mfn, port });
    log("introduce dom%d mfn %d port %d", domid, mfn, port);
    this.domainListener?.introduced(domid, mfn, port);
    this.fireSpecial(XS_INTRODUCE_DOMAIN);
  }

  /** `RELEASE`: stop serving `domid`, dropping its connections, watches and transactions. @internal */
  release(domid: number): void {
    if (!this.introduced.delete(domid)) {
      throw xenstoreError("ENOENT", `domain ${domid}`, "not introduced");
    }
    log("release dom%d", domid);
    this.domainListener?.released(domid);
    for (const conn of [...this.connections]) if (conn.domid === domid) conn.close();
    this.fireSpecial(XS_RELEASE_DOMAIN);
  }

  /** `IS_DOMAIN_INTRODUCED`; the privileged domain always is. */
  isIntroduced(domid: number): boolean {
    return domid === DOMID_PRIVILEGED || this.introduced.has(domid);
  }

  /** The whole tree, or the subtree at `path`, as a JSON-able document (see `dump.ts`). */
  dump(path = "/"): DumpNode {
    const abs = checkedNodePath(DOMID_PRIVILEGED, path);
    const node = lookup(this.live.root, splitPath(abs));
    if (node === undefined) throw xenstoreError("ENOENT", path, "no such node");
    return nodeToDump(abs === "/" ? "" : abs.slice(abs.lastIndexOf("/") + 1), node);
  }

  /** Counts of everything the store holds. */
  stats(): XsStats {
    let watches = 0;
    let transactions = 0;
    let pendingEvents = 0;
    for (const c of this.connections) {
      watches += c.watchList().length;
      transactions += c.transactionCount;
      pendingEvents += c.pendingEvents;
    }
    return {
      nodes: countNodes(this.live.root),
      connections: this.connections.size,
      watches,
      transactions,
      pendingEvents,
      introducedDomains: this.introduced.size,
    };
  }

  /** Nodes owned per domain, as the node quota counts them. */
  ownedNodes(domid: number): number {
    return this.live.owners.get(domid) ?? 0;
  }
}

/** xenstored's `setup_structure`: `/`, `/tool` and `/tool/xenstored`, owned by dom0, private. */
function initialTree(): XsNode {
  const perms: XsPerms = Object.freeze([{ id: 0, perms: XS_PERM_NONE }]);
  const empty = new Uint8Array(0);
  const xenstored = makeNode(empty, perms, 0);
  const tool = makeNode(empty, perms, 0, new Map([["xenstored", xenstored]]));
  return makeNode(empty, perms, 0, new Map([["tool", tool]]));
}

function countOwners(root: XsNode): Map<number, number> {
  const owners = new Map<number, number>();
  forEachPostOrder(root, "/", (n) => {
    const id = n.perms[0]!.id;
    owners.set(id, (owners.get(id) ?? 0) + 1);
  });
  return owners;
}
