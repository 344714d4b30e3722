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

/**
 * Where Linux's `xenbus_dev_error` records a device's error: under the driver's domain home,
 * `error/<nodename>/error`, nodename being the device's path relative to that home
 * (`/local/domain/0/error/backend/vscsi/1/0/error` for backend `/local/domain/0/backend/vscsi/1/0`).
 */
export function xenbusErrorPath(dir: string): string {
  const m = /^(\/local\/domain\/\d+)\/(.+)$/.exec(dir);
  return m ? `${m[1]}/error/${m[2]}/error` : `${dir}/error`;
}

/**
 * Linux `xenbus_dev_fatal`: record `"<errno> <message>"` where `xenbus_dev_error` puts it (see
 * {@link xenbusErrorPath}) for the toolstack, and go Closing. `errno` defaults to EINVAL (22).
 */
export async function deviceFatal(
  xs: XenstoreClient,
  dir: string,
  message: string,
  log: DeviceLog,
  errno = 22,
): Promise<void> {
  log("%s: fatal: %s", dir, message);
  await xs.write(xenbusErrorPath(dir), `${errno} ${message}`).catch(() => undefined);
  await publishState(xs, dir, XenbusState.Closing, log);
}
