import { fromNumber, vdevName } from "../blkif/vdev.js";
import { BlkifNode, VBD_DEVICE_TYPE } from "../blkif/xenstore-nodes.js";
import { type Clock, realClock } from "../system/clock.js";
import { configError, PvscsiError } from "../xen/errors.js";
import { xenbusErrorPath } from "../xenbus/device-state.js";
import { XenbusNode } from "../xenbus/paths.js";
import { parseXenbusState, XenbusState } from "../xenbus/state.js";
import type { XenstoreClient } from "../xenstore/client.js";
import { type DiskSpec, parseDiskSpec } from "./disk-spec.js";
import { backendLabel, type DomainTable } from "./domain-table.js";
import { resolvePdev } from "./pdev.js";
import { DEFAULT_STATE_TIMEOUT_MS, removeNodes, waitFor } from "./vscsi-nodes.js";
import { parsePdev } from "./vscsi-spec.js";

/** One row of `xl block-list`. */
export interface BlockListRow {
  /** The devid: the `virtual-device` number. */
  readonly vdev: number;
  /** Its name in the guest (`xvda`). */
  readonly name: string;
  readonly backendId: number;
  /** The guest's domid (xl's `handle` column). */
  readonly frontendId: number;
  /** The frontend's state. */
  readonly state: number;
  readonly eventChannel: number;
  readonly ringRef: number;
  readonly backendPath: string;
  /** The backend's state and target (pvscsi's additions). */
  readonly backendState: number;
  readonly target: string;
  readonly mode: string;
}

function paths(backendDomid: number, domid: number, devid: number) {
  return {
    backend: `/local/domain/${backendDomid}/backend/${VBD_DEVICE_TYPE}/${domid}/${devid}`,
    frontend: `/local/domain/${domid}/device/${VBD_DEVICE_TYPE}/${devid}`,
  };
}

/**
 * libxl's disk operations (`libxl_device_disk_add` / `_remove` / `_list`) over the toolstack's
 * xenstore client: the nodes `libxl__device_disk_add` writes (`params`, `mode`, `device-type`,
 * `type`, `removable`, `dev` for the backend; `virtual-device` and `device-type` for the
 * frontend), the wait for the backend to connect, and libxl's removal (backend Closing, online 0,
 * wait for Closed, remove both directories).
 *
 * `target` names a unit of the backend domain's SCSI inventory — `/dev/sda`, `h:c:t:l` or
 * `naa.<wwn>:<lun>` — so a VBD and a vscsi disk can serve the same image.
 */
export class VbdDevices {
  constructor(
    private readonly xs: XenstoreClient,
    private readonly table: DomainTable,
    private readonly timeoutMs = DEFAULT_STATE_TIMEOUT_MS,
    private readonly clock: Clock = realClock,
  ) {}

  /** Check every disk of a config before the domain is built (nothing half-created). */
  check(disks: ReadonlyArray<{ readonly spec: DiskSpec; readonly where: string }>): void {
    const seen = new Set<number>();
    for (const { spec, where } of disks) {
      this.resolve(spec, where);
      if (seen.has(spec.vdev.number)) throw configError(where, `vdev '${spec.vdevText}' is used twice`);
      seen.add(spec.vdev.number);
    }
  }

  /** Add every disk of a new domain and wait for each to connect. */
  async addAll(
    domid: number,
    disks: ReadonlyArray<{ readonly spec: DiskSpec; readonly where: string }>,
  ): Promise<void> {
    for (const d of disks) await this.add(domid, d.spec, d.where);
  }

  /** `xl block-attach <Domain> <disk-spec-component(s)>...`. */
  async attach(domain: string, specParts: readonly string[]): Promise<void> {
    const where = "xl block-attach";
    const g = this.table.resolveDomain(domain);
    if (specParts.length === 0)
      throw configError(where, "missing disk spec (e.g. 'vdev=xvdb, target=/dev/sda')");
    const spec = parseDiskSpec(specParts.join(","), where);
    await this.add(g.handle.domid, spec, where);
  }

  /** `xl block-detach <Domain> <VirtualDevice>`: the vdev name or its number. */
  async detach(domain: string, vdev: string): Promise<void> {
    const g = this.table.resolveDomain(domain);
    const domid = g.handle.domid;
    const rows = await this.list(domid);
    const v = /^\d+$/.test(vdev) ? fromNumber(Number(vdev)) : null;
    const row = rows.find((r) => r.name === vdev || (v !== null && r.vdev === v.number));
    if (!row) throw new PvscsiError("ESTATE", `Error: Device ${vdev} not connected.`);
    await this.remove(domid, row.backendId, row.vdev, this.timeoutMs);
  }

  /** `xl block-list <Domain>`: the rows of one guest. */
  async list(domid: number): Promise<BlockListRow[]> {
    const xs = this.xs;
    const rows: BlockListRow[] = [];
    for (const be of this.table.backends.keys()) {
      const base = `/local/domain/${be}/backend/${VBD_DEVICE_TYPE}/${domid}`;
      for (const id of await xs.directory(base).catch(() => [] as string[])) {
        if (!/^\d{1,10}$/.test(id)) continue;
        const { backend, frontend } = paths(be, domid, Number(id));
        const num = async (p: string) => {
          const v = await xs.tryRead(p);
          return v !== undefined && /^\d+$/.test(v) ? Number(v) : -1;
        };
        const v = fromNumber(Number(id));
        rows.push({
          vdev: Number(id),
          name: v ? vdevName(v) : id,
          backendId: be,
          frontendId: domid,
          state: parseXenbusState(await xs.tryRead(`${frontend}/${XenbusNode.state}`)),
          eventChannel: await num(`${frontend}/${BlkifNode.eventChannel}`),
          ringRef: await num(`${frontend}/${BlkifNode.ringRef}`),
          backendPath: backend,
          backendState: parseXenbusState(await xs.tryRead(`${backend}/${XenbusNode.state}`)),
          target: (await xs.tryRead(`${backend}/${BlkifNode.params}`)) ?? "",
          mode: (await xs.tryRead(`${backend}/${BlkifNode.mode}`)) ?? "",
        });
      }
    }
    return rows.sort((a, b) => a.vdev - b.vdev);
  }

  /** Remove every disk of a domain (destroy): backends close first, then the nodes go. */
  async removeAll(domid: number, quick: boolean): Promise<void> {
    for (const r of await this.list(domid))
      await this.remove(domid, r.backendId, r.vdev, quick ? 2000 : this.timeoutMs);
  }

  /** Mark every disk of a domain offline (before its kernel shuts down). */
  async offlineAll(domid: number): Promise<void> {
    for (const r of await this.list(domid))
      await this.xs.write(`${r.backendPath}/${XenbusNode.online}`, "0").catch(() => undefined);
  }

  private resolve(spec: DiskSpec, where: string) {
    const be = this.table.resolveBackend(spec.backend, where);
    const pdev = parsePdev(spec.target, where);
    const resolved = resolvePdev(be.inventory, pdev, spec.target, where, backendLabel(be));
    return { be, resolved };
  }

  /** `libxl__device_disk_add`: the nodes in one transaction, then wait for Connected. */
  private async add(domid: number, spec: DiskSpec, where: string): Promise<void> {
    const { be, resolved } = this.resolve(spec, where);
    const beId = be.handle.domid;
    const devid = spec.vdev.number;
    const { backend, frontend } = paths(beId, domid, devid);
    if ((await this.xs.tryRead(`${frontend}/${XenbusNode.backend}`)) !== undefined)
      throw configError(where, `vdev '${spec.vdevText}' is already used by this domain`);
    // Give the backend the name its inventory resolves (h:c:t:l), as libxl writes the resolved device.
    const target = resolved.row.hctl;
    await this.xs.transaction(async (tx) => {
      await tx.mkdir(backend);
      await tx.setPerms(backend, [`n${beId}`, `r${domid}`]);
      await tx.mkdir(frontend);
      await tx.setPerms(frontend, [`n${domid}`, `r${beId}`]);
      const b = (k: string, v: string) => tx.write(`${backend}/${k}`, v);
      await b(XenbusNode.frontend, frontend);
      await b(XenbusNode.frontendId, String(domid));
      await b(XenbusNode.online, "1");
      await b(XenbusNode.state, String(XenbusState.Initialising));
      await b(BlkifNode.params, target);
      await b(BlkifNode.mode, spec.readonly ? "r" : "w");
      await b(BlkifNode.deviceType, spec.cdrom ? "cdrom" : "disk");
      await b(BlkifNode.type, "phy");
      await b(BlkifNode.removable, spec.cdrom ? "1" : "0");
      await b(BlkifNode.bootable, "1");
      await b(BlkifNode.dev, spec.vdevText);
      const f = (k: string, v: string) => tx.write(`${frontend}/${k}`, v);
      await f(XenbusNode.backend, backend);
      await f(XenbusNode.backendId, String(beId));
      await f(XenbusNode.state, String(XenbusState.Initialising));
      await f(BlkifNode.virtualDevice, String(devid));
      await f(BlkifNode.deviceTypeFront, spec.cdrom ? "cdrom" : "disk");
    });
    try {
      await waitFor(this.xs, backend, this.timeoutMs, `${backend} to connect`, this.clock, async () => {
        const s = parseXenbusState(await this.xs.tryRead(`${backend}/${XenbusNode.state}`));
        if (s === XenbusState.Closing || s === XenbusState.Closed) {
          const err = (await this.xs.tryRead(xenbusErrorPath(backend)))?.replace(/^\d+ /, "");
          throw new PvscsiError(
            "ESTATE",
            `${spec.target}: the backend refused the disk${err ? `: ${err}` : ""}`,
          );
        }
        return s === XenbusState.Connected;
      });
    } catch (e) {
      await this.remove(domid, beId, devid, 2000);
      throw e;
    }
  }

  /** libxl's device removal: Closing and online 0, wait for Closed, remove the directories. */
  private async remove(domid: number, beId: number, devid: number, timeoutMs: number): Promise<void> {
    const { backend, frontend } = paths(beId, domid, devid);
    const xs = this.xs;
    if ((await xs.tryRead(`${backend}/${XenbusNode.state}`)) !== undefined) {
      await xs.transaction(async (tx) => {
        await tx.write(`${backend}/${XenbusNode.online}`, "0");
        const s = parseXenbusState(await tx.tryRead(`${backend}/${XenbusNode.state}`));
        if (s !== XenbusState.Closed)
          await tx.write(`${backend}/${XenbusNode.state}`, String(XenbusState.Closing));
      });
      await waitFor(xs, backend, timeoutMs, `${backend} to close`, this.clock, async () => {
        const s = parseXenbusState(await xs.tryRead(`${backend}/${XenbusNode.state}`));
        return s === XenbusState.Closed || s === XenbusState.Unknown;
      }).catch(() => undefined);
    }
    await removeNodes(xs, frontend, `/local/domain/${domid}`);
    await removeNodes(xs, backend, `/local/domain/${beId}`);
    const err = xenbusErrorPath(backend);
    await removeNodes(xs, err.slice(0, err.lastIndexOf("/")), `/local/domain/${beId}`);
  }
}
