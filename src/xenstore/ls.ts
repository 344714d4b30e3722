import { XenstoreError } from "../xen/errors.js";
import type { XenstoreClient } from "./client.js";
import type { XsDbConnection } from "./db-connection.js";
import type { DumpNode } from "./dump.js";
import { permsToStrings } from "./perms.js";

/**
 * `xenstore-ls`, as Xen's `tools/xs-clients/xenstore_client.c` prints it (`do_ls`), over any
 * source of nodes: a store built in process (a dump file, a test) now, a running emulator's
 * control socket later. Both only need {@link XenstoreLsSource}.
 */

/** Where `xenstore-ls` reads from. Failures throw `XenstoreError` (its `errno` is reported). */
export interface XenstoreLsSource {
  directory(path: string): Promise<string[]>;
  read(path: string): Promise<Uint8Array>;
  /** Wire form, `["n0", "r1"]`. */
  getPerms(path: string): Promise<string[]>;
}

/** A source reading through a {@link XenstoreClient} (any transport). */
export function clientLsSource(xs: XenstoreClient): XenstoreLsSource {
  return {
    directory: (p) => xs.directory(p),
    read: (p) => xs.readBytes(p),
    getPerms: async (p) => permsToStrings(await xs.getPerms(p)),
  };
}

/** A source reading a store in this thread, as the connection's domain. */
export function dbLsSource(conn: XsDbConnection): XenstoreLsSource {
  return {
    directory: async (p) => conn.directory(p),
    read: async (p) => conn.read(p),
    getPerms: async (p) => permsToStrings(conn.getPerms(p)),
  };
}

/** Options of {@link renderLs}, named after `xenstore-ls`'s flags. */
export interface LsOptions {
  /** `-p`: append each node's permissions, after a dotted leader to column 60. */
  readonly perms?: boolean;
  /** `-f`: print whole paths, never truncate. */
  readonly flat?: boolean;
  /** Line width: the terminal's columns minus 2, or 80 when not a terminal (`max_width`). */
  readonly width?: number;
}

/** Where output goes: the listing, and warnings (`warn(3)` in the C tool). */
export interface LsSink {
  out(text: string): void;
  warn(text: string): void;
}

/** `xs_sanitise_value`: printable ASCII but `\` as is; `\t \n \r \\`; other bytes `\ooo` below 8, `\xNN` above. */
export function sanitiseValue(bytes: Uint8Array): string {
  let s = "";
  for (const c of bytes) {
    if (c >= 0x20 && c <= 0x7e && c !== 0x5c) {
      s += String.fromCharCode(c);
      continue;
    }
    switch (c) {
      case 0x09:
        s += "\\t";
        break;
      case 0x0a:
        s += "\\n";
        break;
      case 0x0d:
        s += "\\r";
        break;
      case 0x5c:
        s += "\\\\";
        break;
      default:
        s += c < 8 ? `\\${c.toString(8).padStart(3, "0")}` : `\\x${c.toString(16).padStart(2, "0")}`;
    }
  }
  return s;
}

/** `TAG`, `" = \"...\""`: room kept for the value's decoration when truncating. */
const TAG_LEN = ' = "..."'.length;
/** `desired_width`: where the permission column starts. */
const DESIRED_WIDTH = 60;

/** C's `%.*s`: at most `precision` characters; a negative precision means no limit. */
function prec(s: string, precision: number): string {
  return precision < 0 ? s : s.slice(0, precision);
}

function errnoOf(e: unknown): string {
  if (e instanceof XenstoreError) return e.errno;
  throw e;
}

/**
 * Print the tree below `path` (its children, not the node itself) line by line, exactly as
 * `xenstore-ls` would: one space of indent per level, `name = "value"` (sanitised, truncated to
 * the width with `\...`), `name:` for a node whose value cannot be read, and with `perms` the
 * permission list in parentheses. A failure to list `path` itself throws; below it, a node that
 * vanished meanwhile is skipped, as in the C tool.
 */
export async function renderLs(
  source: XenstoreLsSource,
  path: string,
  options: LsOptions,
  sink: LsSink,
): Promise<void> {
  const flat = options.flat === true;
  const maxWidth = flat ? Math.floor(0x7fffffff / 2) : (options.width ?? 80);
  const desired = flat ? 0 : DESIRED_WIDTH;
  await doLs(source, path, 0, options.perms === true, flat, maxWidth, desired, sink);
}

async function doLs(
  source: XenstoreLsSource,
  path: string,
  depth: number,
  showPerms: boolean,
  flat: boolean,
  maxWidth: number,
  desired: number,
  sink: LsSink,
): Promise<void> {
  let children: string[];
  try {
    children = await source.directory(path);
  } catch (e) {
    if (depth > 0 && errnoOf(e) === "ENOENT") return;
    throw e;
  }
  for (const name of children) {
    const child = `${path}${path.endsWith("/") ? "" : "/"}${name}`;
    let line = "";
    let linewid = 0;
    if (flat) {
      line += child;
    } else {
      line += " ".repeat(depth);
      linewid = depth;
      const shown = prec(name, maxWidth - TAG_LEN - linewid);
      line += shown;
      linewid += shown.length;
    }
    let value: Uint8Array | undefined;
    try {
      value = await source.read(child);
    } catch (e) {
      errnoOf(e);
      value = undefined;
    }
    if (value === undefined) {
      line += ":\n";
    } else if (maxWidth < linewid + value.length + TAG_LEN) {
      line += ` = "${prec(sanitiseValue(value), maxWidth - TAG_LEN - linewid)}\\..."`;
    } else {
      const shown = ` = "${sanitiseValue(value)}"`;
      line += shown;
      linewid += shown.length;
      if (showPerms) {
        line += " ";
        for (linewid++; linewid < Math.min(desired, maxWidth); linewid++) line += linewid & 1 ? "." : " ";
      }
    }
    if (showPerms) {
      try {
        line += `  (${(await source.getPerms(child)).join(",")})`;
      } catch (e) {
        sink.warn(`\ncould not access permissions for ${name}: ${errnoOf(e)}\n`);
      }
    }
    sink.out(`${line}\n`);
    await doLs(source, child, depth + 1, showPerms, flat, maxWidth, desired, sink);
  }
}

/** The subtree at `path` as a {@link DumpNode} tree (`xenstore-ls --json`). */
export async function lsJson(source: XenstoreLsSource, path: string): Promise<DumpNode> {
  const name = path === "/" ? "" : path.slice(path.lastIndexOf("/") + 1);
  const value = await source.read(path);
  let text: string | undefined;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(value);
  } catch {
    text = undefined;
  }
  const children: DumpNode[] = [];
  for (const c of await source.directory(path)) {
    children.push(await lsJson(source, `${path}${path.endsWith("/") ? "" : "/"}${c}`));
  }
  return {
    name,
    ...(text !== undefined ? { value: text } : { value64: Buffer.from(value).toString("base64") }),
    perms: await source.getPerms(path),
    children,
  };
}
