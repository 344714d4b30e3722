import { describe, expect, it } from "vitest";
import { parsePerms } from "../../src/xenstore/perms.js";
import { drainEvents, errnoOf, storeWithGuests } from "../_support/xenstore.js";

/** When watches fire (docs/misc/xenstore.txt "WATCH", xenstored's `fire_watches`). */
describe("watch firing", () => {
  it("fires once on registration, with the path as given", () => {
    const { dom0 } = storeWithGuests([1]);
    dom0.watch("/local/domain/1/device", "t");
    expect(drainEvents(dom0)).toEqual(["/local/domain/1/device t"]);
  });

  it("fires on a change at or below the path, not above or beside it", () => {
    const { dom0 } = storeWithGuests([1]);
    dom0.watch("/a/b", "t");
    drainEvents(dom0);
    dom0.write("/a/b", "1");
    dom0.write("/a/b/c/d", "2");
    dom0.write("/a", "above");
    dom0.write("/a/bc", "beside");
    dom0.write("/a/x", "sibling");
    expect(drainEvents(dom0)).toEqual(["/a/b t", "/a/b/c/d t"]);
  });

  it("fires for a write of the same value, a mkdir that creates and a permission change", () => {
    const { dom0 } = storeWithGuests([]);
    dom0.write("/a", "v");
    dom0.watch("/a", "t");
    drainEvents(dom0);
    dom0.write("/a", "v");
    dom0.mkdir("/a/new");
    dom0.mkdir("/a/new"); // exists: no change, no event
    dom0.setPerms("/a", parsePerms(["r0"]));
    expect(drainEvents(dom0)).toEqual(["/a t", "/a/new t", "/a t"]);
  });

  it("fires on removal: watches above see the removed path, watches on removed nodes see their own", () => {
    const { dom0 } = storeWithGuests([]);
    dom0.write("/r/a/b/c", "1");
    dom0.write("/r/a/e", "2");
    dom0.watch("/r", "above");
    dom0.watch("/r/a/b/c", "below");
    dom0.watch("/r/a/zzz", "missing");
    drainEvents(dom0);
    dom0.rm("/r/a");
    expect(drainEvents(dom0)).toEqual(["/r/a above", "/r/a/b/c below"]);
    dom0.rm("/r/a"); // already gone: nothing changes
    expect(drainEvents(dom0)).toEqual([]);
  });

  it("reports relative paths to a watch registered with a relative path", () => {
    const { db } = storeWithGuests([1]);
    const g1 = db.connect(1);
    g1.watch("device", "rel");
    g1.watch("/local/domain/1/device", "abs");
    g1.write("device/vscsi/0/state", "1");
    expect(drainEvents(g1)).toEqual([
      "device rel",
      "/local/domain/1/device abs",
      "device/vscsi/0/state rel",
      "/local/domain/1/device/vscsi/0/state abs",
    ]);
    g1.unwatch("device", "rel");
    g1.write("device/x", "1");
    expect(drainEvents(g1)).toEqual(["/local/domain/1/device/x abs"]);
  });

  it("does not tell a guest about nodes it may not read", () => {
    const { db, dom0 } = storeWithGuests([1, 2]);
    const g2 = db.connect(2);
    g2.watch("/local/domain/1", "spy");
    g2.watch("/", "root");
    drainEvents(g2);
    dom0.write("/local/domain/1/secret", "x");
    dom0.write("/vm/1", "x");
    expect(drainEvents(g2)).toEqual([]);
    // Granted read access: now it hears of changes.
    dom0.write("/local/domain/1/open", "");
    dom0.setPerms("/local/domain/1/open", parsePerms(["n1", "r2"]));
    dom0.write("/local/domain/1/open", "y");
    expect(drainEvents(g2)).toEqual([
      "/local/domain/1/open spy",
      "/local/domain/1/open root",
      "/local/domain/1/open spy",
      "/local/domain/1/open root",
    ]);
  });

  it("tells a watcher that loses read access about the permission change that took it", () => {
    const { db, dom0 } = storeWithGuests([1, 2]);
    dom0.write("/local/domain/1/open", "");
    dom0.setPerms("/local/domain/1/open", parsePerms(["n1", "r2"]));
    const g2 = db.connect(2);
    g2.watch("/local/domain/1/open", "t");
    drainEvents(g2);
    dom0.setPerms("/local/domain/1/open", parsePerms(["n1"]));
    dom0.write("/local/domain/1/open", "hidden");
    expect(drainEvents(g2)).toEqual(["/local/domain/1/open t"]);
  });

  it("fires changes made in a transaction only when it commits, and never if it aborts", () => {
    const { dom0, db } = storeWithGuests([1]);
    const g1 = db.connect(1);
    g1.watch("device", "t");
    drainEvents(g1);
    const aborted = dom0.transactionStart();
    dom0.write("/local/domain/1/device/a", "1", aborted);
    expect(drainEvents(g1)).toEqual([]);
    dom0.transactionEnd(aborted, false);
    expect(drainEvents(g1)).toEqual([]);
    const tx = dom0.transactionStart();
    dom0.write("/local/domain/1/device/b", "1", tx);
    dom0.rm("/local/domain/1/device/b", tx);
    dom0.write("/local/domain/1/device/c", "1", tx);
    expect(drainEvents(g1)).toEqual([]);
    dom0.transactionEnd(tx, true);
    expect(drainEvents(g1)).toEqual(["device/b t", "device/b t", "device/c t"]);
  });

  it("rejects a duplicate (path, token) and unwatching what is not watched", () => {
    const { dom0 } = storeWithGuests([]);
    dom0.watch("/x", "t");
    expect(errnoOf(() => dom0.watch("/x", "t"))).toBe("EEXIST");
    dom0.watch("/x", "other");
    expect(errnoOf(() => dom0.unwatch("/x", "nope"))).toBe("ENOENT");
    expect(errnoOf(() => dom0.watch("bad//path", "t"))).toBe("EINVAL");
  });

  it("@introduceDomain and @releaseDomain fire for the privileged domain and whoever it grants", () => {
    const { db, dom0 } = storeWithGuests([1, 2]);
    const g1 = db.connect(1);
    dom0.watch("@introduceDomain", "in");
    dom0.watch("@releaseDomain", "out");
    g1.watch("@releaseDomain", "g1");
    drainEvents(dom0);
    drainEvents(g1);
    dom0.introduce(2, 100, 3);
    dom0.release(2);
    expect(drainEvents(dom0)).toEqual(["@introduceDomain in", "@releaseDomain out"]);
    expect(drainEvents(g1)).toEqual([]);
    dom0.setPerms("@releaseDomain", parsePerms(["n0", "r1"]));
    dom0.introduce(2, 100, 3);
    dom0.release(2);
    expect(drainEvents(g1)).toEqual(["@releaseDomain g1"]);
  });

  it("RESET_WATCHES drops every watch and transaction of the connection", () => {
    const { dom0 } = storeWithGuests([]);
    dom0.watch("/a", "t");
    const tx = dom0.transactionStart();
    dom0.resetWatches();
    drainEvents(dom0);
    dom0.write("/a", "1");
    expect(drainEvents(dom0)).toEqual([]);
    expect(errnoOf(() => dom0.transactionEnd(tx, true))).toBe("ENOENT");
  });
});
