import { XENSTORE_RING_SIZE } from "../xen/xenstore-layout.js";
import { MessageAssembler, type XsMessage } from "./message.js";
import { ringIndexesValid, XenstoreRingPage } from "./ring-page.js";
import type { XsTransport } from "./transport.js";
import { XENSTORE_CONNECTED, XENSTORE_ERROR_NONE, XENSTORE_RECONNECT } from "./wire.js";

/** The client end is working, waiting for a reset to finish, or dead (with the reason). */
export type RingClientState =
  | { readonly kind: "connected" }
  | { readonly kind: "reconnecting" }
  | { readonly kind: "failed"; readonly reason: string };

/**
 * The guest's end of its xenstore ring (Linux's `xb_write`/`xb_read` in `xenbus_comms.c`), as an
 * {@link XsTransport}: messages are queued and copied into `req[]` as space allows; replies and
 * watch events are reassembled from `rsp[]`. Sans-IO: call {@link service} whenever the event
 * channel fires (the server signals after every change); `notify` is called after each change to
 * the page. It checks the server's indices too, and stops on an `error` the server reports.
 */
export class XenstoreRingClient implements XsTransport {
  readonly page: XenstoreRingPage;
  onMessage: ((message: XsMessage) => void) | undefined;
  onClose: ((reason: string) => void) | undefined;
  private readonly notify: () => void;
  private readonly assembler = new MessageAssembler();
  private readonly pending: Uint8Array[] = [];
  private pendingOffset = 0;
  private reqProd: number;
  private rspCons: number;
  private st: RingClientState = { kind: "connected" };
  /** Set while {@link service} runs: a `send` from a message callback only queues. */
  private inService = false;

  constructor(page: XenstoreRingPage, notify: () => void) {
    this.page = page;
    this.notify = notify;
    this.reqProd = page.reqProd;
    this.rspCons = page.rspCons;
  }

  get state(): RingClientState {
    return this.st;
  }

  /** Bytes queued but not yet in the ring. */
  get queuedBytes(): number {
    let n = -this.pendingOffset;
    for (const m of this.pending) n += m.length;
    return n;
  }

  send(message: Uint8Array): void {
    if (this.st.kind === "failed") return;
    this.pending.push(message);
    if (!this.inService) this.service();
  }

  /**
   * Ask xenstored to reset the connection (docs/misc/xenstore-ring.txt): queued requests,
   * watches and transactions are dropped; {@link service} completes it when the server is done.
   */
  requestReconnect(): void {
    if (this.st.kind === "failed") return;
    this.st = { kind: "reconnecting" };
    this.pending.length = 0;
    this.pendingOffset = 0;
    this.assembler.reset();
    this.page.connection = XENSTORE_RECONNECT;
    this.notify();
  }

  /** Move queued requests into the ring and replies out of it; call when the event fires. */
  service(): void {
    if (this.inService) return;
    this.inService = true;
    try {
      this.serviceOnce();
    } finally {
      this.inService = false;
    }
  }

  private serviceOnce(): void {
    const page = this.page;
    if (this.st.kind === "failed") return;
    if (page.error !== XENSTORE_ERROR_NONE) {
      this.fail(`xenstored stopped serving this ring (error ${page.error})`);
      return;
    }
    if (this.st.kind === "reconnecting") {
      if (page.connection !== XENSTORE_CONNECTED) return;
      this.reqProd = page.reqProd;
      this.rspCons = page.rspCons;
      this.st = { kind: "connected" };
    }
    let changed = false;
    for (;;) {
      const w = this.writeRequests();
      const r = this.readReplies();
      if (w < 0 || r < 0) return;
      if (w === 0 && r === 0) break;
      changed = true;
    }
    if (changed) this.notify();
  }

  close(): void {
    this.fail("closed");
  }

  private writeRequests(): number {
    const page = this.page;
    const cons = page.reqCons;
    if (!ringIndexesValid(cons, this.reqProd)) return this.fail("xenstored corrupted req_cons");
    let written = 0;
    while (this.pending.length > 0) {
      const space = XENSTORE_RING_SIZE - ((this.reqProd - cons) >>> 0);
      if (space === 0) break;
      const head = this.pending[0]!;
      const contiguous = XENSTORE_RING_SIZE - (this.reqProd & (XENSTORE_RING_SIZE - 1));
      const n = Math.min(space, contiguous, head.length - this.pendingOffset);
      page.bytes.set(
        head.subarray(this.pendingOffset, this.pendingOffset + n),
        XenstoreRingPage.reqOffset(this.reqProd),
      );
      this.reqProd = (this.reqProd + n) >>> 0;
      this.pendingOffset += n;
      written += n;
      if (this.pendingOffset === head.length) {
        this.pending.shift();
        this.pendingOffset = 0;
      }
    }
    if (written > 0) page.reqProd = this.reqProd;
    return written;
  }

  private readReplies(): number {
    const page = this.page;
    const prod = page.rspProd;
    if (!ringIndexesValid(this.rspCons, prod)) return this.fail("xenstored corrupted rsp_prod");
    let read = 0;
    while (this.st.kind === "connected") {
      const avail = (prod - this.rspCons) >>> 0;
      if (avail === 0) break;
      const contiguous = Math.min(avail, XENSTORE_RING_SIZE - (this.rspCons & (XENSTORE_RING_SIZE - 1)));
      const r = this.assembler.push(page.bytes, XenstoreRingPage.rspOffset(this.rspCons), contiguous);
      this.rspCons = (this.rspCons + r.taken) >>> 0;
      read += r.taken;
      if (this.assembler.state.kind === "too-long") {
        page.rspCons = this.rspCons;
        return this.fail("xenstored sent a payload over 4096 bytes");
      }
      if (r.message !== undefined) this.onMessage?.(r.message);
    }
    if (read > 0) page.rspCons = this.rspCons;
    return read;
  }

  private fail(reason: string): -1 {
    if (this.st.kind !== "failed") {
      this.st = { kind: "failed", reason };
      this.pending.length = 0;
      this.onClose?.(reason);
    }
    return -1;
  }
}
