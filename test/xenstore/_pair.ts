import { XenstoreClient } from "../../src/xenstore/client.js";
import { parsePerms } from "../../src/xenstore/perms.js";
import { XenstoreRingClient } from "../../src/xenstore/ring-client.js";
import { XenstoreRingPage } from "../../src/xenstore/ring-page.js";
import type { Xenstored, XenstoredRing } from "../../src/xenstore/xenstored.js";

/**
 * A guest's xenstore connection in this thread: a ring page shared by xenstored's ring server and
 * the guest's ring client, each "event channel" a deferred call of the other side. `start` sets
 * all four indices first, to exercise wrap-around.
 */
export function ringPair(
  xsd: Xenstored,
  domid: number,
  start = 0,
): { client: XenstoreClient; transport: XenstoreRingClient; ring: XenstoredRing; page: XenstoreRingPage } {
  const page = XenstoreRingPage.allocate();
  page.reqCons = page.reqProd = page.rspCons = page.rspProd = start >>> 0;
  let transport: XenstoreRingClient | undefined;
  const ring = xsd.attachRing(domid, page, () => setImmediate(() => transport?.service()));
  transport = new XenstoreRingClient(page, () => ring.onEvent());
  return { client: new XenstoreClient(transport), transport, ring, page };
}

/** Make `/local/domain/<id>` for each guest, owned by it, as libxl does. */
export function homes(xsd: Xenstored, ids: readonly number[]): void {
  const c = xsd.db.connect(0);
  for (const id of ids) {
    c.mkdir(`/local/domain/${id}`);
    c.setPerms(`/local/domain/${id}`, parsePerms([`n${id}`]));
  }
  c.close();
}

/** Resolve after `ms` milliseconds of the event loop (for "nothing more arrives" checks). */
export function nextTurns(turns = 5): Promise<void> {
  return new Promise((resolve) => {
    let n = 0;
    const step = () => (++n >= turns ? resolve() : setImmediate(step));
    setImmediate(step);
  });
}
