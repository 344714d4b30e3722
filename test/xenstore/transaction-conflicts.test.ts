import { describe, expect, it } from "vitest";
import { parsePerms } from "../../src/xenstore/perms.js";
import { errnoOf, storeWithGuests, text } from "../_support/xenstore.js";

/**
 * The conflict rule: a commit fails with EAGAIN iff a node the transaction depended on (read,
 * listed, wrote, created, removed, or relied on being absent) changed since it started.
 */
describe("transaction conflicts", () => {
  it("isolates: a transaction sees its own writes, others see them only after commit", () => {
    const { dom0, db } = storeWithGuests([1]);
    const other = db.connect(0);
    const tx = dom0.transactionStart();
    dom0.write("/t/a", "1", tx);
    expect(text(dom0.read("/t/a", tx))).toBe("1");
    expect(dom0.directory("/t", tx)).toEqual(["a"]);
    expect(errnoOf(() => other.read("/t/a"))).toBe("ENOENT");
    dom0.transactionEnd(tx, true);
    expect(text(other.read("/t/a"))).toBe("1");
  });

  it("a commit whose read node was changed meanwhile fails with EAGAIN and applies nothing", () => {
    const { dom0, db } = storeWithGuests([]);
    const other = db.connect(0);
    dom0.write("/c/counter", "1");
    const tx = dom0.transactionStart();
    const n = Number(text(dom0.read("/c/counter", tx)));
    dom0.write("/c/counter", String(n + 1), tx);
    other.write("/c/counter", "10");
    expect(errnoOf(() => dom0.transactionEnd(tx, true))).toBe("EAGAIN");
    expect(text(other.read("/c/counter"))).toBe("10");
  });

  it("a commit conflicts with a removal of, or a creation at, a path it depended on", () => {
    const { dom0, db } = storeWithGuests([]);
    const other = db.connect(0);
    dom0.write("/c/x", "1");
    const tx1 = dom0.transactionStart();
    dom0.read("/c/x", tx1);
    other.rm("/c/x");
    expect(errnoOf(() => dom0.transactionEnd(tx1, true))).toBe("EAGAIN");

    const tx2 = dom0.transactionStart();
    expect(errnoOf(() => dom0.read("/c/y", tx2))).toBe("ENOENT");
    dom0.write("/c/z", "relied on /c/y being absent", tx2);
    other.write("/c/y", "now present");
    expect(errnoOf(() => dom0.transactionEnd(tx2, true))).toBe("EAGAIN");
  });

  it("a directory listing conflicts with a child added meanwhile", () => {
    const { dom0, db } = storeWithGuests([]);
    const other = db.connect(0);
    dom0.mkdir("/list");
    const tx = dom0.transactionStart();
    dom0.directory("/list", tx);
    dom0.write("/summary", "0 children", tx);
    other.write("/list/new", "");
    expect(errnoOf(() => dom0.transactionEnd(tx, true))).toBe("EAGAIN");
  });

  it("commits despite changes to nodes it never touched, such as another guest's", () => {
    const { dom0, db } = storeWithGuests([1, 2]);
    const g2 = db.connect(2);
    dom0.write("/local/domain/1/device/vscsi/0/state", "1");
    const tx = dom0.transactionStart();
    dom0.write("/local/domain/1/device/vscsi/0/state", "3", tx);
    g2.write("data/churn", "1");
    g2.write("data/churn", "2");
    dom0.transactionEnd(tx, true);
    expect(text(dom0.read("/local/domain/1/device/vscsi/0/state"))).toBe("3");
  });

  it("of two transactions over the same node, the first to commit wins", () => {
    const { dom0, db } = storeWithGuests([]);
    const c2 = db.connect(0);
    dom0.write("/n", "0");
    const a = dom0.transactionStart();
    const b = c2.transactionStart();
    dom0.write("/n", `${text(dom0.read("/n", a))}a`, a);
    c2.write("/n", `${text(c2.read("/n", b))}b`, b);
    dom0.transactionEnd(a, true);
    expect(errnoOf(() => c2.transactionEnd(b, true))).toBe("EAGAIN");
    expect(text(dom0.read("/n"))).toBe("0a");
  });

  it("an aborted or unknown transaction id is ENOENT; ids are never 0 and unique per connection", () => {
    const { dom0 } = storeWithGuests([]);
    const a = dom0.transactionStart();
    const b = dom0.transactionStart();
    expect(a).not.toBe(0);
    expect(b).not.toBe(a);
    dom0.transactionEnd(a, false);
    expect(errnoOf(() => dom0.read("/", a))).toBe("ENOENT");
    expect(errnoOf(() => dom0.transactionEnd(a, true))).toBe("ENOENT");
    expect(errnoOf(() => dom0.transactionEnd(0, true))).toBe("ENOENT");
    expect(errnoOf(() => dom0.write("/x", "1", 12345))).toBe("ENOENT");
    dom0.transactionEnd(b, false);
  });

  it("replays permission changes and removals made in the transaction", () => {
    const { dom0, db } = storeWithGuests([1]);
    const g1 = db.connect(1);
    dom0.write("/shared/a", "1");
    dom0.write("/shared/b", "2");
    const tx = dom0.transactionStart();
    dom0.setPerms("/shared/a", parsePerms(["n0", "r1"]), tx);
    dom0.rm("/shared/b", tx);
    expect(errnoOf(() => g1.read("/shared/a"))).toBe("EACCES");
    dom0.transactionEnd(tx, true);
    expect(text(g1.read("/shared/a"))).toBe("1");
    expect(errnoOf(() => dom0.read("/shared/b"))).toBe("ENOENT");
  });
});
