import createDebug from "debug";
import { XenstoreError, xenstoreError } from "../xen/errors.js";
import type { XsDbConnection } from "./db-connection.js";
import {
  countStrings,
  decodeStrings,
  encodeStrings,
  fromLatin1,
  latin1,
  oneArg,
  type XsMessage,
} from "./message.js";
import { parsePerms, permsToStrings } from "./perms.js";
import {
  XENSTORE_PAYLOAD_MAX,
  XS_CONTROL,
  XS_DIRECTORY,
  XS_DIRECTORY_PART,
  XS_ERROR,
  XS_GET_DOMAIN_PATH,
  XS_GET_PERMS,
  XS_INTRODUCE,
  XS_IS_DOMAIN_INTRODUCED,
  XS_MKDIR,
  XS_OK,
  XS_READ,
  XS_RELEASE,
  XS_RESET_WATCHES,
  XS_RESUME,
  XS_RM,
  XS_SET_PERMS,
  XS_SET_TARGET,
  XS_TRANSACTION_END,
  XS_TRANSACTION_START,
  XS_TYPE_NAMES,
  XS_UNWATCH,
  XS_WATCH,
  XS_WATCH_EVENT,
  XS_WRITE,
  XSD_ERRORS,
} from "./wire.js";

const log = createDebug("pvscsi:xenstore");

/** A reply to send: `XS_ERROR` or the request's own type, and the payload. */
export interface XsReply {
  readonly type: number;
  readonly payload: Uint8Array;
}

/** Requests only the privileged domain may make (xenstored's `XS_FLAG_PRIV`). */
const PRIVILEGED = new Set([
  XS_CONTROL,
  XS_INTRODUCE,
  XS_RELEASE,
  XS_IS_DOMAIN_INTRODUCED,
  XS_RESUME,
  XS_SET_TARGET,
]);
/** Requests whose `tx_id` is ignored (xenstored's `XS_FLAG_NOTID`). */
const NO_TX = new Set([XS_WATCH, XS_UNWATCH]);

const OK = encodeStrings([XS_OK]);

/**
 * Run one request for `conn` and build its reply, as xenstored's `process_message` does: unknown
 * types are `ENOSYS`, privileged ones from a guest `EACCES`, an unknown `tx_id` `ENOENT`, a
 * malformed payload `EINVAL`, a reply over `XENSTORE_PAYLOAD_MAX` `E2BIG`. Never throws: whatever
 * the input, the result is a reply.
 */
export function handleRequest(conn: XsDbConnection, msg: XsMessage): XsReply {
  try {
    const payload = dispatch(conn, msg);
    if (payload.length > XENSTORE_PAYLOAD_MAX) {
      return errorReply("E2BIG");
    }
    return { type: msg.type, payload };
  } catch (e) {
    if (e instanceof XenstoreError) return errorReply(e.errno);
    // A bug, not bad input: answer, log, and keep serving everyone else.
    log("dom%d %s: internal error %O", conn.domid, XS_TYPE_NAMES[msg.type] ?? msg.type, e);
    return errorReply("EIO");
  }
}

/** An `XS_ERROR` reply; a name not in `xsd_errors` becomes `EINVAL`, as in xenstored's `send_error`. */
export function errorReply(errno: string): XsReply {
  const name = (XSD_ERRORS as readonly string[]).includes(errno) ? errno : "EINVAL";
  return { type: XS_ERROR, payload: encodeStrings([name]) };
}

function inval(what: string): XenstoreError {
  return xenstoreError("EINVAL", what, "malformed payload");
}

function arg(payload: Uint8Array, what: string): string {
  const a = oneArg(payload);
  if (a === undefined) throw inval(what);
  return a;
}

function domid(s: string): number {
  if (!/^[0-9]{1,5}$/.test(s) || Number(s) > 0xffff) throw xenstoreError("EINVAL", s, "not a domain id");
  return Number(s);
}

function integer(s: string, what: string): number {
  if (!/^-?[0-9]{1,20}$/.test(s)) throw xenstoreError("EINVAL", s, `not a decimal ${what}`);
  return Number(s);
}

function dispatch(conn: XsDbConnection, msg: XsMessage): Uint8Array {
  const { type, payload } = msg;
  const name = XS_TYPE_NAMES[type];
  if (name === undefined || type === XS_ERROR || type === XS_WATCH_EVENT) {
    throw xenstoreError("ENOSYS", `message type ${type}`, "not a request");
  }
  if (PRIVILEGED.has(type) && !conn.privileged) {
    throw xenstoreError("EACCES", name, `domain ${conn.domid} is not privileged`);
  }
  const tx = NO_TX.has(type) ? 0 : msg.txId;
  if (tx !== 0 && !conn.hasTransaction(tx))
    throw xenstoreError("ENOENT", `transaction ${tx}`, "no such transaction");
  switch (type) {
    case XS_READ:
      return conn.read(arg(payload, name), tx);
    case XS_WRITE: {
      const nul = payload.indexOf(0);
      if (nul < 0) throw inval(name);
      conn.write(fromLatin1(payload.subarray(0, nul)), payload.subarray(nul + 1), tx);
      return OK;
    }
    case XS_MKDIR:
      conn.mkdir(arg(payload, name), tx);
      return OK;
    case XS_RM:
      conn.rm(arg(payload, name), tx);
      return OK;
    case XS_DIRECTORY:
      return encodeStrings(conn.directory(arg(payload, name), tx));
    case XS_DIRECTORY_PART:
      return directoryPart(conn, payload, tx);
    case XS_GET_PERMS:
      return encodeStrings(permsToStrings(conn.getPerms(arg(payload, name), tx)));
    case XS_SET_PERMS: {
      if (countStrings(payload) < 2) throw inval(name);
      const [path, ...perms] = decodeStrings(payload);
      conn.setPerms(path!, parsePerms(perms), tx);
      return OK;
    }
    case XS_WATCH:
    case XS_UNWATCH: {
      const strings = decodeStrings(payload);
      if (strings.length !== 2) throw inval(name);
      if (type === XS_WATCH) conn.watch(strings[0]!, strings[1]!);
      else conn.unwatch(strings[0]!, strings[1]!);
      return OK;
    }
    case XS_RESET_WATCHES:
      conn.resetWatches();
      return OK;
    case XS_TRANSACTION_START:
      if (tx !== 0) throw xenstoreError("EBUSY", name, "transactions do not nest");
      return encodeStrings([String(conn.transactionStart())]);
    case XS_TRANSACTION_END: {
      const a = arg(payload, name);
      if (a !== "T" && a !== "F") throw inval(name);
      conn.transactionEnd(tx, a === "T");
      return OK;
    }
    case XS_GET_DOMAIN_PATH:
      return encodeStrings([conn.getDomainPath(domid(arg(payload, name)))]);
    case XS_INTRODUCE: {
      const strings = decodeStrings(payload);
      if (strings.length < 3) throw inval(name);
      conn.introduce(domid(strings[0]!), integer(strings[1]!, "mfn"), integer(strings[2]!, "port"));
      return OK;
    }
    case XS_RELEASE:
      conn.release(domid(arg(payload, name)));
      return OK;
    case XS_IS_DOMAIN_INTRODUCED:
      return encodeStrings([conn.isDomainIntroduced(domid(arg(payload, name))) ? "T" : "F"]);
    default:
      // CONTROL, RESUME, SET_TARGET: pvscsi has no use for them.
      throw xenstoreError("ENOSYS", name, "not implemented");
  }
}

/**
 * `DIRECTORY_PART <path>|<offset>|`: the node's generation, then as many whole child names from
 * byte `offset` of the NUL-separated list as fit in a payload; an empty string ends the list.
 */
function directoryPart(conn: XsDbConnection, payload: Uint8Array, tx: number): Uint8Array {
  if (countStrings(payload) !== 2) throw inval("DIRECTORY_PART");
  const [path, offStr] = decodeStrings(payload) as [string, string];
  const { gen, children } = conn.directoryWithGeneration(path, tx);
  const off = integer(offStr, "offset");
  const list = encodeStrings(children);
  const genBytes = latin1(`${gen}\0`);
  if (off < 0 || off >= list.length) return concat(genBytes, new Uint8Array(1));
  const maxLen = XENSTORE_PAYLOAD_MAX - genBytes.length - 1;
  let end = off;
  while (end < list.length) {
    const next = list.indexOf(0, end) + 1;
    if (next - off > maxLen) break;
    end = next;
  }
  const part = list.subarray(off, end);
  return end === list.length ? concat(genBytes, part, new Uint8Array(1)) : concat(genBytes, part);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
