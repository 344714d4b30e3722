import { describe, expect, it } from "vitest";
import { XenstoreDb } from "../../src/xenstore/database.js";
import { dumpFile, rootOfDumpFile } from "../../src/xenstore/dump.js";
import { parsePerms, permsToStrings } from "../../src/xenstore/perms.js";

/** dump() and the dump file format: what xenstore-ls --from reads. */
describe("dump", () => {
  it("round-trips values (text and binary), permissions, child order and node ownership", () => {
    const db = new XenstoreDb();
    const c = db.connect(0);
    c.write("/z/9", "nine");
    c.write("/z/10", "ten");
    c.write("/z/a", new Uint8Array([0xff, 0x00, 0x41]));
    c.setPerms("/z", parsePerms(["b3", "r4"]));
    const json = JSON.parse(JSON.stringify(dumpFile(db.dump())));
    const copy = new XenstoreDb({ root: rootOfDumpFile(json, "test") });
    const d = copy.connect(0);
    expect(d.directory("/z")).toEqual(["9", "10", "a"]);
    expect([...d.read("/z/a")]).toEqual([0xff, 0x00, 0x41]);
    expect(permsToStrings(d.getPerms("/z"))).toEqual(["b3", "r4"]);
    expect(copy.ownedNodes(3)).toBe(1);
    expect(copy.dump()).toEqual(db.dump());
    expect(db.dump("/z").name).toBe("z");
  });

  it("rejects documents that are not dumps, naming what is wrong", () => {
    expect(() => rootOfDumpFile({ format: "other" }, "f.json")).toThrow(/f\.json: not a xenstore dump/);
    expect(() => rootOfDumpFile({ format: "pvscsi-xenstore-dump", version: 2 }, "f.json")).toThrow(
      /version 2/,
    );
    const root = { name: "", perms: ["n0"], children: [{ name: "a/b", perms: ["n0"] }] };
    expect(() => new XenstoreDb({ root })).toThrow(/root\.children\[0\]\.name/);
    const dup = {
      name: "",
      perms: ["n0"],
      children: [
        { name: "a", perms: ["n0"] },
        { name: "a", perms: ["n0"] },
      ],
    };
    expect(() => new XenstoreDb({ root: dup })).toThrow(/duplicate/);
  });
});
