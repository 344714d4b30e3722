import { TraceKind } from "../trace/trace-buffer.js";
import { tracer } from "../trace/tracer.js";
import type { XsDbConnection } from "./db-connection.js";
import { handleRequest } from "./handle-request.js";
import { encodeMessage, encodeStrings, MessageAssembler, type XsMessage } from "./message.js";
import { XENSTORE_PAYLOAD_MAX, XS_WATCH_EVENT } from "./wire.js";

/** Why a connection stopped being served. */
export type ProtocolFailure = { readonly kind: "payload-too-long"; readonly len: number };

/** Options of {@link ProtocolConnection}. */
export interface ProtocolConnectionOptions {
  /**
   * Messages (replies and watch events) queued for the peer before the connection stops taking
   * requests. A peer that does not read its replies is then simply not served further: the
   * server's memory for it stays bounded. Default 4.
   */
  readonly maxQueuedMessages?: number;
}

/**
 * The server's end of one xenstore connection, without any I/O (sans-IO): request bytes go in
 * through {@link receive}, reply and watch-event bytes come out through {@link takeOutput}. The
 * ring transport and the in-process transport are thin shells around it.
 *
 * Bounded by construction: at most one partial request is buffered (≤ 16 + 4096 bytes), at most
 * `maxQueuedMessages` encoded messages wait for the peer, and watch events stay in the store's
 * per-connection queue, itself bounded, until there is room here.
 */
export class ProtocolConnection {
  readonly db: XsDbConnection;
  private readonly assembler = new MessageAssembler();
  private readonly maxQueued: number;
  private readonly out: Uint8Array[] = [];
  private outOffset = 0;
  /** A complete request waiting for room in the output queue. */
  private held: XsMessage | undefined;
  private fail: ProtocolFailure | undefined;
  /** Requests answered so far. */
  requests = 0;

  constructor(db: XsDbConnection, options: ProtocolConnectionOptions = {}) {
    this.db = db;
    this.maxQueued = options.maxQueuedMessages ?? 4;
  }

  /** Set once the peer broke the protocol; the connection is then dead. */
  get failure(): ProtocolFailure | undefined {
    return this.fail;
  }

  /** Whether {@link receive} would take bytes now. */
  get acceptsInput(): boolean {
    return this.fail === undefined && this.held === undefined && !this.db.isClosed;
  }

  /**
   * Offer request bytes `src[offset, offset + length)`. Complete requests are answered at once
   * while there is room for the reply. Returns how many bytes were taken: fewer than offered when
   * the output is full (call again after {@link takeOutput}) or the connection failed.
   */
  receive(src: Uint8Array, offset: number, length: number): number {
    let taken = 0;
    while (taken < length && this.acceptsInput) {
      const r = this.assembler.push(src, offset + taken, length - taken);
      taken += r.taken;
      const st = this.assembler.state;
      if (st.kind === "too-long") {
        // docs/misc/xenstore.txt: a client exceeding the payload limit is killed.
        this.fail = { kind: "payload-too-long", len: st.len };
        this.db.close();
        this.out.length = 0;
        break;
      }
      if (r.message !== undefined) {
        this.held = r.message;
        this.answerHeld();
      }
      if (r.taken === 0) break;
    }
    return taken;
  }

  /** Whether bytes are waiting for the peer (pulling queued watch events in if there is room). */
  get hasOutput(): boolean {
    this.fill();
    return this.out.length > 0;
  }

  /**
   * Copy up to `max` pending bytes to `dst[offset...]` and consume them. Returns the count. Frees
   * room, so a held request may be answered and more events pulled in.
   */
  takeOutput(dst: Uint8Array, offset: number, max: number): number {
    let n = 0;
    this.fill();
    while (n < max && this.out.length > 0) {
      const head = this.out[0]!;
      const k = Math.min(max - n, head.length - this.outOffset);
      dst.set(head.subarray(this.outOffset, this.outOffset + k), offset + n);
      n += k;
      this.outOffset += k;
      if (this.outOffset === head.length) {
        this.out.shift();
        this.outOffset = 0;
        this.answerHeld();
        this.fill();
      }
    }
    return n;
  }

  /** Take one whole pending message (the in-process transport passes messages, not bytes). */
  takeMessage(): Uint8Array | undefined {
    this.fill();
    if (this.out.length === 0) return undefined;
    const head = this.out.shift()!;
    const msg = this.outOffset === 0 ? head : head.subarray(this.outOffset);
    this.outOffset = 0;
    this.answerHeld();
    return msg;
  }

  /** Ring reconnection: forget partial messages, queued output, watches and transactions. */
  reset(): void {
    this.assembler.reset();
    this.out.length = 0;
    this.outOffset = 0;
    this.held = undefined;
    this.fail = undefined;
    this.db.reset();
  }

  /** Leave the store (drops watches and transactions). */
  close(): void {
    this.out.length = 0;
    this.held = undefined;
    this.db.close();
  }

  private answerHeld(): void {
    const msg = this.held;
    if (msg === undefined || this.out.length >= this.maxQueued || this.db.isClosed) return;
    this.held = undefined;
    const reply = handleRequest(this.db, msg);
    this.requests++;
    this.out.push(encodeMessage(reply.type, msg.reqId, msg.txId, reply.payload));
  }

  /** Move watch events from the store's queue into the output, while there is room. */
  private fill(): void {
    while (this.out.length < this.maxQueued && this.fail === undefined) {
      const e = this.db.takeEvent();
      if (e === undefined) return;
      const payload = encodeStrings([e.path, e.token]);
      // xenstored does not send over-long events.
      if (payload.length > XENSTORE_PAYLOAD_MAX) continue;
      const t = tracer;
      if (t !== null) t.record(TraceKind.WatchFire, this.db.domid, t.intern(e.path), t.intern(e.token));
      this.out.push(encodeMessage(XS_WATCH_EVENT, 0, 0, payload));
    }
  }
}
