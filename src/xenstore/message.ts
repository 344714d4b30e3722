import { XSD_HEADER_SIZE, XSD_LEN, XSD_REQ_ID, XSD_TX_ID, XSD_TYPE } from "../xen/xenstore-layout.js";
import { XENSTORE_PAYLOAD_MAX } from "./wire.js";

/**
 * Codecs for `struct xsd_sockmsg` and its payloads. Integers are in the host's byte order, as Xen
 * lays them out (both ends of a ring run on the same machine): little-endian on every platform
 * Node runs Xen guests on. Strings on the wire are bytes; they are decoded as Latin-1 so that any
 * byte string (a token, say) survives a round trip exactly. Paths are ASCII anyway.
 */

/** One message: the header fields and the payload. */
export interface XsMessage {
  readonly type: number;
  readonly reqId: number;
  readonly txId: number;
  readonly payload: Uint8Array;
}

/** Encode header and payload into one buffer. */
export function encodeMessage(type: number, reqId: number, txId: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(XSD_HEADER_SIZE + payload.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(XSD_TYPE, type >>> 0, true);
  dv.setUint32(XSD_REQ_ID, reqId >>> 0, true);
  dv.setUint32(XSD_TX_ID, txId >>> 0, true);
  dv.setUint32(XSD_LEN, payload.length, true);
  out.set(payload, XSD_HEADER_SIZE);
  return out;
}

/** Bytes of a string, one per char code (Latin-1). */
export function latin1(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, "latin1"));
}

/** A string from bytes, one char per byte (Latin-1). */
export function fromLatin1(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("latin1");
}

/** Payload of NUL-terminated strings: `["a", "b"]` → `a\0b\0`. */
export function encodeStrings(strings: readonly string[]): Uint8Array {
  let n = 0;
  for (const s of strings) n += s.length + 1;
  const out = new Uint8Array(n);
  let o = 0;
  for (const s of strings) {
    out.set(latin1(s), o);
    o += s.length + 1;
  }
  return out;
}

/**
 * xenstored's `get_strings`: the NUL-terminated strings at the start of `payload`, in order.
 * Bytes after the last NUL (an unterminated string, or binary data) are not returned.
 */
export function decodeStrings(payload: Uint8Array): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < payload.length; i++) {
    if (payload[i] === 0) {
      out.push(fromLatin1(payload.subarray(start, i)));
      start = i + 1;
    }
  }
  return out;
}

/** Number of NUL bytes (xenstored's `xs_count_strings`). */
export function countStrings(payload: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < payload.length; i++) if (payload[i] === 0) n++;
  return n;
}

/**
 * xenstored's `onearg`: the payload must be exactly one string with its NUL as the last byte;
 * otherwise undefined (the request is `EINVAL`).
 */
export function oneArg(payload: Uint8Array): string | undefined {
  if (payload.length === 0 || payload.indexOf(0) !== payload.length - 1) return undefined;
  return fromLatin1(payload.subarray(0, payload.length - 1));
}

/** Assembler state: gathering a header, gathering a payload, or broken for good. */
export type AssemblerState =
  | { readonly kind: "header" }
  | { readonly kind: "payload"; readonly type: number; readonly reqId: number; readonly txId: number }
  | { readonly kind: "too-long"; readonly len: number };

/**
 * Reassembles messages from a byte stream that arrives in pieces (a ring delivers at most 1024
 * bytes at a time). Bytes are copied once into private memory, so a peer rewriting its ring
 * cannot change a message after it was checked. A header whose `len` exceeds
 * `XENSTORE_PAYLOAD_MAX` breaks the stream for good: xenstored drops such a client.
 */
export class MessageAssembler {
  private readonly header = new Uint8Array(XSD_HEADER_SIZE);
  private readonly headerView = new DataView(this.header.buffer);
  private payload = new Uint8Array(0);
  private filled = 0;
  private st: AssemblerState = { kind: "header" };

  get state(): AssemblerState {
    return this.st;
  }

  /**
   * Take bytes from `src[offset, offset + length)` up to the end of the current message. Returns
   * how many were taken and, when one completed, the message.
   */
  push(src: Uint8Array, offset: number, length: number): { taken: number; message: XsMessage | undefined } {
    const st = this.st;
    if (st.kind === "too-long") return { taken: 0, message: undefined };
    if (st.kind === "header") {
      const n = Math.min(length, XSD_HEADER_SIZE - this.filled);
      this.header.set(src.subarray(offset, offset + n), this.filled);
      this.filled += n;
      if (this.filled < XSD_HEADER_SIZE) return { taken: n, message: undefined };
      const hv = this.headerView;
      const len = hv.getUint32(XSD_LEN, true);
      if (len > XENSTORE_PAYLOAD_MAX) {
        this.st = { kind: "too-long", len };
        return { taken: n, message: undefined };
      }
      const type = hv.getUint32(XSD_TYPE, true);
      const reqId = hv.getUint32(XSD_REQ_ID, true);
      const txId = hv.getUint32(XSD_TX_ID, true);
      this.payload = new Uint8Array(len);
      this.filled = 0;
      this.st = { kind: "payload", type, reqId, txId };
      if (len === 0) return { taken: n, message: this.finish() };
      const more = this.push(src, offset + n, length - n);
      return { taken: n + more.taken, message: more.message };
    }
    const n = Math.min(length, this.payload.length - this.filled);
    this.payload.set(src.subarray(offset, offset + n), this.filled);
    this.filled += n;
    return { taken: n, message: this.filled === this.payload.length ? this.finish() : undefined };
  }

  /** Forget any partial message (ring reconnection). */
  reset(): void {
    this.filled = 0;
    this.payload = new Uint8Array(0);
    this.st = { kind: "header" };
  }

  private finish(): XsMessage {
    const st = this.st as Extract<AssemblerState, { kind: "payload" }>;
    const msg: XsMessage = { type: st.type, reqId: st.reqId, txId: st.txId, payload: this.payload };
    this.payload = new Uint8Array(0);
    this.filled = 0;
    this.st = { kind: "header" };
    return msg;
  }
}

/** Split one whole encoded message back into header fields and payload (no copy). */
export function decodeMessage(bytes: Uint8Array): XsMessage {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    type: dv.getUint32(XSD_TYPE, true),
    reqId: dv.getUint32(XSD_REQ_ID, true),
    txId: dv.getUint32(XSD_TX_ID, true),
    payload: bytes.subarray(XSD_HEADER_SIZE, XSD_HEADER_SIZE + dv.getUint32(XSD_LEN, true)),
  };
}
