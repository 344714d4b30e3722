import { XENSTORE_RING_SIZE } from "../../src/xen/xenstore-layout.js";
import {
  encodeMessage,
  encodeStrings,
  MessageAssembler,
  type XsMessage,
} from "../../src/xenstore/message.js";
import { XenstoreRingPage } from "../../src/xenstore/ring-page.js";

/**
 * A guest that writes raw bytes into its xenstore ring and reads raw replies, with no client
 * library in between, so tests can send exactly what a hostile or buggy guest would.
 */
export class RawGuest {
  readonly page: XenstoreRingPage;
  private readonly assembler = new MessageAssembler();
  private rspCons: number;
  private reqProd: number;

  constructor(page: XenstoreRingPage) {
    this.page = page;
    this.rspCons = page.rspCons;
    this.reqProd = page.reqProd;
  }

  /** Free bytes in `req[]`. */
  space(): number {
    return XENSTORE_RING_SIZE - ((this.reqProd - this.page.reqCons) >>> 0);
  }

  /** Copy `bytes` into `req[]` (as much as fits) and publish `req_prod`; returns bytes written. */
  writeBytes(bytes: Uint8Array): number {
    const space = XENSTORE_RING_SIZE - ((this.reqProd - this.page.reqCons) >>> 0);
    const n = Math.min(space, bytes.length);
    for (let i = 0; i < n; i++) this.page.bytes[XenstoreRingPage.reqOffset(this.reqProd + i)] = bytes[i]!;
    this.reqProd = (this.reqProd + n) >>> 0;
    this.page.reqProd = this.reqProd;
    return n;
  }

  /** Send one request of strings (each NUL-terminated). */
  request(type: number, strings: readonly string[], reqId = 1, txId = 0): void {
    this.writeBytes(encodeMessage(type, reqId, txId, encodeStrings(strings)));
  }

  /** Every whole message now in `rsp[]`, consuming them. */
  replies(): XsMessage[] {
    const out: XsMessage[] = [];
    const prod = this.page.rspProd;
    while (this.rspCons !== prod) {
      const r = this.assembler.push(this.page.bytes, XenstoreRingPage.rspOffset(this.rspCons), 1);
      this.rspCons = (this.rspCons + r.taken) >>> 0;
      if (r.message !== undefined) out.push(r.message);
    }
    this.page.rspCons = this.rspCons;
    return out;
  }
}

/** A reply as `TYPE payload-strings`, e.g. `16 EINVAL` or `2 value`. */
export function show(m: XsMessage): string {
  return `${m.type} ${new TextDecoder().decode(m.payload).replace(/\0/g, "|")}`;
}
