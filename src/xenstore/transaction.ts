import { lookup, type XsNode } from "./node.js";
import { splitPath } from "./path.js";
import type { XsPerms } from "./perms.js";
import type { TreeState } from "./tree-ops.js";

/** A change a transaction made, replayed on the live store when it commits. */
export type TxOp =
  | { readonly kind: "write"; readonly path: string; readonly value: Uint8Array }
  | { readonly kind: "mkdir"; readonly path: string }
  | { readonly kind: "rm"; readonly path: string }
  | { readonly kind: "setPerms"; readonly path: string; readonly perms: XsPerms };

/**
 * An open transaction. It works on a private copy-on-write version of the tree that started as the
 * live root (`base`), records every path whose node or absence its operations depended on, and
 * logs its changes.
 *
 * Conflict rule (per node, like xenstored's generation counts, not QEMU's "any commit since"):
 * the commit fails with `EAGAIN` iff some node the transaction read, listed, wrote, created or
 * removed — or whose absence it relied on — has changed in the live store since the transaction
 * started. Otherwise its log is replayed on the live store, where every operation sees exactly
 * the nodes it saw in the transaction, so the result is as if the transaction had run alone at
 * commit time (serializable). A guest churning its own nodes thus never fails the toolstack's
 * transactions on other nodes, which a global rule would let it do.
 */
export class Transaction {
  readonly id: number;
  /** The live root when the transaction started. */
  readonly base: XsNode;
  /** The transaction's own version of the tree. */
  readonly state: TreeState;
  /** Paths the outcome depends on. */
  readonly accessed = new Set<string>();
  /** Changes, in order. */
  readonly ops: TxOp[] = [];

  constructor(id: number, live: TreeState) {
    this.id = id;
    this.base = live.root;
    this.state = { root: live.root, owners: new Map(live.owners) };
  }

  /** The first accessed path that changed in `liveRoot` since the start, or undefined. */
  conflict(liveRoot: XsNode): string | undefined {
    for (const path of this.accessed) {
      const comps = splitPath(path);
      const before = lookup(this.base, comps);
      const now = lookup(liveRoot, comps);
      if (before === now) continue;
      if (before === undefined || now === undefined || before.gen !== now.gen) return path;
    }
    return undefined;
  }
}
