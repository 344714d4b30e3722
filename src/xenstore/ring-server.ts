import createDebug from "debug";
import { XENSTORE_RING_SIZE } from "../xen/xenstore-layout.js";
import type { ProtocolConnection } from "./protocol-connection.js";
import { ringIndexesValid, XenstoreRingPage } from "./ring-page.js";
import {
  XENSTORE_CONNECTED,
  XENSTORE_ERROR_NONE,
  XENSTORE_ERROR_PROTO,
  XENSTORE_ERROR_RINGIDX,
  XENSTORE_RECONNECT,
  XENSTORE_SERVER_FEATURE_ERROR,
  XENSTORE_SERVER_FEATURE_RECONNECTION,
} from "./wire.js";

const log = createDebug("pvscsi:xenstore");

/** A ring being served, or stopped for good with the `error` value written to the page. */
export type RingServerState =
  | { readonly kind: "serving" }
  | { readonly kind: "stopped"; readonly error: number };

/** Options of {@link XenstoreRingServer}. */
export interface RingServerOptions {
  /**
   * Request bytes taken from the ring in one {@link XenstoreRingServer.service} pass. With a
   * driver that serves each connection once per round, this is what makes one busy or hostile
   * guest unable to starve the others. Default 8192: two full-size requests.
   */
  readonly requestBytesPerPass?: number;
}

/**
 * xenstored's end of a domain's xenstore ring: moves request bytes from `req[]` into a
 * {@link ProtocolConnection} and reply bytes from it into `rsp[]`, and calls `notify` (the event
 * channel, once wired) after changing the page. Sans-IO: it runs only when {@link service} is
 * called, typically when the domain's event channel fires.
 *
 * It keeps its own copies of the indices it owns (`req_cons`, `rsp_prod`) and never trusts the
 * page's: a guest that makes `prod - cons` exceed the ring size gets `error =
 * XENSTORE_ERROR_RINGIDX`, one that sends a payload over 4096 bytes `XENSTORE_ERROR_PROTO`, and
 * either way is no longer served; its watches and transactions are dropped. Other domains are
 * unaffected.
 */
export class XenstoreRingServer {
  readonly page: XenstoreRingPage;
  readonly protocol: ProtocolConnection;
  private readonly notify: () => void;
  private readonly budget: number;
  private reqCons: number;
  private rspProd: number;
  private st: RingServerState = { kind: "serving" };

  constructor(
    page: XenstoreRingPage,
    protocol: ProtocolConnection,
    notify: () => void,
    options: RingServerOptions = {},
  ) {
    this.page = page;
    this.protocol = protocol;
    this.notify = notify;
    this.budget = options.requestBytesPerPass ?? 8192;
    // Pick up wherever the indices are: guests must not assume they start at 0.
    this.reqCons = page.reqCons;
    this.rspProd = page.rspProd;
    page.serverFeatures = XENSTORE_SERVER_FEATURE_RECONNECTION | XENSTORE_SERVER_FEATURE_ERROR;
  }

  get state(): RingServerState {
    return this.st;
  }

  /**
   * One bounded pass: handle a reconnection request, then alternately drain replies into `rsp[]`
   * and take requests from `req[]` until neither moves or the request budget is spent. Returns
   * whether work may remain (budget spent with requests still waiting), in which case the driver
   * should call again after serving the others.
   */
  service(): boolean {
    if (this.st.kind === "stopped") return false;
    const page = this.page;
    let changed = false;
    if (page.connection === XENSTORE_RECONNECT) {
      this.reconnect();
      changed = true;
    }
    let budget = this.budget;
    for (;;) {
      const wrote = this.writeReplies();
      if (wrote < 0) return false;
      const read = this.readRequests(budget);
      if (read < 0) return false;
      budget -= read;
      if (wrote > 0 || read > 0) changed = true;
      if (wrote === 0 && read === 0) break;
      if (budget <= 0) {
        if (changed) this.notify();
        return this.hasWork();
      }
    }
    if (changed) this.notify();
    return false;
  }

  /** Whether a pass would do something now. */
  hasWork(): boolean {
    if (this.st.kind === "stopped") return false;
    if (this.page.connection === XENSTORE_RECONNECT) return true;
    const pending = (this.page.reqProd - this.reqCons) >>> 0;
    const room = XENSTORE_RING_SIZE - ((this.rspProd - this.page.rspCons) >>> 0);
    return (pending > 0 && this.protocol.acceptsInput) || (room > 0 && this.protocol.hasOutput);
  }

  /** Stop serving (domain released); the page is left as it is. */
  stop(): void {
    if (this.st.kind === "serving") this.st = { kind: "stopped", error: XENSTORE_ERROR_NONE };
    this.protocol.close();
  }

  /** Bytes written to `rsp[]`, or -1 if the guest corrupted `rsp_cons`. */
  private writeReplies(): number {
    const page = this.page;
    const cons = page.rspCons;
    if (!ringIndexesValid(cons, this.rspProd)) return this.failIndexes("rsp", cons, this.rspProd);
    let written = 0;
    for (;;) {
      const used = (this.rspProd - cons) >>> 0;
      const space = XENSTORE_RING_SIZE - used;
      if (space === 0 || !this.protocol.hasOutput) break;
      const off = XenstoreRingPage.rspOffset(this.rspProd);
      const contiguous = Math.min(space, XENSTORE_RING_SIZE - (this.rspProd & (XENSTORE_RING_SIZE - 1)));
      const n = this.protocol.takeOutput(page.bytes, off, contiguous);
      if (n === 0) break;
      this.rspProd = (this.rspProd + n) >>> 0;
      written += n;
    }
    if (written > 0) page.rspProd = this.rspProd;
    return written;
  }

  /** Bytes taken from `req[]` (at most `budget`), or -1 if the connection had to be stopped. */
  private readRequests(budget: number): number {
    const page = this.page;
    const prod = page.reqProd;
    if (!ringIndexesValid(this.reqCons, prod)) return this.failIndexes("req", this.reqCons, prod);
    let read = 0;
    while (read < budget && this.protocol.acceptsInput) {
      const avail = (prod - this.reqCons) >>> 0;
      if (avail === 0) break;
      const off = XenstoreRingPage.reqOffset(this.reqCons);
      const contiguous = Math.min(
        avail,
        budget - read,
        XENSTORE_RING_SIZE - (this.reqCons & (XENSTORE_RING_SIZE - 1)),
      );
      const n = this.protocol.receive(page.bytes, off, contiguous);
      this.reqCons = (this.reqCons + n) >>> 0;
      read += n;
      if (n < contiguous) break;
    }
    if (read > 0) page.reqCons = this.reqCons;
    if (this.protocol.failure !== undefined) {
      log("dom%d: %s, connection stopped", this.protocol.db.domid, this.protocol.failure.kind);
      this.stopWith(XENSTORE_ERROR_PROTO);
      return -1;
    }
    return read;
  }

  private failIndexes(ring: string, cons: number, prod: number): -1 {
    log(
      "dom%d: %s indexes cons %d prod %d inconsistent, connection stopped",
      this.protocol.db.domid,
      ring,
      cons,
      prod,
    );
    this.stopWith(XENSTORE_ERROR_RINGIDX);
    return -1;
  }

  private stopWith(error: number): void {
    this.st = { kind: "stopped", error };
    this.page.error = error;
    this.protocol.close();
    this.notify();
  }

  /** docs/misc/xenstore-ring.txt "ring reconnection": empty both queues, drop all state. */
  private reconnect(): void {
    const page = this.page;
    this.protocol.reset();
    this.reqCons = page.reqProd;
    page.reqCons = this.reqCons;
    this.rspProd = page.rspCons;
    page.rspProd = this.rspProd;
    page.error = XENSTORE_ERROR_NONE;
    page.connection = XENSTORE_CONNECTED;
  }
}
