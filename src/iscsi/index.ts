/**
 * iSCSI (RFC 7143) as sans-IO state machines: one PDU codec, an initiator session and a target
 * connection. No sockets here; the shells with `node:net` live in the layers that may do IO.
 * @module
 */
export {
  CHAP_MD5,
  type ChapCredentials,
  chapResponse,
  decodeBinary,
  encodeBinary,
  md5,
} from "./chap.js";
export { crc32c } from "./crc32c.js";
export {
  type InitiatorCommand,
  type InitiatorPhase,
  type InitiatorResult,
  type IscsiInitiatorConfig,
  type IscsiInitiatorHandler,
  IscsiInitiatorSession,
  loginStatusText,
} from "./initiator.js";
export {
  answerKeys,
  applyAnswers,
  DEFAULT_POLICY,
  decodeKeys,
  defaultParams,
  encodeKeys,
  offerKeys,
  type ParamPolicy,
  type SessionParams,
} from "./keys.js";
export {
  BHS_LENGTH,
  cdbOf,
  type Digests,
  encodePdu,
  extendedCdbAhs,
  IscsiProtocolError,
  NO_DIGESTS,
  type Pdu,
  PduReader,
  RESERVED_TAG,
} from "./pdu.js";
export {
  type IscsiTargetConfig,
  IscsiTargetConnection,
  type IscsiTargetHandler,
  lunBytes,
  type TargetCommand,
  type TargetPhase,
  type TargetResult,
  TMF_ABORT_TASK,
  TMF_ABORT_TASK_SET,
  TMF_CLEAR_TASK_SET,
  TMF_LOGICAL_UNIT_RESET,
  TMF_RSP_COMPLETE,
  TMF_RSP_NO_TASK,
  TMF_RSP_NOT_SUPPORTED,
  TMF_TARGET_WARM_RESET,
  type TmfRequest,
} from "./target.js";
