import { describe, expect, it } from "vitest";
import { parsePerms } from "../../src/xenstore/perms.js";
import { DEFAULT_QUOTAS } from "../../src/xenstore/quotas.js";
import { drainEvents, errnoOf, storeWithGuests } from "../_support/xenstore.js";

/** Per-domain quotas: a guest cannot exhaust the store; dom0 is not limited. */
describe("quotas", () => {
  it("defaults are xenstored's", () => {
    expect(DEFAULT_QUOTAS).toMatchObject({
      nodesPerDomain: 1000,
      maxValueSize: 2048,
      watchesPerDomain: 128,
      transactionsPerDomain: 10,
      permsPerNode: 5,
    });
  });

  it("nodes: a guest may own at most its quota; removing frees room; dom0 is exempt", () => {
    const { db, dom0 } = storeWithGuests([1], { quotas: { nodesPerDomain: 5 } });
    const g1 = db.connect(1);
    // /local/domain/1 itself is owned by the guest: 1 node.
    expect(db.ownedNodes(1)).toBe(1);
    g1.write("a/b/c", "x"); // 3 more
    expect(db.ownedNodes(1)).toBe(4);
    expect(errnoOf(() => g1.write("d/e", "x"))).toBe("ENOSPC");
    g1.write("d", "x");
    expect(errnoOf(() => g1.mkdir("f"))).toBe("ENOSPC");
    g1.rm("a");
    expect(db.ownedNodes(1)).toBe(2);
    g1.write("g", "");
    for (let i = 0; i < 20; i++) dom0.write(`/local/domain/1/by-dom0/${i}`, "");
    expect(db.ownedNodes(1)).toBeGreaterThan(5);
  });

  it("value size: a guest's value is at most maxValueSize bytes", () => {
    const { db, dom0 } = storeWithGuests([1], { quotas: { maxValueSize: 8 } });
    const g1 = db.connect(1);
    g1.write("ok", "12345678");
    expect(errnoOf(() => g1.write("ok", "123456789"))).toBe("ENOSPC");
    expect(errnoOf(() => g1.write("new", "123456789"))).toBe("ENOSPC");
    dom0.write("/local/domain/1/big", "x".repeat(100));
  });

  it("watches: a guest holds at most its quota; unwatching frees room", () => {
    const { db, dom0 } = storeWithGuests([1], { quotas: { watchesPerDomain: 3 } });
    const g1 = db.connect(1);
    for (let i = 0; i < 3; i++) g1.watch(`w${i}`, "t");
    expect(errnoOf(() => g1.watch("w3", "t"))).toBe("E2BIG");
    g1.unwatch("w0", "t");
    g1.watch("w3", "t");
    for (let i = 0; i < 10; i++) dom0.watch(`/w${i}`, "t");
  });

  it("transactions: a guest has at most its quota open at once", () => {
    const { db } = storeWithGuests([1], { quotas: { transactionsPerDomain: 2 } });
    const g1 = db.connect(1);
    const a = g1.transactionStart();
    g1.transactionStart();
    expect(errnoOf(() => g1.transactionStart())).toBe("ENOSPC");
    g1.transactionEnd(a, false);
    g1.transactionStart();
  });

  it("permissions: a guest sets at most permsPerNode entries", () => {
    const { db } = storeWithGuests([1], { quotas: { permsPerNode: 2 } });
    const g1 = db.connect(1);
    g1.write("p", "");
    g1.setPerms("p", parsePerms(["n1", "r2"]));
    expect(errnoOf(() => g1.setPerms("p", parsePerms(["n1", "r2", "r3"])))).toBe("ENOSPC");
  });

  it("transactions: a guest's transaction touches or changes at most nodesPerTransaction nodes", () => {
    const { db, dom0 } = storeWithGuests([1], { quotas: { nodesPerTransaction: 8 } });
    const g1 = db.connect(1);
    const tx = g1.transactionStart();
    for (let i = 0; i < 8; i++) g1.write("same", String(i), tx);
    expect(errnoOf(() => g1.write("same", "again", tx))).toBe("ENOSPC");
    expect(errnoOf(() => g1.read("same", tx))).toBe("ENOSPC");
    g1.transactionEnd(tx, false);
    const t0 = dom0.transactionStart();
    for (let i = 0; i < 20; i++) dom0.write("/x", String(i), t0);
    dom0.transactionEnd(t0, true);
  });

  it("pending watch events: past the bound new events are dropped and counted (XSA-349)", () => {
    const { db, dom0 } = storeWithGuests([1], { quotas: { pendingEventsPerConnection: 4 } });
    const g1 = db.connect(1);
    g1.watch("busy", "t");
    for (let i = 0; i < 10; i++) dom0.write("/local/domain/1/busy", String(i));
    expect(g1.pendingEvents).toBe(4);
    expect(g1.droppedEvents).toBe(7);
    expect(drainEvents(g1)).toHaveLength(4);
  });

  it("a commit that would take a guest over its quota fails and applies nothing", () => {
    const { db } = storeWithGuests([1], { quotas: { nodesPerDomain: 3 } });
    const g1 = db.connect(1);
    g1.mkdir("x"); // 2 owned
    const tx = g1.transactionStart();
    g1.write("a", "1", tx); // 3 inside the transaction
    g1.write("x/b", "1"); // 3 live, on nodes the transaction never touched
    expect(errnoOf(() => g1.transactionEnd(tx, true))).toBe("ENOSPC");
    expect(g1.directory("/local/domain/1")).toEqual(["x"]);
  });
});
