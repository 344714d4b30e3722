/**
 * `enum xenbus_state` of Xen's `io/xenbus.h`: the state each end of a PV device publishes in its
 * `state` node. Values are ABI; `test/xenbus/state-values.test.ts` checks them against the header.
 */
export const XenbusState = Object.freeze({
  Unknown: 0,
  Initialising: 1,
  /** Finished early initialisation, waiting for information from the peer or hotplug scripts. */
  InitWait: 2,
  /** Waiting for a connection from the peer. */
  Initialised: 3,
  Connected: 4,
  /** The device is being closed due to an error or an unplug event. */
  Closing: 5,
  Closed: 6,
  /** The device is being reconfigured (PVSCSI hot-plug, Xen's `io/vscsiif.h`). */
  Reconfiguring: 7,
  Reconfigured: 8,
});

/** One of the {@link XenbusState} values. */
export type XenbusState = (typeof XenbusState)[keyof typeof XenbusState];

/** Names by value, as `io/xenbus.h` spells them without the `XenbusState` prefix. */
export const XENBUS_STATE_NAMES: readonly string[] = Object.freeze([
  "Unknown",
  "Initialising",
  "InitWait",
  "Initialised",
  "Connected",
  "Closing",
  "Closed",
  "Reconfiguring",
  "Reconfigured",
]);

/** Whether `n` is a defined state. */
export function isXenbusState(n: number): n is XenbusState {
  return Number.isInteger(n) && n >= XenbusState.Unknown && n <= XenbusState.Reconfigured;
}

/** Linux's `xenbus_strstate`: the name, or "INVALID" for a value outside the enum. */
export function xenbusStateName(state: number): string {
  return isXenbusState(state) ? XENBUS_STATE_NAMES[state]! : "INVALID";
}

/**
 * Parse a `state` node's value (`%d`). A missing node, or text that is not a defined state,
 * reads as `Unknown`, as Linux's `xenbus_read_driver_state` does.
 */
export function parseXenbusState(text: string | undefined): XenbusState {
  if (text === undefined || !/^[0-9]+$/.test(text.trim())) return XenbusState.Unknown;
  const n = Number(text.trim());
  return isXenbusState(n) ? n : XenbusState.Unknown;
}
