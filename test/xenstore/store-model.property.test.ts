import fc from "fast-check";
import { expect, it } from "vitest";
import { XenstoreDb } from "../../src/xenstore/database.js";
import { ModelStore, outcome } from "./_model.js";

const PATHS = ["/p", "/p/a", "/p/b", "/p/a/x", "/p/a/y", "/p/b/x", "/q"];

const opArb = fc.oneof(
  fc.record({
    kind: fc.constant("write" as const),
    path: fc.constantFrom(...PATHS),
    value: fc.string({ maxLength: 3 }),
  }),
  fc.record({ kind: fc.constant("mkdir" as const), path: fc.constantFrom(...PATHS) }),
  fc.record({ kind: fc.constant("rm" as const), path: fc.constantFrom(...PATHS) }),
  fc.record({ kind: fc.constant("read" as const), path: fc.constantFrom(...PATHS) }),
  fc.record({ kind: fc.constant("directory" as const), path: fc.constantFrom(...PATHS) }),
);

/** Random sequences of operations give the same results and tree as the simple model. */
it("the store agrees with a simple model on random operation sequences", () => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
      const db = new XenstoreDb();
      const c = db.connect(0);
      const model = new ModelStore();
      model.write("/tool/xenstored", "");
      for (const op of ops) {
        const got = outcome(() => {
          switch (op.kind) {
            case "write":
              return c.write(op.path, op.value);
            case "mkdir":
              return c.mkdir(op.path);
            case "rm":
              return c.rm(op.path);
            case "read":
              return c.read(op.path);
            case "directory":
              return c.directory(op.path);
          }
        });
        const want = outcome(() => {
          switch (op.kind) {
            case "write":
              return model.write(op.path, op.value);
            case "mkdir":
              return model.mkdir(op.path);
            case "rm":
              return model.rm(op.path);
            case "read":
              return new TextEncoder().encode(model.read(op.path));
            case "directory":
              return model.directory(op.path);
          }
        });
        expect(got, JSON.stringify(op)).toBe(want);
      }
      expect(db.stats().nodes).toBe(model.nodes.size);
      expect(db.ownedNodes(0)).toBe(model.nodes.size);
    }),
    { numRuns: 300 },
  );
});
