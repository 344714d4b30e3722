import { xenstoreError } from "../xen/errors.js";
import { XENSTORE_ABS_PATH_MAX, XENSTORE_REL_PATH_MAX } from "./wire.js";

/**
 * Xenstore path rules (docs/misc/xenstore.txt, `is_valid_nodename` in xenstored): absolute paths
 * start with `/`, have no `//` and no trailing `/` (except the root), are at most
 * `XENSTORE_ABS_PATH_MAX` bytes, and use only `A-Za-z0-9-/_@`. A path without the leading `/`
 * sent by a domain is relative to its home, `/local/domain/<domid>`. Paths starting with `@` name
 * special watch events (`@introduceDomain`, `@releaseDomain`).
 */

const VALID_CHARS = /^[A-Za-z0-9\-/_@]*$/;

/** Whether `path` is a valid absolute node path. */
export function isValidPath(path: string): boolean {
  if (path.length === 0 || path.length > XENSTORE_ABS_PATH_MAX) return false;
  if (path.charCodeAt(0) !== 0x2f) return false;
  if (path.length > 1 && path.charCodeAt(path.length - 1) === 0x2f) return false;
  if (path.includes("//")) return false;
  return VALID_CHARS.test(path);
}

/** Whether `path` names a special watch event (`@introduceDomain`, `@releaseDomain`). */
export function isSpecialPath(path: string): boolean {
  return path.charCodeAt(0) === 0x40;
}

/** `/local/domain/<domid>`: the home of a domain, which its relative paths start from. */
export function domainPath(domid: number): string {
  return `/local/domain/${domid}`;
}

/**
 * Make `path`, as sent by `domid`, absolute: relative paths are joined to the domain's home;
 * absolute and special paths are returned unchanged. Does not validate.
 */
export function canonicalize(domid: number, path: string): string {
  if (path.length === 0 || path.charCodeAt(0) === 0x2f || isSpecialPath(path)) return path;
  return `${domainPath(domid)}/${path}`;
}

/**
 * Canonicalize and validate a node path from `domid`; throws `EINVAL` naming the path otherwise.
 * Special `@` paths are not node paths.
 */
export function checkedNodePath(domid: number, path: string): string {
  const abs = canonicalize(domid, path);
  if (!isValidPath(abs)) throw xenstoreError("EINVAL", JSON.stringify(path), "not a valid xenstore path");
  return abs;
}

/**
 * Canonicalize and validate a watch path: a node path, or a special `@` path of at most
 * `XENSTORE_REL_PATH_MAX` bytes (xenstored's `check_watch_path`).
 */
export function checkedWatchPath(domid: number, path: string): { path: string; relative: boolean } {
  if (isSpecialPath(path)) {
    if (path.length > XENSTORE_REL_PATH_MAX || !VALID_CHARS.test(path)) {
      throw xenstoreError("EINVAL", path, "not a valid special watch path");
    }
    return { path, relative: false };
  }
  const relative = path.length > 0 && path.charCodeAt(0) !== 0x2f;
  return { path: checkedNodePath(domid, path), relative };
}

/** Parent of a valid absolute path; the root is its own parent. */
export function parentPath(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash <= 0 ? "/" : path.slice(0, slash);
}

/** Last component of a valid absolute path ("" for the root). */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** `parent/name`, for a valid absolute `parent`. */
export function joinPath(parent: string, name: string): string {
  return parent === "/" ? `/${name}` : `${parent}/${name}`;
}

/** Components of a valid absolute path (`/a/b` → `["a", "b"]`, `/` → `[]`). */
export function splitPath(path: string): string[] {
  return path === "/" ? [] : path.slice(1).split("/");
}

/**
 * The components of `path` below `base` (`/a/b/c/d` below `/a/b` → `["c", "d"]`); `[]` for
 * `base` itself or a path not under it.
 */
export function partsBelow(base: string, path: string): string[] {
  if (!isChildOrSelf(path, base) || path.length === base.length) return [];
  return path
    .slice(base.length)
    .split("/")
    .filter((p) => p !== "");
}

/**
 * xenstored's `is_child`: whether `child` is `parent` or lies below it. Everything is below `/`.
 */
export function isChildOrSelf(child: string, parent: string): boolean {
  if (parent === "/") return true;
  if (!child.startsWith(parent)) return false;
  return child.length === parent.length || child.charCodeAt(parent.length) === 0x2f;
}

/**
 * The path a relative watch reports: `path` with the domain's home and the `/` after it removed
 * (xenstored's `get_watch_path`).
 */
export function relativeTo(home: string, path: string): string {
  if (!path.startsWith(home)) return path;
  const rest = path.slice(home.length);
  return rest.charCodeAt(0) === 0x2f ? rest.slice(1) : rest;
}
