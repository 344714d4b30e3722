import { xenstoreError } from "../xen/errors.js";
import { forEachPostOrder, lookup, makeNode, replaceAt, type XsNode } from "./node.js";
import { parentPath, splitPath } from "./path.js";
import { permFor, XS_PERM_OWNER, XS_PERM_READ, XS_PERM_WRITE, type XsPerms } from "./perms.js";
import type { XsQuotas } from "./quotas.js";

/**
 * The store's operations on one version of the tree, as xenstored's `do_read`, `do_write`,
 * `do_mkdir`, `do_rm` and `do_set_perms` do them. The same code serves the live store and a
 * transaction's private tree; the context says which, and collects what a transaction needs
 * (the paths it depended on) or what watches need (the changes). Paths are absolute and valid.
 */

/** Who asks: a domain, and whether it is privileged (dom0). */
export interface XsCaller {
  readonly domid: number;
  readonly privileged: boolean;
}

/** One version of the tree plus the node count per owning domain (for the node quota). */
export interface TreeState {
  root: XsNode;
  owners: Map<number, number>;
}

/** A change watches may fire for (xenstored's `fire_watches` arguments). */
export interface TreeChange {
  /** The changed path. */
  readonly path: string;
  /** The node as changed (for a removal, as it was), for the watchers' permission check. */
  readonly node: XsNode;
  /** Its parent, whose read permission also lets a watcher see the event. */
  readonly parent: XsNode | undefined;
  /** Fire only watches on exactly this path (nodes removed below a removed node). */
  readonly exact: boolean;
  /** Permissions before a `SET_PERMS`: a watcher that could read the node still hears of it. */
  readonly oldPerms?: XsPerms;
}

/** What an operation runs against. */
export interface OpContext {
  readonly state: TreeState;
  readonly caller: XsCaller;
  readonly quotas: XsQuotas;
  /** Next value of the store-wide change counter. */
  nextGen(): number;
  /** In a transaction: every path whose node, or absence, the outcome depends on. */
  readonly accessed?: Set<string>;
  /** Outside transactions: receives each change, for watches. */
  readonly changed?: (change: TreeChange) => void;
}

function touch(ctx: OpContext, path: string): void {
  ctx.accessed?.add(path);
}

/**
 * xenstored's `get_node`: the node at `path` if the caller has all of `need` on it. A missing node
 * is `ENOENT` only if the nearest existing ancestor would grant `need`; otherwise `EACCES`, so
 * a domain learns nothing about nodes it may not see (`errno_from_parents`).
 */
export function getNode(ctx: OpContext, path: string, need: number): XsNode {
  touch(ctx, path);
  const node = lookup(ctx.state.root, splitPath(path));
  if (node !== undefined) {
    if ((permFor(ctx.caller.domid, ctx.caller.privileged, node.perms) & need) !== need) {
      throw xenstoreError("EACCES", path, `domain ${ctx.caller.domid} lacks the permission`);
    }
    return node;
  }
  const ancestor = nearestAncestor(ctx, path);
  if ((permFor(ctx.caller.domid, ctx.caller.privileged, ancestor.perms) & need) !== 0) {
    throw xenstoreError("ENOENT", path, "no such node");
  }
  throw xenstoreError("EACCES", path, `domain ${ctx.caller.domid} lacks the permission`);
}

/** The nearest existing ancestor of a missing `path`, recording every path on the way up. */
function nearestAncestor(ctx: OpContext, path: string): XsNode {
  let p = path;
  for (;;) {
    p = parentPath(p);
    touch(ctx, p);
    const node = lookup(ctx.state.root, splitPath(p));
    if (node !== undefined) return node;
  }
}

/** `READ`: the value. */
export function readValue(ctx: OpContext, path: string): Uint8Array {
  return getNode(ctx, path, XS_PERM_READ).value;
}

/** `DIRECTORY`: the node, for its children and generation. */
export function readDirectory(ctx: OpContext, path: string): XsNode {
  return getNode(ctx, path, XS_PERM_READ);
}

/** `GET_PERMS`. */
export function readPerms(ctx: OpContext, path: string): XsPerms {
  return getNode(ctx, path, XS_PERM_READ).perms;
}

function checkValueQuota(ctx: OpContext, path: string, value: Uint8Array): void {
  if (!ctx.caller.privileged && value.length > ctx.quotas.maxValueSize) {
    throw xenstoreError(
      "ENOSPC",
      path,
      `value of ${value.length} bytes exceeds the ${ctx.quotas.maxValueSize}-byte quota`,
    );
  }
}

/** `WRITE`: store `value`, creating the node and missing parents (with empty values). */
export function writeValue(ctx: OpContext, path: string, value: Uint8Array): void {
  let node: XsNode;
  try {
    node = getNode(ctx, path, XS_PERM_WRITE);
  } catch (e) {
    if ((e as { errno?: string }).errno !== "ENOENT") throw e;
    checkValueQuota(ctx, path, value);
    createNode(ctx, path, value);
    return;
  }
  checkValueQuota(ctx, path, value);
  const updated = makeNode(value, node.perms, ctx.nextGen(), node.children);
  const comps = splitPath(path);
  ctx.state.root = replaceAt(ctx.state.root, comps, updated);
  emit(ctx, path, updated, false);
}

/** `MKDIR`: make sure the node exists; an existing one keeps its value. */
export function makeDirectory(ctx: OpContext, path: string): void {
  try {
    getNode(ctx, path, XS_PERM_WRITE);
  } catch (e) {
    if ((e as { errno?: string }).errno !== "ENOENT") throw e;
    createNode(ctx, path, new Uint8Array(0));
  }
}

/**
 * xenstored's `create_node`: create `path` and its missing ancestors. Each new node inherits its
 * parent's permissions, except that an unprivileged domain owns what it creates.
 */
function createNode(ctx: OpContext, path: string, value: Uint8Array): void {
  const comps = splitPath(path);
  // Find the nearest existing ancestor (getNode recorded the missing ones already).
  let depth = comps.length - 1;
  let ancestor = lookup(ctx.state.root, comps.slice(0, depth));
  while (ancestor === undefined) {
    depth--;
    ancestor = lookup(ctx.state.root, comps.slice(0, depth));
  }
  const created = comps.length - depth;
  const { domid, privileged } = ctx.caller;
  if (!privileged) {
    const owned = ctx.state.owners.get(domid) ?? 0;
    if (owned + created > ctx.quotas.nodesPerDomain) {
      throw xenstoreError(
        "ENOSPC",
        path,
        `domain ${domid} would own ${owned + created} nodes, over its quota of ${ctx.quotas.nodesPerDomain}`,
      );
    }
  }
  const perms: XsPerms = privileged
    ? ancestor.perms
    : Object.freeze([{ id: domid, perms: ancestor.perms[0]!.perms }, ...ancestor.perms.slice(1)]);
  const gen = ctx.nextGen();
  // Build the new chain bottom-up: the leaf holds the value, the others are empty.
  let chain = makeNode(value, perms, gen);
  for (let i = comps.length - 1; i > depth; i--) {
    chain = makeNode(new Uint8Array(0), perms, gen, new Map([[comps[i]!, chain]]));
  }
  ctx.state.root = replaceAt(ctx.state.root, comps.slice(0, depth + 1), chain, gen);
  const owner = perms[0]!.id;
  ctx.state.owners.set(owner, (ctx.state.owners.get(owner) ?? 0) + created);
  const leaf = lookup(ctx.state.root, comps)!;
  emit(ctx, path, leaf, false);
}

/**
 * `RM`: remove the node and everything below it. Removing a missing node is fine if its parent
 * exists; removing the root is `EINVAL`.
 */
export function removeNode(ctx: OpContext, path: string): void {
  let node: XsNode;
  try {
    node = getNode(ctx, path, XS_PERM_WRITE);
  } catch (e) {
    if ((e as { errno?: string }).errno !== "ENOENT") throw e;
    const parent = parentPath(path);
    touch(ctx, parent);
    if (lookup(ctx.state.root, splitPath(parent)) !== undefined) return;
    throw xenstoreError("ENOENT", path, "neither the node nor its parent exists");
  }
  if (path === "/") throw xenstoreError("EINVAL", path, "the root cannot be removed");
  const parentP = parentPath(path);
  touch(ctx, parentP);
  const parent = lookup(ctx.state.root, splitPath(parentP))!;
  // Watches at or above the path hear of the removal of the path; a watch on a node removed
  // below it hears of that node (xenstored fires these with the watch's own path).
  emit(ctx, path, node, false, undefined, parent);
  forEachPostOrder(node, path, (n, p) => {
    touch(ctx, p);
    const owner = n.perms[0]!.id;
    ctx.state.owners.set(owner, (ctx.state.owners.get(owner) ?? 1) - 1);
    if (p !== path) {
      const pp = parentPath(p);
      emit(ctx, p, n, true, undefined, lookupIn(node, path, pp));
    }
  });
  ctx.state.root = replaceAt(ctx.state.root, splitPath(path), undefined, ctx.nextGen());
}

/** The node at absolute `p` inside the subtree `sub` rooted at `subPath`. */
function lookupIn(sub: XsNode, subPath: string, p: string): XsNode | undefined {
  if (p === subPath) return sub;
  const rest = p.slice(subPath === "/" ? 1 : subPath.length + 1);
  return lookup(sub, rest.split("/"));
}

/**
 * `SET_PERMS`: only the owner or the privileged domain may, and only the privileged domain may
 * give the node a new owner (`EPERM`).
 */
export function setNodePerms(ctx: OpContext, path: string, perms: XsPerms): void {
  const { domid, privileged } = ctx.caller;
  if (!privileged && perms.length > ctx.quotas.permsPerNode) {
    throw xenstoreError(
      "ENOSPC",
      path,
      `${perms.length} permission entries exceed the quota of ${ctx.quotas.permsPerNode}`,
    );
  }
  const node = getNode(ctx, path, XS_PERM_WRITE | XS_PERM_OWNER);
  const oldOwner = node.perms[0]!.id;
  const newOwner = perms[0]!.id;
  if (!privileged && newOwner !== oldOwner) {
    throw xenstoreError("EPERM", path, `domain ${domid} may not give the node to domain ${newOwner}`);
  }
  const updated = makeNode(node.value, perms, ctx.nextGen(), node.children);
  ctx.state.root = replaceAt(ctx.state.root, splitPath(path), updated);
  if (newOwner !== oldOwner) {
    const owners = ctx.state.owners;
    owners.set(oldOwner, (owners.get(oldOwner) ?? 1) - 1);
    owners.set(newOwner, (owners.get(newOwner) ?? 0) + 1);
  }
  emit(ctx, path, updated, false, node.perms);
}

function emit(
  ctx: OpContext,
  path: string,
  node: XsNode,
  exact: boolean,
  oldPerms?: XsPerms,
  parent?: XsNode,
): void {
  if (ctx.changed === undefined) return;
  const p = parent ?? (path === "/" ? undefined : lookup(ctx.state.root, splitPath(parentPath(path))));
  ctx.changed(
    oldPerms === undefined ? { path, node, parent: p, exact } : { path, node, parent: p, exact, oldPerms },
  );
}
