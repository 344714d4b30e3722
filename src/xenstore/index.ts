/**
 * Xenstore: the database (`XenstoreDb`), the wire protocol of Xen's `io/xs_wire.h` over a domain's
 * xenstore ring page, the client library every domain uses, and the xenstored driver that serves
 * them all from the main thread.
 * @module
 */

export {
  XENSTORE_RING_SIZE,
  XS_RING_CONNECTION,
  XS_RING_ERROR,
  XS_RING_REQ,
  XS_RING_REQ_CONS,
  XS_RING_REQ_PROD,
  XS_RING_RSP,
  XS_RING_RSP_CONS,
  XS_RING_RSP_PROD,
  XS_RING_SERVER_FEATURES,
  XSD_HEADER_SIZE,
  XSD_LEN,
  XSD_REQ_ID,
  XSD_TX_ID,
  XSD_TYPE,
  xenstoreDomainInterfaceLayout,
  xsdSockmsgLayout,
} from "../xen/xenstore-layout.js";
export {
  XenstoreClient,
  type XenstoreClientOptions,
  type XsOps,
  type XsWatchCallback,
  type XsWatchHandle,
} from "./client.js";
export {
  DOMID_MAX_REAL,
  DOMID_PRIVILEGED,
  XenstoreDb,
  type XenstoreDbOptions,
  XS_INTRODUCE_DOMAIN,
  XS_RELEASE_DOMAIN,
  type XsDomainListener,
  type XsStats,
} from "./database.js";
export { XsDbConnection } from "./db-connection.js";
export { DUMP_FORMAT, type DumpFile, type DumpNode, dumpFile, rootOfDumpFile } from "./dump.js";
export { errorReply, handleRequest, type XsReply } from "./handle-request.js";
export {
  clientLsSource,
  dbLsSource,
  type LsOptions,
  type LsSink,
  lsJson,
  renderLs,
  sanitiseValue,
  type XenstoreLsSource,
} from "./ls.js";
export {
  decodeMessage,
  decodeStrings,
  encodeMessage,
  encodeStrings,
  MessageAssembler,
  oneArg,
  type XsMessage,
} from "./message.js";
export {
  baseName,
  canonicalize,
  domainPath,
  isChildOrSelf,
  isSpecialPath,
  isValidPath,
  joinPath,
  parentPath,
  partsBelow,
} from "./path.js";
export {
  parsePerm,
  parsePerms,
  permFor,
  permsToStrings,
  permToString,
  XS_PERM_BOTH,
  XS_PERM_NONE,
  XS_PERM_OWNER,
  XS_PERM_READ,
  XS_PERM_WRITE,
  type XsPerm,
  type XsPerms,
} from "./perms.js";
export {
  ProtocolConnection,
  type ProtocolConnectionOptions,
  type ProtocolFailure,
} from "./protocol-connection.js";
export { DEFAULT_QUOTAS, type XsQuotas } from "./quotas.js";
export { type RingClientState, XenstoreRingClient } from "./ring-client.js";
export { ringIndexesValid, XenstoreRingPage } from "./ring-page.js";
export { type RingServerOptions, type RingServerState, XenstoreRingServer } from "./ring-server.js";
export { XenstoreSocketServer } from "./socket-server.js";
export type { XsTransport } from "./transport.js";
export type { TreeChange, XsCaller } from "./tree-ops.js";
export type { XsWatchEvent } from "./watch.js";
export {
  XENSTORE_ABS_PATH_MAX,
  XENSTORE_CONNECTED,
  XENSTORE_ERROR_COMM,
  XENSTORE_ERROR_NONE,
  XENSTORE_ERROR_PROTO,
  XENSTORE_ERROR_RINGIDX,
  XENSTORE_PAYLOAD_MAX,
  XENSTORE_RECONNECT,
  XENSTORE_REL_PATH_MAX,
  XENSTORE_SERVER_FEATURE_ERROR,
  XENSTORE_SERVER_FEATURE_RECONNECTION,
  XS_CONTROL,
  XS_DEBUG,
  XS_DIRECTORY,
  XS_DIRECTORY_PART,
  XS_ERROR,
  XS_GET_DOMAIN_PATH,
  XS_GET_PERMS,
  XS_INTRODUCE,
  XS_INVALID,
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
  XS_TYPE_COUNT,
  XS_TYPE_NAMES,
  XS_UNWATCH,
  XS_WATCH,
  XS_WATCH_EVENT,
  XS_WATCH_PATH,
  XS_WATCH_TOKEN,
  XS_WRITE,
  XSD_ERRORS,
  type XsErrno,
} from "./wire.js";
export {
  STREAM_INPUT_LIMIT,
  type XenstoreDomainBinder,
  type XenstoreDomainBinding,
  Xenstored,
  type XenstoredOptions,
  type XenstoredRing,
  type XenstoredStream,
} from "./xenstored.js";
