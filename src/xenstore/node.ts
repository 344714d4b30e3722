import type { XsPerms } from "./perms.js";

/**
 * One node of the store. Nodes are immutable and shared between versions of the tree: a change
 * copies only the path from the root to the changed node (copy-on-write, as QEMU's
 * `xenstore_impl.c` does), so a transaction's snapshot is just the root it started from.
 */
export interface XsNode {
  /** The value: bytes, usually ASCII without a NUL. */
  readonly value: Uint8Array;
  readonly perms: XsPerms;
  /** Children by name, in creation order (xenstored lists them that way). */
  readonly children: ReadonlyMap<string, XsNode>;
  /**
   * Generation: the store's change counter when this node's own value, permissions or list of
   * children last changed. A change below the node leaves it alone. Transactions compare it to
   * detect conflicts; `DIRECTORY_PART` reports it.
   */
  readonly gen: number;
}

const EMPTY_CHILDREN: ReadonlyMap<string, XsNode> = new Map();
/** The empty value. */
export const EMPTY_VALUE = new Uint8Array(0);

/** A new node. */
export function makeNode(
  value: Uint8Array,
  perms: XsPerms,
  gen: number,
  children: ReadonlyMap<string, XsNode> = EMPTY_CHILDREN,
): XsNode {
  return Object.freeze({ value, perms, children, gen });
}

/** The node at `components` below `root`, or undefined. */
export function lookup(root: XsNode, components: readonly string[]): XsNode | undefined {
  let node: XsNode | undefined = root;
  for (let i = 0; i < components.length && node !== undefined; i++) node = node.children.get(components[i]!);
  return node;
}

/**
 * A copy of `root` in which the node at `components` (which must exist, or its parent must, when
 * `node` is added) is `node`, or is removed when `node` is undefined. Only the ancestors are
 * copied; `parentGen`, when given, becomes the generation of the direct parent (its list of
 * children changed).
 */
export function replaceAt(
  root: XsNode,
  components: readonly string[],
  node: XsNode | undefined,
  parentGen?: number,
): XsNode {
  if (components.length === 0) {
    if (node === undefined) throw new Error("xenstore: the root cannot be removed");
    return node;
  }
  return replaceRec(root, components, 0, node, parentGen);
}

function replaceRec(
  at: XsNode,
  components: readonly string[],
  depth: number,
  node: XsNode | undefined,
  parentGen: number | undefined,
): XsNode {
  const name = components[depth]!;
  const children = new Map(at.children);
  if (depth === components.length - 1) {
    if (node === undefined) children.delete(name);
    else children.set(name, node);
    return makeNode(at.value, at.perms, parentGen ?? at.gen, children);
  }
  const child = at.children.get(name);
  if (child === undefined) throw new Error(`xenstore: no node ${components.slice(0, depth + 1).join("/")}`);
  children.set(name, replaceRec(child, components, depth + 1, node, parentGen));
  return makeNode(at.value, at.perms, at.gen, children);
}

/** Visit `node` and every node below it, children before their parent, with their paths. */
export function forEachPostOrder(node: XsNode, path: string, fn: (node: XsNode, path: string) => void): void {
  for (const [name, child] of node.children) {
    forEachPostOrder(child, path === "/" ? `/${name}` : `${path}/${name}`, fn);
  }
  fn(node, path);
}

/** Number of nodes in the subtree at `node`, itself included. */
export function countNodes(node: XsNode): number {
  let n = 1;
  for (const child of node.children.values()) n += countNodes(child);
  return n;
}
