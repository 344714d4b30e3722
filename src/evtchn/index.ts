/**
 * Event channels with Xen's 2-level semantics (`event_channel.h`): the core (`EventChannels`),
 * the three ways to wait for events (poll, `Atomics.wait`, `Atomics.waitAsync`), and a per-port
 * dispatcher.
 * @module
 */
export {
  EVTCHN_2L_NR_CHANNELS,
  EVTCHNSTAT_closed,
  EVTCHNSTAT_interdomain,
  EVTCHNSTAT_ipi,
  EVTCHNSTAT_pirq,
  EVTCHNSTAT_unbound,
  EVTCHNSTAT_virq,
  evtchnErrorMessage,
  evtchnErrorName,
  XEN_EAGAIN,
  XEN_EINVAL,
  XEN_ENOENT,
  XEN_ENOSPC,
  XEN_EPERM,
  XEN_ESRCH,
} from "../xen/evtchn-constants.js";
export { MAX_VCPUS } from "../xen/evtchn-layout.js";
export { EventDispatcher, type EventHandler } from "./dispatcher.js";
export { EventChannels, EvtchnStatus } from "./event-channels.js";
export { blockOnUpcall, pollEvents, sleepOnUpcall, waitForEvents, waitForEventsAsync } from "./wait.js";
