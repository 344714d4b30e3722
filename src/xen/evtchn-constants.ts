/**
 * Constants of Xen's `event_channel.h`, and the `errno.h` values its operations return (negated),
 * with Xen's names.
 */

/** `EVTCHNOP_status`: the port is not in use (free, or port 0 which Xen reserves). */
export const EVTCHNSTAT_closed = 0;
/** The port waits for a given remote domain to bind to it. */
export const EVTCHNSTAT_unbound = 1;
/** The port is connected to a port of a remote domain. */
export const EVTCHNSTAT_interdomain = 2;
/** Bound to a physical IRQ (not emulated). */
export const EVTCHNSTAT_pirq = 3;
/** Bound to a virtual IRQ (not emulated). */
export const EVTCHNSTAT_virq = 4;
/** Bound to an IPI (not emulated). */
export const EVTCHNSTAT_ipi = 5;

/**
 * `EVTCHN_2L_NR_CHANNELS` on a 64-bit guest (`sizeof(xen_ulong_t)^2 * 64` = 4096): the 2-level
 * ABI's port limit, and pvscsi's largest `maxPorts`.
 */
export const EVTCHN_2L_NR_CHANNELS = 4096;

/** `xen/errno.h`: operation not permitted. Event-channel calls return these negated. */
export const XEN_EPERM = 1;
/** No such entry (e.g. no such vcpu). */
export const XEN_ENOENT = 2;
/** No such domain. */
export const XEN_ESRCH = 3;
/** Try again (pvscsi: a lock another thread holds did not come free in time). */
export const XEN_EAGAIN = 11;
/** Invalid argument: a port out of range, or not in a state the operation accepts. */
export const XEN_EINVAL = 22;
/** No free port. */
export const XEN_ENOSPC = 28;

const ERRNO_NAMES: Readonly<Record<number, string>> = {
  [XEN_EPERM]: "EPERM",
  [XEN_ENOENT]: "ENOENT",
  [XEN_ESRCH]: "ESRCH",
  [XEN_EAGAIN]: "EAGAIN",
  [XEN_EINVAL]: "EINVAL",
  [XEN_ENOSPC]: "ENOSPC",
};

const ERRNO_MEANINGS: Readonly<Record<number, string>> = {
  [XEN_EPERM]: "operation not permitted",
  [XEN_ENOENT]: "no such entry",
  [XEN_ESRCH]: "no such domain",
  [XEN_EAGAIN]: "try again",
  [XEN_EINVAL]: "invalid argument",
  [XEN_ENOSPC]: "no free port",
};

/** `-22` → `"-EINVAL"`; 0 → `"0"`. */
export function evtchnErrorName(rc: number): string {
  if (rc >= 0) return String(rc);
  return `-${ERRNO_NAMES[-rc] ?? `E(${-rc})`}`;
}

/** `-22` → `"invalid argument"`. */
export function evtchnErrorMessage(rc: number): string {
  if (rc >= 0) return "okay";
  return ERRNO_MEANINGS[-rc] ?? `unknown error ${rc}`;
}
