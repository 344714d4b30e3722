import { invalidArgument } from "../xen/errors.js";

/**
 * Where PVSCSI's nodes live (the comment block "Xenstore format for the device" in Xen's
 * `xen/include/public/io/vscsiif.h`; the toolstack writing them is SUSE's out-of-tree libxl PVSCSI patch):
 *
 * - backend:  `/local/domain/<backend>/backend/vscsi/<frontend-domid>/<devid>`
 * - frontend: `/local/domain/<frontend>/device/vscsi/<devid>`
 * - per LUN, under either: `vscsi-devs/dev-<n>/{state, p-dev, v-dev, p-devname}`
 */

/** The device type's name in both paths. */
export const VSCSI_DEVICE_TYPE = "vscsi";
/** The directory of per-LUN entries under a backend or frontend directory. */
export const VSCSI_DEVS = "vscsi-devs";

/** Node names written by the toolstack, the backend and the frontend. */
export const XenbusNode = Object.freeze({
  state: "state",
  frontend: "frontend",
  frontendId: "frontend-id",
  backend: "backend",
  backendId: "backend-id",
  online: "online",
  ringRef: "ring-ref",
  eventChannel: "event-channel",
  featureSgGrant: "feature-sg-grant",
  featureHost: "feature-host",
  /** pvscsi's own: the vhost's munging policy (`raw`, `pvops`, `xenlinux`; docs/iscsi.md). */
  munging: "munging",
  pDev: "p-dev",
  vDev: "v-dev",
  pDevname: "p-devname",
  libxlCtrlIndex: "libxl_ctrl_index",
});

function checkId(name: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw invalidArgument(name, `an integer in [0, ${max}]`, v);
}

/** `/local/domain/<backend>/backend/vscsi/<frontend>/<devid>`. */
export function vscsiBackendPath(backendDomid: number, frontendDomid: number, devid: number): string {
  checkId("backendDomid", backendDomid, 0xffff);
  checkId("frontendDomid", frontendDomid, 0xffff);
  checkId("devid", devid, 0xffffffff);
  return `/local/domain/${backendDomid}/backend/${VSCSI_DEVICE_TYPE}/${frontendDomid}/${devid}`;
}

/** `/local/domain/<frontend>/device/vscsi/<devid>`. */
export function vscsiFrontendPath(frontendDomid: number, devid: number): string {
  checkId("frontendDomid", frontendDomid, 0xffff);
  checkId("devid", devid, 0xffffffff);
  return `/local/domain/${frontendDomid}/device/${VSCSI_DEVICE_TYPE}/${devid}`;
}

/** `<dir>/vscsi-devs/dev-<n>`: one LUN's entry under a backend or frontend directory. */
export function vscsiDevPath(dir: string, n: number): string {
  checkId("n", n, 0xffffffff);
  return `${dir}/${VSCSI_DEVS}/dev-${n}`;
}

/** The `n` of a `dev-<n>` entry name, or undefined for any other name. */
export function parseVscsiDevName(name: string): number | undefined {
  const m = /^dev-(0|[1-9][0-9]{0,9})$/.exec(name);
  if (m === null) return undefined;
  const n = Number(m[1]);
  return n <= 0xffffffff ? n : undefined;
}

/** `<dir>/state`. */
export function statePath(dir: string): string {
  return `${dir}/${XenbusNode.state}`;
}
