import { xenstoreError } from "../xen/errors.js";

/**
 * Node permissions (docs/misc/xenstore.txt "GET_PERMS", xenstored's `perm_for_conn`). A node
 * carries a list of `(domid, access)` entries: the first names the owner, and its access is what
 * every domain not listed gets; later entries grant or deny one domain each. The owner and a
 * privileged domain (dom0) may do anything.
 */

/** `XS_PERM_NONE`. */
export const XS_PERM_NONE = 0;
/** `XS_PERM_READ`. */
export const XS_PERM_READ = 1;
/** `XS_PERM_WRITE`. */
export const XS_PERM_WRITE = 2;
/** Both, written `b`. */
export const XS_PERM_BOTH = XS_PERM_READ | XS_PERM_WRITE;
/** Internal: the caller owns the node (may change its permissions). */
export const XS_PERM_OWNER = 8;

/** One permission entry, as `n<domid>`, `r<domid>`, `w<domid>` or `b<domid>` on the wire. */
export interface XsPerm {
  readonly id: number;
  /** `XS_PERM_NONE`, `XS_PERM_READ`, `XS_PERM_WRITE` or `XS_PERM_BOTH`. */
  readonly perms: number;
}

/** A node's permission list: never empty; entry 0 is the owner and the default. */
export type XsPerms = readonly XsPerm[];

/** Largest domain id a permission may name (`domid_t` is 16 bits). */
const DOMID_MAX = 0xffff;

const LETTERS = ["n", "r", "w", "b"] as const;

/** `xs_perm_to_string`: `{id: 1, perms: XS_PERM_READ}` → `"r1"`. */
export function permToString(p: XsPerm): string {
  return `${LETTERS[p.perms & XS_PERM_BOTH]}${p.id}`;
}

/** `xs_strings_to_perms` for one entry; throws `EINVAL` on anything but `[nrwb]<domid>`. */
export function parsePerm(s: string): XsPerm {
  const letter = LETTERS.indexOf(s.charAt(0) as (typeof LETTERS)[number]);
  const digits = s.slice(1);
  if (letter < 0 || !/^[0-9]{1,5}$/.test(digits) || Number(digits) > DOMID_MAX) {
    throw xenstoreError("EINVAL", s, "a permission is one of n, r, w, b followed by a domain id");
  }
  return Object.freeze({ id: Number(digits), perms: letter });
}

/** Parse a whole list (`["n0", "r1"]`); throws `EINVAL` if it is empty or an entry is malformed. */
export function parsePerms(list: readonly string[]): XsPerms {
  if (list.length === 0) throw xenstoreError("EINVAL", "permissions", "at least the owner entry is needed");
  return Object.freeze(list.map(parsePerm));
}

/** The wire form of a list (`["n0", "r1"]`). */
export function permsToStrings(perms: XsPerms): string[] {
  return perms.map(permToString);
}

/**
 * `perm_for_conn`: what `domid` may do on a node with `perms`. The privileged domain and the owner
 * get read, write and owner rights; otherwise the first entry after the owner naming `domid`
 * decides, and failing that the owner entry's access is the default.
 */
export function permFor(domid: number, privileged: boolean, perms: XsPerms): number {
  const owner = perms[0]!;
  if (privileged || owner.id === domid) return XS_PERM_BOTH | XS_PERM_OWNER;
  for (let i = 1; i < perms.length; i++) {
    const p = perms[i]!;
    if (p.id === domid) return p.perms & XS_PERM_BOTH;
  }
  return owner.perms & XS_PERM_BOTH;
}

/** Two permission lists say the same thing entry by entry. */
export function samePerms(a: XsPerms, b: XsPerms): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i]!.id !== b[i]!.id || a[i]!.perms !== b[i]!.perms) return false;
  return true;
}
