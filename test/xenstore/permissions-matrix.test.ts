import { describe, expect, it } from "vitest";
import { parsePerms, permsToStrings } from "../../src/xenstore/perms.js";
import { errnoOf, storeWithGuests, text } from "../_support/xenstore.js";

/**
 * Who may read and write what: xenstored's `perm_for_conn` (owner and dom0 get everything; the first
 * entry is the default for domains not listed) and `errno_from_parents` (a domain cannot tell a
 * missing node from one it may not see).
 */
describe("permission matrix", () => {
  function setup() {
    const { db, dom0 } = storeWithGuests([1, 2]);
    dom0.write("/local/domain/1/private", "p1");
    dom0.setPerms("/local/domain/1/private", parsePerms(["n1"]));
    dom0.write("/local/domain/1/shared", "s1");
    dom0.setPerms("/local/domain/1/shared", parsePerms(["n1", "r2"]));
    dom0.write("/local/domain/1/public", "pub");
    dom0.setPerms("/local/domain/1/public", parsePerms(["r1"]));
    dom0.write("/vm/secret", "dom0 only");
    const g1 = db.connect(1);
    const g2 = db.connect(2);
    const g3 = db.connect(3);
    return { db, dom0, g1, g2, g3 };
  }

  it("a guest reads and writes its own home, relative or absolute", () => {
    const { g1 } = setup();
    g1.write("data/x", "1");
    expect(text(g1.read("/local/domain/1/data/x"))).toBe("1");
    expect(text(g1.read("private"))).toBe("p1");
    g1.write("private", "changed");
    expect(permsToStrings(g1.getPerms("data/x"))).toEqual(["n1"]);
  });

  it("a guest can neither read nor write another guest's nodes", () => {
    const { g2 } = setup();
    expect(errnoOf(() => g2.read("/local/domain/1/private"))).toBe("EACCES");
    expect(errnoOf(() => g2.write("/local/domain/1/private", "x"))).toBe("EACCES");
    expect(errnoOf(() => g2.write("/local/domain/1/new", "x"))).toBe("EACCES");
    expect(errnoOf(() => g2.mkdir("/local/domain/1/newdir"))).toBe("EACCES");
    expect(errnoOf(() => g2.rm("/local/domain/1/private"))).toBe("EACCES");
    expect(errnoOf(() => g2.directory("/local/domain/1"))).toBe("EACCES");
    expect(errnoOf(() => g2.getPerms("/local/domain/1/private"))).toBe("EACCES");
    expect(errnoOf(() => g2.setPerms("/local/domain/1/private", parsePerms(["n1", "b2"])))).toBe("EACCES");
  });

  it("a guest cannot read or write dom0's private nodes", () => {
    const { g1 } = setup();
    for (const path of ["/vm/secret", "/vm", "/tool/xenstored", "/", "/local"]) {
      expect(errnoOf(() => g1.read(path))).toBe("EACCES");
      expect(errnoOf(() => g1.write(path, "x"))).toBe("EACCES");
    }
    expect(errnoOf(() => g1.write("/vm/new", "x"))).toBe("EACCES");
    expect(errnoOf(() => g1.rm("/vm"))).toBe("EACCES");
  });

  it("a guest reads what it was granted, and only that", () => {
    const { g2, g3 } = setup();
    expect(text(g2.read("/local/domain/1/shared"))).toBe("s1");
    expect(errnoOf(() => g2.write("/local/domain/1/shared", "x"))).toBe("EACCES");
    expect(errnoOf(() => g3.read("/local/domain/1/shared"))).toBe("EACCES");
    // The owner entry's access is the default for everyone not listed.
    expect(text(g2.read("/local/domain/1/public"))).toBe("pub");
    expect(text(g3.read("/local/domain/1/public"))).toBe("pub");
    expect(errnoOf(() => g3.write("/local/domain/1/public", "x"))).toBe("EACCES");
  });

  it("a later entry overrides the default for the domain it names", () => {
    const { dom0, g2, g3 } = setup();
    dom0.setPerms("/local/domain/1/public", parsePerms(["r1", "n3", "b2"]));
    expect(errnoOf(() => g3.read("/local/domain/1/public"))).toBe("EACCES");
    g2.write("/local/domain/1/public", "by 2");
    expect(text(dom0.read("/local/domain/1/public"))).toBe("by 2");
  });

  it("a missing node is ENOENT only to domains that could see it exist (errno_from_parents)", () => {
    const { g1, g2, g3 } = setup();
    expect(errnoOf(() => g1.read("/local/domain/1/nothing"))).toBe("ENOENT");
    expect(errnoOf(() => g2.read("/local/domain/1/nothing"))).toBe("EACCES");
    // Under a node g2 may read, a missing child is plainly missing.
    expect(errnoOf(() => g2.read("/local/domain/1/shared/nothing"))).toBe("ENOENT");
    expect(errnoOf(() => g3.read("/local/domain/1/shared/nothing"))).toBe("EACCES");
  });

  it("dom0 may do anything, and what it creates inherits the parent's owner", () => {
    const { dom0, g1 } = setup();
    expect(text(dom0.read("/local/domain/1/private"))).toBe("p1");
    dom0.write("/local/domain/1/device/vscsi/0/state", "1");
    expect(permsToStrings(dom0.getPerms("/local/domain/1/device/vscsi/0/state"))).toEqual(["n1"]);
    expect(text(g1.read("device/vscsi/0/state"))).toBe("1");
  });

  it("an unprivileged domain owns what it creates, keeping the parent's other entries", () => {
    const { dom0, db } = setup();
    dom0.write("/local/domain/2/area", "");
    dom0.setPerms("/local/domain/2/area", parsePerms(["r2", "b1"]));
    const g1 = db.connect(1);
    g1.write("/local/domain/2/area/from1/x", "y");
    expect(permsToStrings(dom0.getPerms("/local/domain/2/area/from1"))).toEqual(["r1", "b1"]);
    expect(permsToStrings(dom0.getPerms("/local/domain/2/area/from1/x"))).toEqual(["r1", "b1"]);
  });

  it("only the owner or dom0 changes permissions; only dom0 changes the owner", () => {
    const { dom0, g1, g2 } = setup();
    g1.setPerms("private", parsePerms(["n1", "r2"]));
    expect(text(g2.read("/local/domain/1/private"))).toBe("p1");
    expect(errnoOf(() => g1.setPerms("private", parsePerms(["n2"])))).toBe("EPERM");
    expect(errnoOf(() => g2.setPerms("/local/domain/1/shared", parsePerms(["n1", "b2"])))).toBe("EACCES");
    dom0.setPerms("/local/domain/1/private", parsePerms(["n2"]));
    expect(text(g2.read("/local/domain/1/private"))).toBe("p1");
    expect(errnoOf(() => g1.read("private"))).toBe("EACCES");
  });

  it("privileged requests are refused to guests", () => {
    const { g1, dom0 } = setup();
    expect(errnoOf(() => g1.introduce(5, 1, 1))).toBe("EACCES");
    expect(errnoOf(() => g1.release(1))).toBe("EACCES");
    expect(errnoOf(() => g1.isDomainIntroduced(0))).toBe("EACCES");
    expect(errnoOf(() => g1.setPerms("@releaseDomain", parsePerms(["r1"])))).toBe("EACCES");
    expect(dom0.isDomainIntroduced(0)).toBe(true);
  });
});
