/**
 * Constants of Xen's `io/xs_wire.h`, with its names: message types, the error strings sent in
 * `XS_ERROR` replies, payload and path limits, and the ring page's feature, connection and error
 * values. Values are part of the guest ABI; `test/xenstore/wire-constants.test.ts` checks them
 * against the header compiled by gcc.
 */

/** `enum xsd_sockmsg_type`. */
export const XS_CONTROL = 0;
/** `XS_DEBUG` is the old name of `XS_CONTROL`. */
export const XS_DEBUG = XS_CONTROL;
/** `xsd_sockmsg_type` `XS_DIRECTORY` (1), Xen's `io/xs_wire.h`. */
export const XS_DIRECTORY = 1;
/** `xsd_sockmsg_type` `XS_READ` (2), Xen's `io/xs_wire.h`. */
export const XS_READ = 2;
/** `xsd_sockmsg_type` `XS_GET_PERMS` (3), Xen's `io/xs_wire.h`. */
export const XS_GET_PERMS = 3;
/** `xsd_sockmsg_type` `XS_WATCH` (4), Xen's `io/xs_wire.h`. */
export const XS_WATCH = 4;
/** `xsd_sockmsg_type` `XS_UNWATCH` (5), Xen's `io/xs_wire.h`. */
export const XS_UNWATCH = 5;
/** `xsd_sockmsg_type` `XS_TRANSACTION_START` (6), Xen's `io/xs_wire.h`. */
export const XS_TRANSACTION_START = 6;
/** `xsd_sockmsg_type` `XS_TRANSACTION_END` (7), Xen's `io/xs_wire.h`. */
export const XS_TRANSACTION_END = 7;
/** `xsd_sockmsg_type` `XS_INTRODUCE` (8), Xen's `io/xs_wire.h`. */
export const XS_INTRODUCE = 8;
/** `xsd_sockmsg_type` `XS_RELEASE` (9), Xen's `io/xs_wire.h`. */
export const XS_RELEASE = 9;
/** `xsd_sockmsg_type` `XS_GET_DOMAIN_PATH` (10), Xen's `io/xs_wire.h`. */
export const XS_GET_DOMAIN_PATH = 10;
/** `xsd_sockmsg_type` `XS_WRITE` (11), Xen's `io/xs_wire.h`. */
export const XS_WRITE = 11;
/** `xsd_sockmsg_type` `XS_MKDIR` (12), Xen's `io/xs_wire.h`. */
export const XS_MKDIR = 12;
/** `xsd_sockmsg_type` `XS_RM` (13), Xen's `io/xs_wire.h`. */
export const XS_RM = 13;
/** `xsd_sockmsg_type` `XS_SET_PERMS` (14), Xen's `io/xs_wire.h`. */
export const XS_SET_PERMS = 14;
/** `xsd_sockmsg_type` `XS_WATCH_EVENT` (15), Xen's `io/xs_wire.h`. */
export const XS_WATCH_EVENT = 15;
/** `xsd_sockmsg_type` `XS_ERROR` (16), Xen's `io/xs_wire.h`. */
export const XS_ERROR = 16;
/** `xsd_sockmsg_type` `XS_IS_DOMAIN_INTRODUCED` (17), Xen's `io/xs_wire.h`. */
export const XS_IS_DOMAIN_INTRODUCED = 17;
/** `xsd_sockmsg_type` `XS_RESUME` (18), Xen's `io/xs_wire.h`. */
export const XS_RESUME = 18;
/** `xsd_sockmsg_type` `XS_SET_TARGET` (19), Xen's `io/xs_wire.h`. */
export const XS_SET_TARGET = 19;
/** `XS_SET_TARGET + 2`: the value in between was `XS_RESTRICT`, since removed. */
export const XS_RESET_WATCHES = 21;
/** `xsd_sockmsg_type` `XS_DIRECTORY_PART` (22), Xen's `io/xs_wire.h`. */
export const XS_DIRECTORY_PART = 22;
/** Number of valid types. */
export const XS_TYPE_COUNT = 23;
/** Guaranteed to remain an invalid type. */
export const XS_INVALID = 0xffff;

/** Names of the message types by value (`XS_READ` → "READ"), as xenstored's traces print them. */
export const XS_TYPE_NAMES: Readonly<Record<number, string>> = Object.freeze({
  [XS_CONTROL]: "CONTROL",
  [XS_DIRECTORY]: "DIRECTORY",
  [XS_READ]: "READ",
  [XS_GET_PERMS]: "GET_PERMS",
  [XS_WATCH]: "WATCH",
  [XS_UNWATCH]: "UNWATCH",
  [XS_TRANSACTION_START]: "TRANSACTION_START",
  [XS_TRANSACTION_END]: "TRANSACTION_END",
  [XS_INTRODUCE]: "INTRODUCE",
  [XS_RELEASE]: "RELEASE",
  [XS_GET_DOMAIN_PATH]: "GET_DOMAIN_PATH",
  [XS_WRITE]: "WRITE",
  [XS_MKDIR]: "MKDIR",
  [XS_RM]: "RM",
  [XS_SET_PERMS]: "SET_PERMS",
  [XS_WATCH_EVENT]: "WATCH_EVENT",
  [XS_ERROR]: "ERROR",
  [XS_IS_DOMAIN_INTRODUCED]: "IS_DOMAIN_INTRODUCED",
  [XS_RESUME]: "RESUME",
  [XS_SET_TARGET]: "SET_TARGET",
  [XS_RESET_WATCHES]: "RESET_WATCHES",
  [XS_DIRECTORY_PART]: "DIRECTORY_PART",
});

/**
 * `xsd_errors[]`, in the header's order (new errors are only ever appended). Errors travel as
 * these names, never as numbers, so a reply means the same on every OS.
 */
export const XSD_ERRORS = [
  "EINVAL",
  "EACCES",
  "EEXIST",
  "EISDIR",
  "ENOENT",
  "ENOMEM",
  "ENOSPC",
  "EIO",
  "ENOTEMPTY",
  "ENOSYS",
  "EROFS",
  "EBUSY",
  "EAGAIN",
  "EISCONN",
  "E2BIG",
  "EPERM",
] as const;

/** One of the error names a xenstore reply may carry. */
export type XsErrno = (typeof XSD_ERRORS)[number];

/** `XS_WATCH_EVENT` payload: index of the path and of the token (`enum xs_watch_type`). */
export const XS_WATCH_PATH = 0;
/** `xsd_sockmsg_type` `XS_WATCH_TOKEN` (1), Xen's `io/xs_wire.h`. */
export const XS_WATCH_TOKEN = 1;

/** Largest payload (`len`) in either direction; a client that sends more is disconnected. */
export const XENSTORE_PAYLOAD_MAX = 4096;
/** Longest absolute path. */
export const XENSTORE_ABS_PATH_MAX = 3072;
/** Longest relative path a client should send (and longest special `@` watch path). */
export const XENSTORE_REL_PATH_MAX = 2048;

/** `server_features` bit: the guest may ask for a ring reset through `connection`. */
export const XENSTORE_SERVER_FEATURE_RECONNECTION = 1;
/** `server_features` bit: the server reports why it stopped serving in `error`. */
export const XENSTORE_SERVER_FEATURE_ERROR = 2;

/** `connection`: the steady state. */
export const XENSTORE_CONNECTED = 0;
/** `connection`: the guest asked for a reset; only the server sets it back to connected. */
export const XENSTORE_RECONNECT = 1;

/** `error`: no error. */
export const XENSTORE_ERROR_NONE = 0;
/** `error`: communication problem (event channel not functional). */
export const XENSTORE_ERROR_COMM = 1;
/** `error`: inconsistent producer or consumer index. */
export const XENSTORE_ERROR_RINGIDX = 2;
/** `error`: protocol violation (payload too long). */
export const XENSTORE_ERROR_PROTO = 3;

/** Reply payload of every request that returns nothing else. */
export const XS_OK = "OK";
