import fc from "fast-check";
import { expect, it } from "vitest";
import { XenstoreDb } from "../../src/xenstore/database.js";
import type { XsDbConnection } from "../../src/xenstore/db-connection.js";
import { ModelStore, outcome } from "./_model.js";

const PATHS = ["/s/a", "/s/b", "/s/a/x", "/s/c"];

type Op =
  | { kind: "read"; path: string }
  | { kind: "directory"; path: string }
  | { kind: "write"; path: string; value: string }
  | { kind: "rm"; path: string };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("read" as const), path: fc.constantFrom(...PATHS) }),
  fc.record({ kind: fc.constant("directory" as const), path: fc.constantFrom("/s", "/s/a") }),
  fc.record({
    kind: fc.constant("write" as const),
    path: fc.constantFrom(...PATHS),
    value: fc.constantFrom("1", "2", "3"),
  }),
  fc.record({ kind: fc.constant("rm" as const), path: fc.constantFrom(...PATHS) }),
);

/** One step of the schedule: an operation of transaction `tx`, or a direct (non-transactional) write. */
const stepArb = fc.oneof(
  fc.record({ tx: fc.integer({ min: 0, max: 2 }), op: opArb }),
  fc.record({ tx: fc.constant(-1), op: opArb }),
);

function runDb(c: XsDbConnection, op: Op, txId: number): string {
  return outcome(() => {
    switch (op.kind) {
      case "read":
        return c.read(op.path, txId);
      case "directory":
        return c.directory(op.path, txId);
      case "write":
        return c.write(op.path, op.value, txId);
      case "rm":
        return c.rm(op.path, txId);
    }
  });
}

function runModel(m: ModelStore, op: Op): string {
  return outcome(() => {
    switch (op.kind) {
      case "read":
        return new TextEncoder().encode(m.read(op.path));
      case "directory":
        return m.directory(op.path);
      case "write":
        return m.write(op.path, op.value);
      case "rm":
        return m.rm(op.path);
    }
  });
}

/**
 * Serializability: interleave three transactions and direct writes at random, commit the
 * transactions in a random order, and check that the committed history equals running the same
 * units one after another, in commit order, on a simple model: every committed transaction saw
 * what it would have seen alone, and the final trees agree.
 */
it("committed transactions are serializable in commit order", () => {
  fc.assert(
    fc.property(
      fc.array(stepArb, { maxLength: 30 }),
      fc.constantFrom([0, 1, 2], [2, 1, 0], [1, 0, 2], [0, 2, 1]),
      fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
      (steps, commitOrder, wantCommit) => {
        const db = new XenstoreDb();
        const conns = [db.connect(0), db.connect(0), db.connect(0)];
        const direct = db.connect(0);
        direct.mkdir("/s");
        const ids = conns.map((c) => c.transactionStart());
        const seen: { op: Op; result: string }[][] = [[], [], []];
        // Committed units in commit order: a direct op, or a transaction's ops with its results.
        const history: { ops: Op[]; results: string[] }[] = [];
        for (const { tx, op } of steps) {
          if (tx < 0) {
            const result = runDb(direct, op, 0);
            history.push({ ops: [op], results: [result] });
          } else {
            seen[tx]!.push({ op, result: runDb(conns[tx]!, op, ids[tx]!) });
          }
        }
        for (const t of commitOrder) {
          const r = outcome(() => conns[t]!.transactionEnd(ids[t]!, wantCommit[t]!));
          if (r === "ok" && wantCommit[t]) {
            history.push({ ops: seen[t]!.map((s) => s.op), results: seen[t]!.map((s) => s.result) });
          } else {
            expect(["ok", "EAGAIN"]).toContain(r);
          }
        }
        const model = new ModelStore();
        model.write("/tool/xenstored", "");
        model.mkdir("/s");
        for (const unit of history) {
          unit.ops.forEach((op, i) => {
            expect(runModel(model, op), JSON.stringify(op)).toBe(unit.results[i]);
          });
        }
        for (const p of ["/s", ...PATHS]) {
          expect(runDb(direct, { kind: "read", path: p }, 0)).toBe(
            runModel(model, { kind: "read", path: p }),
          );
        }
        expect(db.stats().transactions).toBe(0);
      },
    ),
    { numRuns: 400 },
  );
});
