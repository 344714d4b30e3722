import { configError } from "../xen/errors.js";
import { makeNode, type XsNode } from "./node.js";
import { parsePerms, permsToStrings } from "./perms.js";

/**
 * The JSON form of a store or subtree, as `XenstoreDb.dump()` writes it and `pvscsi xenstore-ls
 * --from` and `--json` read and print it. Children are an array so their order (creation order,
 * as xenstored lists them) survives JSON, where numeric-looking keys would be reordered. A value
 * is `value` when it is valid UTF-8, otherwise `value64` (base64) so any bytes round-trip.
 *
 * @example { "name": "", "value": "", "perms": ["n0"], "children": [
 *   { "name": "tool", "value": "", "perms": ["n0"], "children": [] } ] }
 */
export interface DumpNode {
  readonly name: string;
  readonly value?: string;
  readonly value64?: string;
  /** Wire form: `["n0", "r1"]`. */
  readonly perms: readonly string[];
  /** Omitted in a hand-written dump: no children. */
  readonly children?: readonly DumpNode[];
}

/** A whole dump file: the format's name and version around the root. */
export interface DumpFile {
  readonly format: typeof DUMP_FORMAT;
  readonly version: 1;
  readonly root: DumpNode;
}

/** `format` of a dump file. */
export const DUMP_FORMAT = "pvscsi-xenstore-dump";

const utf8 = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/** `node` named `name` as a dump. */
export function nodeToDump(name: string, node: XsNode): DumpNode {
  const children: DumpNode[] = [];
  for (const [n, child] of node.children) children.push(nodeToDump(n, child));
  let text: string | undefined;
  try {
    text = utf8.decode(node.value);
  } catch {
    text = undefined;
  }
  const value =
    text !== undefined ? { value: text } : { value64: Buffer.from(node.value).toString("base64") };
  return { name, ...value, perms: permsToStrings(node.perms), children };
}

/**
 * A node from a dump, validating every field; `where` names the place in the document for errors
 * (`root.children[2]`).
 */
export function nodeFromDump(d: unknown, where: string): XsNode {
  if (typeof d !== "object" || d === null) throw configError(where, "expected a node object");
  const o = d as Record<string, unknown>;
  if (typeof o.name !== "string") throw configError(`${where}.name`, "expected a string");
  let value: Uint8Array;
  if (typeof o.value === "string") value = encoder.encode(o.value);
  else if (typeof o.value64 === "string") value = new Uint8Array(Buffer.from(o.value64, "base64"));
  else if (o.value === undefined && o.value64 === undefined) value = new Uint8Array(0);
  else throw configError(`${where}.value`, "expected a string");
  if (!Array.isArray(o.perms) || !o.perms.every((p) => typeof p === "string")) {
    throw configError(`${where}.perms`, 'expected an array of permission strings like ["n0", "r1"]');
  }
  let perms: ReturnType<typeof parsePerms>;
  try {
    perms = parsePerms(o.perms as string[]);
  } catch (e) {
    throw configError(`${where}.perms`, (e as Error).message);
  }
  const children = new Map<string, XsNode>();
  if (o.children !== undefined) {
    if (!Array.isArray(o.children)) throw configError(`${where}.children`, "expected an array");
    o.children.forEach((c, i) => {
      const at = `${where}.children[${i}]`;
      const name = (c as { name?: unknown } | null)?.name;
      if (typeof name !== "string" || !/^[A-Za-z0-9\-_@]+$/.test(name)) {
        throw configError(`${at}.name`, "expected a path component of A-Z a-z 0-9 - _ @");
      }
      if (children.has(name)) throw configError(`${at}.name`, `duplicate child ${JSON.stringify(name)}`);
      children.set(name, nodeFromDump(c, at));
    });
  }
  return makeNode(value, perms, 0, children);
}

/** Wrap a root node as a dump file. */
export function dumpFile(root: DumpNode): DumpFile {
  return { format: DUMP_FORMAT, version: 1, root };
}

/** Check a parsed dump file (`source` names it in errors) and return its root. */
export function rootOfDumpFile(doc: unknown, source: string): DumpNode {
  const o = doc as Partial<DumpFile> | null;
  if (typeof o === "object" && o !== null && o.format === undefined && isDumpNodeShape(o)) {
    // What `pvscsi xenstore-ls --json` prints: a bare tree. Only the whole store can be a root.
    const n = o as DumpNode;
    if (n.name !== "") {
      throw configError(
        source,
        `holds the subtree '${n.name}', not a whole store; write one with 'pvscsi xenstore-ls --json / > FILE'`,
      );
    }
    return n;
  }
  if (typeof o !== "object" || o === null || o.format !== DUMP_FORMAT) {
    throw configError(
      source,
      `not a xenstore dump (expected "format": "${DUMP_FORMAT}", or the output of 'pvscsi xenstore-ls --json /')`,
    );
  }
  if (o.version !== 1) throw configError(source, `unsupported dump version ${String(o.version)}, expected 1`);
  if (o.root === undefined) throw configError(source, 'missing "root"');
  return o.root;
}

/** Whether `o` looks like a {@link DumpNode} (a name and perms); its contents are checked on load. */
function isDumpNodeShape(o: object): boolean {
  const n = o as { name?: unknown; perms?: unknown };
  return typeof n.name === "string" && Array.isArray(n.perms);
}
