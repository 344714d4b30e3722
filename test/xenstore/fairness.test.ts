import { describe, expect, it } from "vitest";
import { encodeMessage, encodeStrings } from "../../src/xenstore/message.js";
import { parsePerms } from "../../src/xenstore/perms.js";
import { XenstoreRingPage } from "../../src/xenstore/ring-page.js";
import { XS_READ } from "../../src/xenstore/wire.js";
import { Xenstored } from "../../src/xenstore/xenstored.js";
import { RawGuest, show } from "./_raw-guest.js";

/** A busy, hostile or stuck guest delays the others by at most one bounded turn per pass. */
describe("fairness between domains", () => {
  function setup(requestBytesPerPass: number) {
    const xsd = new Xenstored({ schedule: () => {}, ring: { requestBytesPerPass } });
    const dom0 = xsd.db.connect(0);
    const guests = [1, 2].map((id) => {
      dom0.write(`/local/domain/${id}/name`, `guest${id}`);
      dom0.setPerms(`/local/domain/${id}`, parsePerms([`n${id}`]));
      dom0.setPerms(`/local/domain/${id}/name`, parsePerms([`n${id}`]));
      const page = XenstoreRingPage.allocate();
      return { raw: new RawGuest(page), ring: xsd.attachRing(id, page, () => {}), page };
    });
    xsd.runUntilIdle();
    return { xsd, flooder: guests[0]!, polite: guests[1]! };
  }

  const READ_NAME = encodeMessage(XS_READ, 1, 0, encodeStrings(["name"]));

  it("a guest flooding its ring gets one budget per pass; the other guest is answered in that pass", () => {
    const budget = 256;
    const { xsd, flooder, polite } = setup(budget);
    for (let pass = 0; pass < 20; pass++) {
      // The flooder keeps its request ring full and reads its replies as fast as it can.
      while (flooder.raw.space() >= READ_NAME.length) flooder.raw.writeBytes(READ_NAME);
      flooder.raw.replies();
      flooder.ring.onEvent();
      polite.raw.request(XS_READ, ["name"], 100 + pass);
      polite.ring.onEvent();
      const before = flooder.page.reqCons;
      const moreWork = xsd.service();
      expect(moreWork).toBe(true);
      expect((flooder.page.reqCons - before) >>> 0).toBeLessThanOrEqual(budget);
      expect(polite.raw.replies().map((m) => [m.reqId, show(m)])).toEqual([[100 + pass, "2 guest2"]]);
    }
  });

  it("a guest that never reads its replies stops being served, with bounded memory, and blocks no one", () => {
    const { xsd, flooder: stuck, polite } = setup(8192);
    for (let round = 0; round < 100; round++) {
      stuck.raw.writeBytes(READ_NAME);
      stuck.ring.onEvent();
      polite.raw.request(XS_READ, ["name"], round);
      polite.ring.onEvent();
      xsd.runUntilIdle();
      expect(polite.raw.replies().map(show)).toEqual(["2 guest2"]);
    }
    // The stuck guest's response ring is full and a few replies wait in the server; no more:
    // 46 replies of 22 bytes fill the 1024-byte ring, 4 more are queued, 1 request is held.
    const answered = stuck.ring.server.protocol.requests;
    expect(answered).toBeLessThanOrEqual(46 + 4);
    expect((stuck.page.rspProd - stuck.page.rspCons) >>> 0).toBeGreaterThan(1024 - 40);
    // Once it reads, it is served again.
    stuck.raw.replies();
    stuck.ring.onEvent();
    xsd.runUntilIdle();
    expect(stuck.ring.server.protocol.requests).toBeGreaterThan(answered);
  });
});
