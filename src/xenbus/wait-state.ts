import type { XenstoreClient, XsWatchHandle } from "../xenstore/client.js";
import { statePath } from "./paths.js";
import { parseXenbusState, type XenbusState } from "./state.js";

/**
 * Watch the other end's `<dir>/state` (Linux's `otherend_changed` callback): `onState` runs with
 * the parsed state once at registration and after every change, in order. A missing node reads as
 * `Unknown`. Returns the watch, to unwatch when the device goes away.
 */
export async function watchState(
  xs: XenstoreClient,
  dir: string,
  onState: (state: XenbusState) => void,
): Promise<XsWatchHandle> {
  const path = statePath(dir);
  // Reads are issued in event order and answered in order, so states arrive in order too.
  return xs.watch(path, () => {
    void xs.tryRead(path).then(
      (v) => onState(parseXenbusState(v)),
      () => onState(parseXenbusState(undefined)),
    );
  });
}

/** Options of {@link waitForState}. */
export interface WaitForStateOptions {
  /** Stop waiting: the promise rejects with the signal's reason and the watch is removed. */
  readonly signal?: AbortSignal;
}

/**
 * Wait until the other end's `<dir>/state` is one of `states` (for example the backend reaching
 * Connected; Xen's `io/vscsiif.h`: "Wait for ... state ... become 4"). Resolves with the state seen; checks the
 * current value first, so a state reached before the call counts.
 */
export function waitForState(
  xs: XenstoreClient,
  dir: string,
  states: readonly XenbusState[],
  options: WaitForStateOptions = {},
): Promise<XenbusState> {
  const { signal } = options;
  return new Promise<XenbusState>((resolve, reject) => {
    let handle: XsWatchHandle | undefined;
    let done = false;
    const finish = (f: () => void) => {
      if (done) return;
      done = true;
      signal?.removeEventListener("abort", onAbort);
      void handle?.unwatch().catch(() => undefined);
      f();
    };
    const onAbort = () => finish(() => reject(signal!.reason));
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    signal?.addEventListener("abort", onAbort);
    watchState(xs, dir, (state) => {
      if (states.includes(state)) finish(() => resolve(state));
    }).then(
      (h) => {
        handle = h;
        if (done) void h.unwatch().catch(() => undefined);
      },
      (e: unknown) => finish(() => reject(e)),
    );
  });
}
