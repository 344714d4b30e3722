import type { XenstoreClient } from "../xenstore/client.js";
import { XenbusState, xenbusStateName } from "./state.js";
import { switchState } from "./switch-state.js";

/** Where a device reports what went wrong (a `debug` logger). */
export type DeviceLog = (format: string, ...args: unknown[]) => void;

/**
 * A device driver publishing its state (Linux `xenbus_switch_state`): a failure is logged, not
 * thrown — the other end sees no change and the driver carries on, as Linux's does.
 */
export async function publishState(
  xs: XenstoreClient,
  dir: string,
  state: XenbusState,
  log: DeviceLog,
): Promise<void> {
  try {
    await switchState(xs, dir, state);
  } catch (e) {
    log("%s: switching to %s: %s", dir, xenbusStateName(state), e instanceof Error ? e.message : e);
  }
}

/** Linux `xenbus_dev_fatal`: record `message` in `<dir>/error` for the toolstack and go Closing. */
export async function deviceFatal(
  xs: XenstoreClient,
  dir: string,
  message: string,
  log: DeviceLog,
): Promise<void> {
  log("%s: fatal: %s", dir, message);
  await xs.write(`${dir}/error`, message).catch(() => undefined);
  await publishState(xs, dir, XenbusState.Closing, log);
}
