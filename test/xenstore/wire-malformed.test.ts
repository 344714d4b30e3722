import { describe, expect, it } from "vitest";
import { XSD_HEADER_SIZE, XSD_LEN } from "../../src/xen/xenstore-layout.js";
import { encodeMessage, latin1 } from "../../src/xenstore/message.js";
import { parsePerms } from "../../src/xenstore/perms.js";
import { XenstoreRingPage } from "../../src/xenstore/ring-page.js";
import {
  XENSTORE_ERROR_NONE,
  XENSTORE_ERROR_PROTO,
  XENSTORE_ERROR_RINGIDX,
  XS_DIRECTORY,
  XS_ERROR,
  XS_INTRODUCE,
  XS_READ,
  XS_SET_PERMS,
  XS_TRANSACTION_END,
  XS_TRANSACTION_START,
  XS_WATCH,
  XS_WATCH_EVENT,
  XS_WRITE,
} from "../../src/xenstore/wire.js";
import { Xenstored } from "../../src/xenstore/xenstored.js";
import { RawGuest, show } from "./_raw-guest.js";

/**
 * Malformed input from a guest gets an `XS_ERROR` reply, or the guest's connection is closed with
 * the ring's `error` set; never a crash, and never an effect on another domain.
 */
describe("malformed wire input from a guest", () => {
  function setup() {
    const xsd = new Xenstored({ schedule: () => {} });
    const dom0 = xsd.db.connect(0);
    for (const id of [1, 2]) {
      dom0.write(`/local/domain/${id}/name`, `guest${id}`);
      dom0.setPerms(`/local/domain/${id}`, parsePerms([`n${id}`]));
      dom0.setPerms(`/local/domain/${id}/name`, parsePerms([`n${id}`]));
    }
    const guests = [1, 2].map((id) => {
      const page = XenstoreRingPage.allocate();
      const ring = xsd.attachRing(id, page, () => {});
      return { raw: new RawGuest(page), ring, page };
    });
    xsd.runUntilIdle();
    const [bad, good] = guests as [(typeof guests)[0], (typeof guests)[0]];
    /** The well-behaved guest still gets answers and events. */
    const goodStillServed = () => {
      good.raw.request(XS_READ, ["name"], 77);
      good.ring.onEvent();
      xsd.runUntilIdle();
      expect(good.raw.replies().map(show)).toContain("2 guest2");
      expect(good.page.error).toBe(XENSTORE_ERROR_NONE);
    };
    return { xsd, dom0, bad, good, goodStillServed };
  }

  function ask(s: ReturnType<typeof setup>, bytes: Uint8Array) {
    s.bad.raw.writeBytes(bytes);
    s.bad.ring.onEvent();
    s.xsd.runUntilIdle();
    return s.bad.raw.replies();
  }

  it("a payload length over 4096 closes that guest's connection with XENSTORE_ERROR_PROTO", () => {
    const s = setup();
    s.bad.raw.request(XS_WATCH, ["name", "tok"], 1);
    s.bad.ring.onEvent();
    s.xsd.runUntilIdle();
    expect(s.xsd.db.stats().watches).toBe(1);
    expect(s.bad.raw.replies().map(show)).toEqual([`${XS_WATCH} OK|`, `${XS_WATCH_EVENT} name|tok|`]);
    const header = encodeMessage(XS_READ, 2, 0, new Uint8Array(0));
    new DataView(header.buffer).setUint32(XSD_LEN, 4097, true);
    expect(ask(s, header)).toEqual([]);
    expect(s.bad.page.error).toBe(XENSTORE_ERROR_PROTO);
    expect(s.bad.ring.server.state).toEqual({ kind: "stopped", error: XENSTORE_ERROR_PROTO });
    // Its watches went with it, and it is not served any more.
    expect(s.xsd.db.stats().watches).toBe(0);
    s.bad.raw.request(XS_READ, ["name"], 3);
    s.bad.ring.onEvent();
    s.xsd.runUntilIdle();
    expect(s.bad.raw.replies()).toEqual([]);
    s.goodStillServed();
  });

  it("a string without its NUL is EINVAL", () => {
    const s = setup();
    const replies = ask(s, encodeMessage(XS_READ, 9, 0, latin1("name")));
    expect(replies.map((m) => [m.reqId, show(m)])).toEqual([[9, `${XS_ERROR} EINVAL|`]]);
    expect(ask(s, encodeMessage(XS_WATCH, 10, 0, latin1("name\0tok"))).map(show)).toEqual([
      `${XS_ERROR} EINVAL|`,
    ]);
    expect(ask(s, encodeMessage(XS_WRITE, 11, 0, latin1("name"))).map(show)).toEqual([`${XS_ERROR} EINVAL|`]);
    expect(ask(s, encodeMessage(XS_READ, 12, 0, latin1("na\0me\0"))).map(show)).toEqual([
      `${XS_ERROR} EINVAL|`,
    ]);
    expect(ask(s, encodeMessage(XS_SET_PERMS, 13, 0, latin1("name\0"))).map(show)).toEqual([
      `${XS_ERROR} EINVAL|`,
    ]);
    expect(ask(s, encodeMessage(XS_SET_PERMS, 14, 0, latin1("name\0x1\0"))).map(show)).toEqual([
      `${XS_ERROR} EINVAL|`,
    ]);
    expect(ask(s, encodeMessage(XS_DIRECTORY, 15, 0, new Uint8Array(0))).map(show)).toEqual([
      `${XS_ERROR} EINVAL|`,
    ]);
    s.goodStillServed();
  });

  it("an unknown type, or a reply type sent as a request, is ENOSYS; privileged ones EACCES", () => {
    const s = setup();
    for (const type of [23, 99, 0xffff, 0xffffffff, XS_ERROR, XS_WATCH_EVENT]) {
      expect(ask(s, encodeMessage(type, 5, 0, latin1("x\0"))).map(show), String(type)).toEqual([
        `${XS_ERROR} ENOSYS|`,
      ]);
    }
    expect(ask(s, encodeMessage(XS_INTRODUCE, 6, 0, latin1("3\x001\x001\0"))).map(show)).toEqual([
      `${XS_ERROR} EACCES|`,
    ]);
    s.goodStillServed();
  });

  it("an unknown tx_id is ENOENT; a nested TRANSACTION_START is EBUSY; a bad END argument EINVAL", () => {
    const s = setup();
    expect(ask(s, encodeMessage(XS_READ, 1, 4242, latin1("name\0"))).map(show)).toEqual([
      `${XS_ERROR} ENOENT|`,
    ]);
    expect(ask(s, encodeMessage(XS_TRANSACTION_END, 2, 4242, latin1("T\0"))).map(show)).toEqual([
      `${XS_ERROR} ENOENT|`,
    ]);
    const [started] = ask(s, encodeMessage(XS_TRANSACTION_START, 3, 0, latin1("\0")));
    const tx = Number(show(started!).split(" ")[1]!.replace("|", ""));
    expect(ask(s, encodeMessage(XS_TRANSACTION_START, 4, tx, latin1("\0"))).map(show)).toEqual([
      `${XS_ERROR} EBUSY|`,
    ]);
    expect(ask(s, encodeMessage(XS_TRANSACTION_END, 5, tx, latin1("maybe\0"))).map(show)).toEqual([
      `${XS_ERROR} EINVAL|`,
    ]);
    expect(
      ask(s, encodeMessage(XS_TRANSACTION_END, 6, tx, latin1("F\0"))).map((m) => [m.reqId, m.txId, show(m)]),
    ).toEqual([[6, tx, `${XS_TRANSACTION_END} OK|`]]);
    s.goodStillServed();
  });

  it("a reply that would exceed 4096 bytes is E2BIG", () => {
    const s = setup();
    for (let i = 0; i < 200; i++) s.dom0.write(`/local/domain/1/many/child-with-a-long-name-${i}`, "");
    expect(ask(s, encodeMessage(XS_DIRECTORY, 1, 0, latin1("many\0"))).map(show)).toEqual([
      `${XS_ERROR} E2BIG|`,
    ]);
  });

  it("a request producer index more than a ring ahead stops the guest with XENSTORE_ERROR_RINGIDX", () => {
    const s = setup();
    s.bad.page.reqProd = (s.bad.page.reqCons + 1025) >>> 0;
    s.bad.ring.onEvent();
    s.xsd.runUntilIdle();
    expect(s.bad.page.error).toBe(XENSTORE_ERROR_RINGIDX);
    expect(s.bad.ring.server.state.kind).toBe("stopped");
    s.goodStillServed();
  });

  it("a response consumer index moved past the producer stops the guest with XENSTORE_ERROR_RINGIDX", () => {
    const s = setup();
    s.bad.page.rspCons = (s.bad.page.rspProd + 1) >>> 0;
    s.bad.raw.request(XS_READ, ["name"], 1);
    s.bad.ring.onEvent();
    s.xsd.runUntilIdle();
    expect(s.bad.page.error).toBe(XENSTORE_ERROR_RINGIDX);
    s.goodStillServed();
  });

  it("a guest scribbling on req_cons, which xenstored owns, changes nothing", () => {
    const s = setup();
    s.bad.raw.request(XS_READ, ["name"], 1);
    s.bad.page.reqCons = 0xdeadbeef;
    s.bad.ring.onEvent();
    s.xsd.runUntilIdle();
    expect(s.bad.raw.replies().map(show)).toEqual(["2 guest1"]);
    expect(s.bad.page.error).toBe(XENSTORE_ERROR_NONE);
  });

  it("random garbage never crashes the server and never reaches the other guest", () => {
    const s = setup();
    let seed = 12345;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed >>> 16;
    };
    for (let round = 0; round < 200 && s.bad.ring.server.state.kind === "serving"; round++) {
      // Plausible headers with random type, ids and small lengths, then random payload bytes.
      const len = rand() % 64;
      const payload = new Uint8Array(len).map(() => (rand() % 4 === 0 ? 0 : 0x2f + (rand() % 80)));
      s.bad.raw.writeBytes(encodeMessage(rand() % 26, rand(), rand() % 3, payload));
      s.bad.ring.onEvent();
      s.xsd.runUntilIdle();
      for (const m of s.bad.raw.replies()) expect(m.payload.length).toBeLessThanOrEqual(4096);
    }
    expect(XSD_HEADER_SIZE).toBe(16);
    s.goodStillServed();
  });
});
