import { describe, expect, it } from "vitest";
import { drainEvents, errnoOf, storeWithGuests } from "../_support/xenstore.js";

/** GET_DOMAIN_PATH, INTRODUCE, RELEASE and IS_DOMAIN_INTRODUCED. */
describe("domains", () => {
  it("GET_DOMAIN_PATH is /local/domain/<domid>, for anyone", () => {
    const { db } = storeWithGuests([1]);
    expect(db.connect(1).getDomainPath(5)).toBe("/local/domain/5");
  });

  it("INTRODUCE marks a domain introduced and tells the driver; RELEASE undoes both", () => {
    const { db, dom0 } = storeWithGuests([3]);
    const seen: string[] = [];
    db.domainListener = {
      introduced: (d, mfn, port) => seen.push(`in ${d} ${mfn} ${port}`),
      released: (d) => seen.push(`out ${d}`),
    };
    expect(dom0.isDomainIntroduced(3)).toBe(false);
    dom0.introduce(3, 0x1234, 7);
    expect(dom0.isDomainIntroduced(3)).toBe(true);
    dom0.introduce(3, 0x1234, 7); // same again: fine
    expect(errnoOf(() => dom0.introduce(3, 0x9999, 7))).toBe("EEXIST");
    dom0.release(3);
    expect(dom0.isDomainIntroduced(3)).toBe(false);
    expect(errnoOf(() => dom0.release(3))).toBe("ENOENT");
    expect(seen).toEqual(["in 3 4660 7", "out 3"]);
  });

  it("dom0 and reserved ids cannot be introduced", () => {
    const { dom0 } = storeWithGuests([]);
    expect(errnoOf(() => dom0.introduce(0, 1, 1))).toBe("EINVAL");
    expect(errnoOf(() => dom0.introduce(0x7ff0, 1, 1))).toBe("EINVAL");
  });

  it("RELEASE drops the domain's connections, watches and transactions, and fires @releaseDomain", () => {
    const { db, dom0 } = storeWithGuests([4]);
    dom0.introduce(4, 1, 1);
    const g4 = db.connect(4);
    g4.watch("x", "t");
    g4.transactionStart();
    dom0.watch("@releaseDomain", "r");
    drainEvents(dom0);
    dom0.release(4);
    expect(g4.isClosed).toBe(true);
    expect(db.stats()).toMatchObject({ watches: 1, transactions: 0, connections: 1 });
    expect(drainEvents(dom0)).toEqual(["@releaseDomain r"]);
  });
});
