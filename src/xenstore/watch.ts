import type { XsNode } from "./node.js";
import { isChildOrSelf, relativeTo } from "./path.js";
import { permFor, XS_PERM_READ } from "./perms.js";
import type { TreeChange, XsCaller } from "./tree-ops.js";

/** A watch one connection holds: `path` (absolute, or `@special`) and the client's `token`. */
export interface XsWatch {
  readonly path: string;
  readonly token: string;
  /** Set for a watch registered with a relative path: events then report relative paths. */
  readonly home: string | undefined;
}

/** An event for a watch, as `XS_WATCH_EVENT` carries it: the changed path and the token. */
export interface XsWatchEvent {
  readonly path: string;
  readonly token: string;
}

/** Whether `change` fires `watch` (xenstored's `fire_watches`: `is_child`, or exact match). */
export function watchMatches(watch: XsWatch, change: TreeChange): boolean {
  return change.exact ? watch.path === change.path : isChildOrSelf(change.path, watch.path);
}

/** The path the event reports to the watch's owner: relative if the watch was. */
export function eventPath(watch: XsWatch, path: string): string {
  return watch.home === undefined ? path : relativeTo(watch.home, path);
}

/**
 * xenstored's `watch_permitted`: a watcher hears of a change only if it may read the node, or its
 * parent (so a removal stays visible), or could read it before a permission change.
 */
export function watchPermitted(who: XsCaller, change: TreeChange): boolean {
  if (who.privileged) return true;
  if (change.oldPerms !== undefined && (permFor(who.domid, false, change.oldPerms) & XS_PERM_READ) !== 0) {
    return true;
  }
  if ((permFor(who.domid, false, change.node.perms) & XS_PERM_READ) !== 0) return true;
  const parent: XsNode | undefined = change.parent;
  return parent !== undefined && (permFor(who.domid, false, parent.perms) & XS_PERM_READ) !== 0;
}
