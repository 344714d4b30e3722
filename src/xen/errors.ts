/**
 * The one errors module: small factories with precise messages. Every error pvscsi raises on
 * purpose is a {@link PvscsiError} whose `code` a caller can switch on; the message names the
 * argument, file, line or peer at fault and what was expected.
 */

/** Machine-readable error kinds. */
export type PvscsiErrorCode =
  | "EINVALARG" // a caller passed a value outside the documented domain
  | "ERANGE" // an index, offset or length lies outside the region it addresses
  | "EPROTO" // a peer broke the shared-memory protocol
  | "ECONFIG" // a configuration file or CLI argument is malformed
  | "ESTATE" // an operation is not valid in the object's current state
  | "EXENSTORE"; // a xenstore request failed; `XenstoreError.errno` says how

/** An error raised deliberately by pvscsi. */
export class PvscsiError extends Error {
  readonly code: PvscsiErrorCode;
  constructor(code: PvscsiErrorCode, message: string) {
    super(message);
    this.name = "PvscsiError";
    this.code = code;
  }
}

/** `name` was `got`, but `expected` (a phrase such as "a multiple of 4096"). */
export function invalidArgument(name: string, expected: string, got: unknown): PvscsiError {
  return new PvscsiError("EINVALARG", `${name} must be ${expected}, got ${describe(got)}`);
}

/** `[offset, offset + length)` does not fit inside `[0, limit)` of `what`. */
export function outOfRange(what: string, offset: number, length: number, limit: number): PvscsiError {
  return new PvscsiError("ERANGE", `${what}: [${offset}, ${offset + length}) lies outside [0, ${limit})`);
}

/** A peer violated the protocol; `peer` names it (e.g. "frontend dom1"). */
export function protocolViolation(peer: string, detail: string): PvscsiError {
  return new PvscsiError("EPROTO", `${peer}: ${detail}`);
}

/** A configuration source (`where` = "file:line" or "argument <x>") is malformed. */
export function configError(where: string, detail: string): PvscsiError {
  return new PvscsiError("ECONFIG", `${where}: ${detail}`);
}

/** The operation is not allowed in the current state. */
export function invalidState(what: string, detail: string): PvscsiError {
  return new PvscsiError("ESTATE", `${what}: ${detail}`);
}

/**
 * A xenstore request failed with one of the error names of `xs_wire.h` (`EACCES`, `ENOENT`,
 * `EAGAIN`, ...). The store raises it, the protocol layer turns it into an `XS_ERROR` reply, and
 * the client library raises it again on the requesting side.
 */
export class XenstoreError extends PvscsiError {
  /** The name sent in the `XS_ERROR` payload. */
  readonly errno: string;
  constructor(errno: string, message: string) {
    super("EXENSTORE", message);
    this.name = "XenstoreError";
    this.errno = errno;
  }
}

/** A xenstore request on `path` (or about `what`) failed with `errno`, for the reason `detail`. */
export function xenstoreError(errno: string, what: string, detail: string): XenstoreError {
  return new XenstoreError(errno, `xenstore ${errno}: ${what}: ${detail}`);
}

/**
 * A grant or event-channel operation `op` (e.g. "map of dom1 ref 9") failed with Xen status
 * `name` (`GNTST_*` or `-E*`), whose meaning is `meaning` (grant_table.h's `GNTTABOP_error_msgs`
 * or errno's); `detail` says which check refused it. A peer's bad grant or port is the usual cause.
 */
export function hypercallFailed(op: string, name: string, meaning: string, detail = ""): PvscsiError {
  return new PvscsiError("EPROTO", `${op}: ${name} (${meaning})${detail === "" ? "" : `: ${detail}`}`);
}

function describe(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "bigint") return `${v}n`;
  if (v instanceof SharedArrayBuffer) return `SharedArrayBuffer(${v.byteLength})`;
  if (v instanceof ArrayBuffer) return `ArrayBuffer(${v.byteLength})`;
  return String(v);
}
