import { expect } from "vitest";
import { XenstoreDb, type XenstoreDbOptions } from "../../src/xenstore/database.js";
import type { XsDbConnection } from "../../src/xenstore/db-connection.js";
import { parsePerms } from "../../src/xenstore/perms.js";

/** A store with `/local/domain/<id>` made for each guest the way libxl does: owned by the guest. */
export function storeWithGuests(
  guests: readonly number[],
  options?: XenstoreDbOptions,
): { db: XenstoreDb; dom0: XsDbConnection } {
  const db = new XenstoreDb(options);
  const dom0 = db.connect(0);
  dom0.mkdir("/local/domain/0");
  for (const id of guests) {
    dom0.mkdir(`/local/domain/${id}`);
    dom0.setPerms(`/local/domain/${id}`, parsePerms([`n${id}`]));
  }
  return { db, dom0 };
}

/** The errno a call throws (`XenstoreError.errno`), failing the test if it does not throw. */
export function errnoOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    const errno = (e as { errno?: unknown }).errno;
    if (typeof errno === "string") return errno;
    throw e;
  }
  expect.unreachable("expected a xenstore error");
  return "";
}

/** Every watch event queued on `conn`, as `path token` strings, emptying the queue. */
export function drainEvents(conn: XsDbConnection): string[] {
  const out: string[] = [];
  for (let e = conn.takeEvent(); e !== undefined; e = conn.takeEvent()) out.push(`${e.path} ${e.token}`);
  return out;
}

const decoder = new TextDecoder();
/** A value as text. */
export function text(v: Uint8Array): string {
  return decoder.decode(v);
}
