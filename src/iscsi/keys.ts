/**
 * iSCSI text keys (RFC 7143 §6.1, §13): the `key=value\0` data segment of Login and Text PDUs,
 * and the operational parameters a login negotiates with each key's result function.
 * @module
 */

/** Decode a text data segment into ordered key/value pairs. Malformed items (no `=`) throw. */
export function decodeKeys(data: Uint8Array): [string, string][] {
  const out: [string, string][] = [];
  const text = new TextDecoder("utf-8", { fatal: false }).decode(data);
  for (const item of text.split("\0")) {
    if (item === "") continue;
    const eq = item.indexOf("=");
    if (eq <= 0) throw new Error(`malformed text key ${JSON.stringify(item.slice(0, 64))}`);
    out.push([item.slice(0, eq), item.slice(eq + 1)]);
  }
  return out;
}

/** Encode key/value pairs as a text data segment. */
export function encodeKeys(pairs: readonly (readonly [string, string])[]): Uint8Array {
  return new TextEncoder().encode(pairs.map(([k, v]) => `${k}=${v}\0`).join(""));
}

/** The operational parameters of a session (RFC 7143 §13), after negotiation. */
export interface SessionParams {
  headerDigest: boolean;
  dataDigest: boolean;
  /** Largest data segment this side may *send* (the peer's declared MaxRecvDataSegmentLength). */
  maxXmitDataSegmentLength: number;
  /** Largest data segment this side accepts (its own declaration). */
  maxRecvDataSegmentLength: number;
  maxBurstLength: number;
  firstBurstLength: number;
  initialR2T: boolean;
  immediateData: boolean;
  maxOutstandingR2T: number;
  errorRecoveryLevel: number;
  defaultTime2Wait: number;
  defaultTime2Retain: number;
  maxConnections: number;
  dataPduInOrder: boolean;
  dataSequenceInOrder: boolean;
}

/** RFC 7143's defaults, which hold for any key a login does not negotiate. */
export function defaultParams(): SessionParams {
  return {
    headerDigest: false,
    dataDigest: false,
    maxXmitDataSegmentLength: 8192,
    maxRecvDataSegmentLength: 8192,
    maxBurstLength: 262144,
    firstBurstLength: 65536,
    initialR2T: true,
    immediateData: true,
    maxOutstandingR2T: 1,
    errorRecoveryLevel: 0,
    defaultTime2Wait: 2,
    defaultTime2Retain: 20,
    maxConnections: 1,
    dataPduInOrder: true,
    dataSequenceInOrder: true,
  };
}

/** What one side is willing to accept: its offer or its limits. */
export interface ParamPolicy {
  /** Digests this side accepts, in preference order ("CRC32C", "None"). */
  readonly headerDigest: readonly ("None" | "CRC32C")[];
  readonly dataDigest: readonly ("None" | "CRC32C")[];
  readonly maxRecvDataSegmentLength: number;
  readonly maxBurstLength: number;
  readonly firstBurstLength: number;
  readonly initialR2T: boolean;
  readonly immediateData: boolean;
  readonly maxOutstandingR2T: number;
}

/** A reasonable default policy (both sides): digests optional, 256 KiB bursts, immediate data. */
export const DEFAULT_POLICY: ParamPolicy = {
  headerDigest: ["None", "CRC32C"],
  dataDigest: ["None", "CRC32C"],
  maxRecvDataSegmentLength: 262144,
  maxBurstLength: 262144,
  firstBurstLength: 65536,
  initialR2T: false,
  immediateData: true,
  maxOutstandingR2T: 1,
};

const NUMERIC_LIMITS: Record<string, [number, number]> = {
  MaxRecvDataSegmentLength: [512, 16777215],
  MaxBurstLength: [512, 16777215],
  FirstBurstLength: [512, 16777215],
  MaxOutstandingR2T: [1, 65535],
  ErrorRecoveryLevel: [0, 2],
  DefaultTime2Wait: [0, 3600],
  DefaultTime2Retain: [0, 3600],
  MaxConnections: [1, 65535],
};

/** A numeric key's value, or null when it is not a number in the key's range. */
export function numericValue(key: string, value: string): number | null {
  if (!/^(0|[1-9][0-9]{0,9}|0x[0-9a-fA-F]{1,8})$/.test(value)) return null;
  const n = Number(value);
  const lim = NUMERIC_LIMITS[key];
  if (lim && (n < lim[0] || n > lim[1])) return null;
  return n;
}

const yes = (v: string): boolean | null => (v === "Yes" ? true : v === "No" ? false : null);
const yn = (b: boolean): string => (b ? "Yes" : "No");

/** Keys an initiator declares that a target takes note of without answering. */
const DECLARATIVE = new Set([
  "InitiatorName",
  "InitiatorAlias",
  "TargetName",
  "SessionType",
  "AuthMethod",
  "TargetAlias",
  "TargetAddress",
  "TargetPortalGroupTag",
]);

/**
 * The target's half of operational negotiation (§13.2-13.20): for each key the initiator
 * offered, the answer (by the key's result function against `policy`), applied to `params`.
 * Unknown keys are answered `NotUnderstood`, bad values `Reject` (§6.2, §6.3).
 */
export function answerKeys(
  offered: readonly (readonly [string, string])[],
  policy: ParamPolicy,
  params: SessionParams,
): [string, string][] {
  const answers: [string, string][] = [];
  let declaredMrdsl = false;
  for (const [k, v] of offered) {
    if (DECLARATIVE.has(k)) continue;
    switch (k) {
      case "HeaderDigest":
      case "DataDigest": {
        const mine = k === "HeaderDigest" ? policy.headerDigest : policy.dataDigest;
        const pick = v.split(",").find((x) => (mine as readonly string[]).includes(x));
        if (pick === undefined) answers.push([k, "Reject"]);
        else {
          answers.push([k, pick]);
          if (k === "HeaderDigest") params.headerDigest = pick === "CRC32C";
          else params.dataDigest = pick === "CRC32C";
        }
        break;
      }
      case "MaxRecvDataSegmentLength": {
        const n = numericValue(k, v);
        if (n === null) answers.push([k, "Reject"]);
        else params.maxXmitDataSegmentLength = n;
        declaredMrdsl = true;
        break;
      }
      case "MaxBurstLength":
      case "FirstBurstLength":
      case "MaxOutstandingR2T":
      case "ErrorRecoveryLevel":
      case "MaxConnections":
      case "DefaultTime2Retain":
      case "DefaultTime2Wait": {
        const n = numericValue(k, v);
        if (n === null) {
          answers.push([k, "Reject"]);
          break;
        }
        const limit =
          k === "MaxBurstLength"
            ? policy.maxBurstLength
            : k === "FirstBurstLength"
              ? policy.firstBurstLength
              : k === "MaxOutstandingR2T"
                ? policy.maxOutstandingR2T
                : k === "ErrorRecoveryLevel"
                  ? 0
                  : k === "MaxConnections"
                    ? 1
                    : k === "DefaultTime2Retain"
                      ? 0
                      : 2;
        const r = k === "DefaultTime2Wait" ? Math.max(n, limit) : Math.min(n, limit);
        answers.push([k, String(r)]);
        if (k === "MaxBurstLength") params.maxBurstLength = r;
        else if (k === "FirstBurstLength") params.firstBurstLength = r;
        else if (k === "MaxOutstandingR2T") params.maxOutstandingR2T = r;
        else if (k === "ErrorRecoveryLevel") params.errorRecoveryLevel = r;
        else if (k === "MaxConnections") params.maxConnections = r;
        else if (k === "DefaultTime2Retain") params.defaultTime2Retain = r;
        else params.defaultTime2Wait = r;
        break;
      }
      case "InitialR2T":
      case "ImmediateData":
      case "DataPDUInOrder":
      case "DataSequenceInOrder":
      case "IFMarker":
      case "OFMarker": {
        const b = yes(v);
        if (b === null) {
          answers.push([k, "Reject"]);
          break;
        }
        let r: boolean;
        if (k === "InitialR2T")
          r = b || policy.initialR2T; // OR
        else if (k === "ImmediateData")
          r = b && policy.immediateData; // AND
        else if (k === "IFMarker" || k === "OFMarker")
          r = false; // AND, markers unsupported
        else r = true; // DataPDUInOrder / DataSequenceInOrder: OR with our Yes
        answers.push([k, yn(r)]);
        if (k === "InitialR2T") params.initialR2T = r;
        else if (k === "ImmediateData") params.immediateData = r;
        else if (k === "DataPDUInOrder") params.dataPduInOrder = r;
        else if (k === "DataSequenceInOrder") params.dataSequenceInOrder = r;
        break;
      }
      default:
        if (k.startsWith("X-") || k.startsWith("X#")) answers.push([k, "NotUnderstood"]);
        else answers.push([k, "NotUnderstood"]);
    }
  }
  if (params.firstBurstLength > params.maxBurstLength) params.firstBurstLength = params.maxBurstLength;
  if (declaredMrdsl || offered.length > 0) {
    // Our own declaration, once per login (§13.12): how much we accept per PDU.
    params.maxRecvDataSegmentLength = policy.maxRecvDataSegmentLength;
  }
  return answers;
}

/** The keys an initiator offers for `policy` (operational stage), in libiscsi's order. */
export function offerKeys(policy: ParamPolicy): [string, string][] {
  return [
    ["HeaderDigest", policy.headerDigest.join(",")],
    ["DataDigest", policy.dataDigest.join(",")],
    ["InitialR2T", yn(policy.initialR2T)],
    ["ImmediateData", yn(policy.immediateData)],
    ["MaxBurstLength", String(policy.maxBurstLength)],
    ["FirstBurstLength", String(policy.firstBurstLength)],
    ["DefaultTime2Wait", "2"],
    ["DefaultTime2Retain", "0"],
    ["MaxOutstandingR2T", String(policy.maxOutstandingR2T)],
    ["ErrorRecoveryLevel", "0"],
    ["IFMarker", "No"],
    ["OFMarker", "No"],
    ["MaxConnections", "1"],
    ["MaxRecvDataSegmentLength", String(policy.maxRecvDataSegmentLength)],
    ["DataPDUInOrder", "Yes"],
    ["DataSequenceInOrder", "Yes"],
  ];
}

/**
 * The initiator's half: apply the target's answers to what we offered (`policy`). Keys the
 * target did not answer keep the RFC default for declarations it did not make (its
 * MaxRecvDataSegmentLength stays 8192, §13.12) and our offer otherwise. Returns an error text
 * for an answer we cannot accept (Reject, a value outside our offer), else null.
 */
export function applyAnswers(
  answers: readonly (readonly [string, string])[],
  policy: ParamPolicy,
  params: SessionParams,
): string | null {
  for (const [k, v] of answers) {
    switch (k) {
      case "HeaderDigest":
      case "DataDigest": {
        const mine = k === "HeaderDigest" ? policy.headerDigest : policy.dataDigest;
        if (!(mine as readonly string[]).includes(v)) return `target answered ${k}=${v}`;
        if (k === "HeaderDigest") params.headerDigest = v === "CRC32C";
        else params.dataDigest = v === "CRC32C";
        break;
      }
      case "MaxRecvDataSegmentLength": {
        const n = numericValue(k, v);
        if (n === null) return `target declared ${k}=${v}`;
        params.maxXmitDataSegmentLength = n;
        break;
      }
      case "MaxBurstLength":
      case "FirstBurstLength":
      case "MaxOutstandingR2T":
      case "ErrorRecoveryLevel":
      case "DefaultTime2Wait":
      case "DefaultTime2Retain":
      case "MaxConnections": {
        const n = numericValue(k, v);
        if (n === null) return `target answered ${k}=${v}`;
        if (k === "MaxBurstLength") params.maxBurstLength = n;
        else if (k === "FirstBurstLength") params.firstBurstLength = n;
        else if (k === "MaxOutstandingR2T") params.maxOutstandingR2T = n;
        else if (k === "ErrorRecoveryLevel") {
          if (n !== 0) return `target answered ErrorRecoveryLevel=${n}; only 0 is supported`;
          params.errorRecoveryLevel = 0;
        } else if (k === "DefaultTime2Wait") params.defaultTime2Wait = n;
        else if (k === "DefaultTime2Retain") params.defaultTime2Retain = n;
        else params.maxConnections = n;
        break;
      }
      case "InitialR2T":
      case "ImmediateData":
      case "DataPDUInOrder":
      case "DataSequenceInOrder": {
        const b = yes(v);
        if (b === null) return `target answered ${k}=${v}`;
        if (k === "InitialR2T") params.initialR2T = b;
        else if (k === "ImmediateData") params.immediateData = b;
        else if (k === "DataPDUInOrder") params.dataPduInOrder = b;
        else params.dataSequenceInOrder = b;
        break;
      }
      default:
        break; // TargetPortalGroupTag, TargetAlias, markers (No), NotUnderstood answers to nothing we need
    }
  }
  params.maxRecvDataSegmentLength = policy.maxRecvDataSegmentLength;
  return null;
}
