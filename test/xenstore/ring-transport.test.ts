import { describe, expect, it } from "vitest";
import {
  XENSTORE_CONNECTED,
  XENSTORE_SERVER_FEATURE_ERROR,
  XENSTORE_SERVER_FEATURE_RECONNECTION,
} from "../../src/xenstore/wire.js";
import { Xenstored } from "../../src/xenstore/xenstored.js";
import { homes, nextTurns, ringPair } from "./_pair.js";

/** Both ends of a xenstore ring in one thread, over a SharedArrayBuffer page. */
describe("ring transport", () => {
  it("advertises reconnection and the error field", () => {
    const xsd = new Xenstored();
    const { page, client } = ringPair(xsd, 1);
    expect(page.serverFeatures).toBe(XENSTORE_SERVER_FEATURE_RECONNECTION | XENSTORE_SERVER_FEATURE_ERROR);
    client.close();
    xsd.close();
  });

  for (const start of [0, 0xffffff00, 0xfffffffe]) {
    it(`carries requests and replies bigger than the ring, indices starting at ${start.toString(16)}`, async () => {
      const xsd = new Xenstored();
      homes(xsd, [1]);
      const dom0 = xsd.client(0);
      const { client, page } = ringPair(xsd, 1, start);
      const big = "v".repeat(4000);
      await dom0.write("/local/domain/1/big", big);
      // 4000-byte reply through a 1024-byte ring, several times over: indices wrap past 2^32.
      for (let i = 0; i < 5; i++) expect(await client.read("big")).toBe(big);
      // Many requests in flight at once, answered in order.
      const writes = Array.from({ length: 40 }, (_, i) => client.write(`n/${i}`, String(i)));
      await Promise.all(writes);
      const reads = await Promise.all(Array.from({ length: 40 }, (_, i) => client.read(`n/${i}`)));
      expect(reads).toEqual(Array.from({ length: 40 }, (_, i) => String(i)));
      if (start > 0xffff0000) expect(page.reqProd).toBeLessThan(start);
      client.close();
      dom0.close();
      xsd.close();
    });
  }

  it("delivers watch events to the guest's callbacks", async () => {
    const xsd = new Xenstored();
    homes(xsd, [1]);
    const dom0 = xsd.client(0);
    const { client } = ringPair(xsd, 1);
    const seen: string[] = [];
    const w = await client.watch("device", (p) => seen.push(p));
    await dom0.write("/local/domain/1/device/vscsi/0/state", "1");
    await nextTurns();
    expect(seen).toEqual(["device", "device/vscsi/0/state"]);
    await w.unwatch();
    await dom0.write("/local/domain/1/device/vscsi/0/state", "2");
    await nextTurns();
    expect(seen).toHaveLength(2);
    client.close();
    dom0.close();
    xsd.close();
  });

  it("a reconnection drops the guest's watches and transactions, then serves it afresh", async () => {
    const xsd = new Xenstored();
    homes(xsd, [1]);
    const { client, transport, page } = ringPair(xsd, 1);
    await client.watch("x", () => {});
    await client.transactionStart();
    expect(xsd.db.stats()).toMatchObject({ watches: 1, transactions: 1 });
    transport.requestReconnect();
    await nextTurns();
    expect(page.connection).toBe(XENSTORE_CONNECTED);
    expect(transport.state.kind).toBe("connected");
    expect(xsd.db.stats()).toMatchObject({ watches: 0, transactions: 0 });
    await client.write("after", "reset");
    expect(await client.read("after")).toBe("reset");
    client.close();
    xsd.close();
  });
});
