import { xenstoreError } from "../xen/errors.js";
import type { XenstoreClient } from "../xenstore/client.js";
import { statePath } from "./paths.js";
import { parseXenbusState, type XenbusState } from "./state.js";

/**
 * Linux's `xenbus_switch_state`: publish `state` in `<dir>/state`, in a transaction that first
 * checks the node exists (a device whose directory is gone is not resurrected: `ENOENT`) and
 * leaves it alone if it already holds `state` (no spurious watch event for the other end).
 * Returns whether it wrote.
 */
export async function switchState(xs: XenstoreClient, dir: string, state: XenbusState): Promise<boolean> {
  const path = statePath(dir);
  return xs.transaction(async (tx) => {
    const current = await tx.tryRead(path);
    if (current === undefined) throw xenstoreError("ENOENT", path, "device directory has no state node");
    if (parseXenbusState(current) === state) return false;
    await tx.write(path, String(state));
    return true;
  });
}
