import { formatHctl, type Hctl } from "../scsi/hctl.js";
import { type Clock, realClock } from "../system/clock.js";
import { PvscsiError } from "../xen/errors.js";
import { xenbusErrorPath } from "../xenbus/device-state.js";
import { VSCSI_DEVS, vscsiBackendPath, vscsiFrontendPath, XenbusNode } from "../xenbus/paths.js";
import { parseXenbusState, XenbusState, xenbusStateName } from "../xenbus/state.js";
import type { XenstoreClient, XsOps } from "../xenstore/client.js";

/** One LUN of a controller, as the toolstack writes it under `vscsi-devs/dev-<id>`. */
export interface VscsiDevNodes {
  /** The `<id>` of `dev-<id>` (libxl's `vscsidev_id`). */
  readonly id: number;
  /** `p-dev`: what the backend resolves (`naa.<wwn>:<lun>` or `h:c:t:l`). */
  readonly pdev: string;
  /** `p-devname`: the pdev as the user wrote it. */
  readonly pdevname: string;
  readonly vdev: Hctl;
}

/** A controller (vhost): one backend/frontend pair. */
export interface VscsiControllerNodes {
  readonly backendDomid: number;
  readonly frontendDomid: number;
  readonly devid: number;
  /** The vHOST of its vdevs (`libxl_ctrl_index`). */
  readonly idx: number;
  readonly featureHost: boolean;
  /** The vhost's munging policy name (written as `munging`), or the backend's default. */
  readonly munging?: string;
  readonly devs: readonly VscsiDevNodes[];
}

/** How long the toolstack waits for a state before giving up (libxl's device timeout is 10 s). */
export const DEFAULT_STATE_TIMEOUT_MS = 10_000;

/** The backend and frontend directories of a controller. */
export function controllerPaths(c: { backendDomid: number; frontendDomid: number; devid: number }) {
  return {
    backend: vscsiBackendPath(c.backendDomid, c.frontendDomid, c.devid),
    frontend: vscsiFrontendPath(c.frontendDomid, c.devid),
  };
}

/**
 * Create a controller as vscsiif.h's "Backend/frontend protocol" and libxl lay it out, in one
 * transaction: the backend directory owned by the backend domain and readable by the frontend,
 * the frontend directory owned by the frontend and readable by the backend (libxl's
 * `libxl__device_generic_add`), every node at state 1 (Initialising).
 */
export async function writeController(xs: XenstoreClient, c: VscsiControllerNodes): Promise<void> {
  const { backend, frontend } = controllerPaths(c);
  await xs.transaction(async (tx) => {
    await tx.mkdir(backend);
    await tx.setPerms(backend, [`n${c.backendDomid}`, `r${c.frontendDomid}`]);
    await tx.mkdir(frontend);
    await tx.setPerms(frontend, [`n${c.frontendDomid}`, `r${c.backendDomid}`]);
    await tx.write(`${backend}/${XenbusNode.frontend}`, frontend);
    await tx.write(`${backend}/${XenbusNode.frontendId}`, String(c.frontendDomid));
    await tx.write(`${backend}/${XenbusNode.online}`, "1");
    await tx.write(`${backend}/${XenbusNode.libxlCtrlIndex}`, String(c.idx));
    await tx.write(`${backend}/${XenbusNode.featureHost}`, c.featureHost ? "1" : "0");
    if (c.munging !== undefined) await tx.write(`${backend}/${XenbusNode.munging}`, c.munging);
    for (const d of c.devs) await writeDev(tx, backend, d);
    await tx.write(`${backend}/${XenbusNode.state}`, String(XenbusState.Initialising));
    await tx.write(`${frontend}/${XenbusNode.backend}`, backend);
    await tx.write(`${frontend}/${XenbusNode.backendId}`, String(c.backendDomid));
    await tx.write(`${frontend}/${XenbusNode.state}`, String(XenbusState.Initialising));
  });
}

async function writeDev(tx: XsOps, backend: string, d: VscsiDevNodes): Promise<void> {
  const dir = `${backend}/${VSCSI_DEVS}/dev-${d.id}`;
  await tx.write(`${dir}/${XenbusNode.pDev}`, d.pdev);
  await tx.write(`${dir}/${XenbusNode.pDevname}`, d.pdevname);
  await tx.write(`${dir}/${XenbusNode.vDev}`, formatHctl(d.vdev));
  await tx.write(`${dir}/${XenbusNode.state}`, String(XenbusState.Initialising));
}

/**
 * Wait until the controller is Connected with each of `devIds` Connected (Xen's `io/vscsiif.h`, "Xenstore
 * format in practice": "Wait for … state + … dev-N/state become 4"). A LUN the backend or frontend refused (state 6) is an error
 * naming its p-dev.
 */
export async function waitConnected(
  xs: XenstoreClient,
  backend: string,
  devIds: readonly number[],
  timeoutMs = DEFAULT_STATE_TIMEOUT_MS,
  clock: Clock = realClock,
): Promise<void> {
  await waitFor(xs, backend, timeoutMs, `${backend} to connect`, clock, async () => {
    const state = await readState(xs, backend);
    if (state === XenbusState.Closing || state === XenbusState.Closed) {
      const err = await xs.tryRead(xenbusErrorPath(backend));
      throw new PvscsiError("ESTATE", `${backend}: the backend closed${err ? `: ${err}` : ""}`);
    }
    if (state !== XenbusState.Connected) return false;
    for (const id of devIds) {
      const dev = `${backend}/${VSCSI_DEVS}/dev-${id}`;
      const s = await readState(xs, dev);
      if (s === XenbusState.Closed) {
        const pdev = await xs.tryRead(`${dev}/${XenbusNode.pDevname}`);
        const err = await xs.tryRead(xenbusErrorPath(dev));
        // The backend's "<errno> <message>" (xenbus_dev_error's format); the errno is not for users.
        const why = err?.replace(/^\d+ /, "");
        throw new PvscsiError(
          "ESTATE",
          why
            ? `${pdev ?? dev}: the backend refused the device: ${why}`
            : `${pdev ?? dev}: the backend or the guest refused the device (state 6); see DEBUG=pvscsi:*`,
        );
      }
      if (s !== XenbusState.Connected) return false;
    }
    return true;
  });
}

/**
 * Hot-add LUNs to a connected controller (vscsiif.h "To add another device to a vhost"): write
 * their nodes and backend state 7 in one transaction, then wait for the backend to be
 * Connected again with the new LUNs Connected.
 */
export async function addDevs(
  xs: XenstoreClient,
  backend: string,
  devs: readonly VscsiDevNodes[],
  timeoutMs = DEFAULT_STATE_TIMEOUT_MS,
  clock: Clock = realClock,
): Promise<void> {
  await xs.transaction(async (tx) => {
    const state = parseXenbusState(await tx.tryRead(`${backend}/${XenbusNode.state}`));
    if (state !== XenbusState.Connected) {
      throw new PvscsiError(
        "ESTATE",
        `${backend}: the controller is ${xenbusStateName(state)}, not Connected; try again`,
      );
    }
    for (const d of devs) await writeDev(tx, backend, d);
    await tx.write(`${backend}/${XenbusNode.state}`, String(XenbusState.Reconfiguring));
  });
  await waitConnected(
    xs,
    backend,
    devs.map((d) => d.id),
    timeoutMs,
    clock,
  );
}

/**
 * Hot-remove a LUN (vscsiif.h "To remove a device from a vhost"): dev state 5 and backend state 7
 * in one transaction, wait for the backend to be Connected and the dev Closed (6), then remove the
 * dev's nodes.
 */
export async function removeDev(
  xs: XenstoreClient,
  backend: string,
  id: number,
  timeoutMs = DEFAULT_STATE_TIMEOUT_MS,
  clock: Clock = realClock,
): Promise<void> {
  const dev = `${backend}/${VSCSI_DEVS}/dev-${id}`;
  await xs.transaction(async (tx) => {
    const state = parseXenbusState(await tx.tryRead(`${backend}/${XenbusNode.state}`));
    if (state !== XenbusState.Connected) {
      throw new PvscsiError(
        "ESTATE",
        `${backend}: the controller is ${xenbusStateName(state)}, not Connected; try again`,
      );
    }
    await tx.write(`${dev}/${XenbusNode.state}`, String(XenbusState.Closing));
    await tx.write(`${backend}/${XenbusNode.state}`, String(XenbusState.Reconfiguring));
  });
  await waitFor(xs, backend, timeoutMs, `${dev} to close`, clock, async () => {
    return (
      (await readState(xs, backend)) === XenbusState.Connected &&
      (await readState(xs, dev)) === XenbusState.Closed
    );
  });
  await xs.rm(dev);
  await removeNodes(xs, errorDirOf(dev), backend.slice(0, backend.indexOf("/backend/")));
}

/**
 * Remove a whole controller as libxl does: `online` 0 and backend state 5; the frontend closes,
 * the backend drains, unmaps and reaches Closed; then both directories are removed. If the
 * backend never answers (a dead guest), the nodes are removed after the timeout anyway.
 * Returns whether the backend reached Closed in time.
 */
export async function removeController(
  xs: XenstoreClient,
  c: { backendDomid: number; frontendDomid: number; devid: number },
  timeoutMs = DEFAULT_STATE_TIMEOUT_MS,
  clock: Clock = realClock,
): Promise<boolean> {
  const { backend, frontend } = controllerPaths(c);
  let closed = true;
  if ((await xs.tryRead(`${backend}/${XenbusNode.state}`)) !== undefined) {
    await xs.transaction(async (tx) => {
      await tx.write(`${backend}/${XenbusNode.online}`, "0");
      const s = parseXenbusState(await tx.tryRead(`${backend}/${XenbusNode.state}`));
      if (s !== XenbusState.Closed)
        await tx.write(`${backend}/${XenbusNode.state}`, String(XenbusState.Closing));
    });
    closed = await waitFor(xs, backend, timeoutMs, `${backend} to close`, clock, async () => {
      const s = await readState(xs, backend);
      return s === XenbusState.Closed || s === XenbusState.Unknown;
    }).then(
      () => true,
      () => false,
    );
  }
  await removeNodes(xs, frontend, frontendHome(c.frontendDomid));
  await removeNodes(xs, backend, `/local/domain/${c.backendDomid}`);
  await removeNodes(xs, errorDirOf(backend), `/local/domain/${c.backendDomid}`);
  return closed;
}

/**
 * Remove the nodes of LUN `id` of `backend` if the backend refused it (state Closed), with the
 * error it recorded; a LUN in any other state is left to {@link removeDev}.
 */
export async function removeRefusedDev(xs: XenstoreClient, backend: string, id: number): Promise<void> {
  const dev = `${backend}/${VSCSI_DEVS}/dev-${id}`;
  if ((await readState(xs, dev).catch(() => XenbusState.Unknown)) !== XenbusState.Closed) return;
  await xs.rm(dev).catch(() => undefined);
  await removeNodes(xs, errorDirOf(dev), backend.slice(0, backend.indexOf("/backend/")));
}

/** The `<home>/error/...` directory holding the errors scsiback recorded for `dir` and below. */
function errorDirOf(dir: string): string {
  const p = xenbusErrorPath(dir);
  return p.slice(0, p.lastIndexOf("/"));
}

function frontendHome(domid: number): string {
  return `/local/domain/${domid}`;
}

/**
 * Remove `path` and then each parent left empty, up to (not including) `stopAt` — libxl's
 * `libxl__xs_path_cleanup`, which `libxl__device_destroy` uses so that a destroyed domain leaves
 * no empty `backend/vscsi/<domid>` behind.
 */
export async function removeNodes(xs: XenstoreClient, path: string, stopAt: string): Promise<void> {
  await xs.rm(path).catch(() => undefined);
  let dir = path.slice(0, path.lastIndexOf("/"));
  while (dir.length > stopAt.length && dir.startsWith(`${stopAt}/`)) {
    const children = await xs.directory(dir).catch(() => null);
    if (children === null || children.length > 0) return;
    if ((await xs.tryRead(dir)) !== "") return; // a node with a value is not an empty directory
    await xs.rm(dir).catch(() => undefined);
    dir = dir.slice(0, dir.lastIndexOf("/"));
  }
}

async function readState(xs: XenstoreClient, dir: string): Promise<XenbusState> {
  return parseXenbusState(await xs.tryRead(`${dir}/${XenbusNode.state}`));
}

/**
 * Re-evaluate `check` on every change under `dir` until it returns true (or throws), for at most
 * `timeoutMs` of `clock` (real time unless given). Uses a xenstore watch, so no polling.
 */
export async function waitFor(
  xs: XenstoreClient,
  dir: string,
  timeoutMs: number,
  what: string,
  clock: Clock,
  check: () => Promise<boolean>,
): Promise<void> {
  let timer: unknown;
  let busy = false;
  let again = false;
  let finish!: (e?: unknown) => void;
  const done = new Promise<void>((resolve, reject) => {
    finish = (e?: unknown) => (e === undefined ? resolve() : reject(e));
  });
  const run = async (): Promise<void> => {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      do {
        again = false;
        if (await check()) {
          finish();
          return;
        }
      } while (again);
    } catch (e) {
      finish(e);
    } finally {
      busy = false;
    }
  };
  const watch = await xs.watch(dir, () => {
    void run();
  });
  timer = clock.setTimeout(() => {
    void (async () => {
      const state = await readState(xs, dir).catch(() => XenbusState.Unknown);
      finish(
        new PvscsiError(
          "ESTATE",
          `timed out after ${timeoutMs / 1000} s waiting for ${what} (state ${state}, ${xenbusStateName(state)})`,
        ),
      );
    })();
  }, timeoutMs);
  try {
    await done;
  } finally {
    clock.clearTimeout(timer);
    timer = undefined;
    await watch.unwatch().catch(() => undefined);
  }
}

/**
 * The toolstack's own record that controller `devid` of `domid` is a whole HBA (xm's vdev
 * `host`): the dom0 host number whose units it follows, beside libxl's `next_vscsidev_id`.
 */
export function hbaNode(domid: number, devid: number): string {
  return `/libxl/${domid}/vscsi/${devid}/hba`;
}

/** The host number of an `h:c:t:l` text. */
export function hostOf(hctl: string): number {
  return Number(hctl.slice(0, hctl.indexOf(":")));
}
