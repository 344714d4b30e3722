import { describe, expect, it } from "vitest";
import { XenstoreRingPage } from "../../src/xenstore/ring-page.js";
import { type XenstoreDomainBinder, Xenstored } from "../../src/xenstore/xenstored.js";
import { homes, nextTurns, ringPair } from "./_pair.js";

const EMPTY = { connections: 0, watches: 0, transactions: 0, pendingEvents: 0 };

/** After teardown nothing is left behind: no connection, watch, transaction or queued event. */
describe("teardown", () => {
  it("closing clients and rings leaves no connection, watch, transaction or event behind", async () => {
    const xsd = new Xenstored();
    homes(xsd, [1, 2, 3]);
    const dom0 = xsd.client(0);
    const guests = [1, 2, 3].map((id) => ringPair(xsd, id));
    for (const g of guests) {
      await g.client.watch("device", () => {});
      await g.client.watch("@releaseDomain", () => {}).catch(() => undefined);
      await g.client.transactionStart();
    }
    await dom0.watch("/local", () => {});
    await dom0.transactionStart();
    await dom0.write("/local/domain/1/device/x", "1"); // queues events
    expect(xsd.db.stats().watches).toBeGreaterThanOrEqual(7);
    for (const g of guests) {
      g.client.close();
      g.ring.close();
    }
    dom0.close();
    await nextTurns();
    expect(xsd.db.stats()).toMatchObject(EMPTY);
    expect(xsd.stats()).toEqual({ rings: 0, localConnections: 0, ready: 0 });
    xsd.close();
  });

  it("RELEASE of an introduced domain unbinds its ring and drops its state", async () => {
    const bound: string[] = [];
    const binder: XenstoreDomainBinder = {
      bind: (domid, mfn, port) => {
        bound.push(`bind ${domid} ${mfn} ${port}`);
        return {
          page: XenstoreRingPage.allocate(),
          notify: () => {},
          unbind: () => bound.push(`unbind ${domid}`),
        };
      },
    };
    const xsd = new Xenstored({ binder });
    const dom0 = xsd.client(0);
    await dom0.introduce(7, 0x42, 9);
    expect(xsd.ring(7)).toBeDefined();
    expect(await dom0.isDomainIntroduced(7)).toBe(true);
    await dom0.release(7);
    expect(xsd.ring(7)).toBeUndefined();
    expect(bound).toEqual(["bind 7 66 9", "unbind 7"]);
    dom0.close();
    await nextTurns();
    expect(xsd.db.stats()).toMatchObject({ ...EMPTY, introducedDomains: 0 });
    expect(xsd.stats()).toEqual({ rings: 0, localConnections: 0, ready: 0 });
    xsd.close();
  });

  it("closing xenstored closes everything it serves", async () => {
    const xsd = new Xenstored();
    homes(xsd, [1]);
    const dom0 = xsd.client(0);
    const g = ringPair(xsd, 1);
    await g.client.watch("x", () => {});
    await dom0.transactionStart();
    xsd.close();
    expect(xsd.db.stats()).toMatchObject(EMPTY);
    expect(xsd.stats()).toEqual({ rings: 0, localConnections: 0, ready: 0 });
  });
});
