/**
 * Xenbus: the PV device conventions built on xenstore (`io/xenbus.h` states, switching and
 * waiting, PVSCSI's device paths). Kept apart from `xenstore/`, which knows nothing of devices,
 * as Linux keeps `drivers/xen/xenbus` apart from the store.
 * @module
 */

export { type DeviceLog, deviceFatal, publishState, xenbusErrorPath } from "./device-state.js";
export {
  parseVscsiDevName,
  statePath,
  VSCSI_DEVICE_TYPE,
  VSCSI_DEVS,
  vscsiBackendPath,
  vscsiDevPath,
  vscsiFrontendPath,
  XenbusNode,
} from "./paths.js";
export { SerialQueue } from "./serial-queue.js";
export {
  isXenbusState,
  parseXenbusState,
  XENBUS_STATE_NAMES,
  XenbusState,
  xenbusStateName,
} from "./state.js";
export { switchState } from "./switch-state.js";
export { type WaitForStateOptions, waitForState, watchState } from "./wait-state.js";
