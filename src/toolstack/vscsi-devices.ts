import { formatHctl, type Hctl, parseHctlOrThrow } from "../scsi/hctl.js";
import { type Clock, realClock } from "../system/clock.js";
import type { LsscsiRow } from "../targets/inventory/inventory.js";
import { configError, PvscsiError } from "../xen/errors.js";
import { VSCSI_DEVS, XenbusNode } from "../xenbus/paths.js";
import { parseXenbusState } from "../xenbus/state.js";
import type { XenstoreClient } from "../xenstore/client.js";
import { type BackendDomain, backendLabel, type DomainTable, deviceKey } from "./domain-table.js";
import { resolvePdev } from "./pdev.js";
import {
  addDevs,
  controllerPaths,
  hbaNode,
  hostOf,
  removeController,
  removeDev,
  removeNodes,
  removeRefusedDev,
  waitConnected,
  writeController,
} from "./vscsi-nodes.js";
import { parseVscsiSpec } from "./vscsi-spec.js";

/** One row of `xl scsi-list`. */
export interface ScsiListRow {
  readonly domain: string;
  readonly domid: number;
  /** The controller's devid. */
  readonly idx: number;
  readonly backendId: number;
  /** The frontend's state. */
  readonly state: number;
  /** The controller index (`libxl_ctrl_index`, the vHOST of its vdevs). */
  readonly ctrl: number;
  readonly phyHctl: string;
  readonly virHctl: string;
  /** The backend's state of this LUN. */
  readonly devstate: number;
  readonly pdev: string;
}

/** A guest's vscsi controller as its backend's nodes describe it. */
export interface ControllerView {
  readonly backendDomid: number;
  readonly devid: number;
  /** The backend's directory. */
  readonly backend: string;
  readonly idx: number;
  readonly featureHost: boolean;
  /** The `munging` node (undefined: the backend's default). */
  readonly munging: string | undefined;
  readonly frontendState: number;
  readonly devs: ReadonlyArray<{ id: number; vdev: Hctl; pdev: string; state: number }>;
}

/** What {@link VscsiDevices.rescan} did. */
export interface HbaRescan {
  /** Units the backend's rescan added and removed (h:c:t:l). */
  readonly added: string[];
  readonly removed: string[];
  /** `<guest> <h:c:t:l>` hot-added to and hot-removed from whole-HBA controllers. */
  readonly plugged: string[];
  readonly unplugged: string[];
  /** Why a unit was not given to a guest. */
  readonly skipped: string[];
}

/** Same channel:target:lun (the vHOST is the controller's). */
export function sameVdev(a: Hctl, b: Hctl): boolean {
  return a.channel === b.channel && a.target === b.target && a.lun === b.lun;
}

/**
 * libxl's vscsi device operations (`libxl_device_vscsictrl_add`/`_remove`, `libxl_device_vscsidev_add`/
 * `_remove`, `libxl_device_vscsictrl_list`) over the toolstack's xenstore client, and the check
 * that a device is not handed to two guests unless it may be.
 */
export class VscsiDevices {
  constructor(
    private readonly xs: XenstoreClient,
    private readonly table: DomainTable,
    private readonly timeoutMs: number,
    private readonly clock: Clock = realClock,
  ) {}

  /** `xl scsi-attach <domain> <pdev> <vdev> [feature-host] [backend=<domain>] [munging=<policy>]`. */
  async attach(
    domain: string,
    pdev: string,
    vdev: string,
    option: string | readonly string[] | undefined,
    force: boolean,
  ): Promise<void> {
    const g = this.table.resolveDomain(domain);
    const domid = g.handle.domid;
    const where = "xl scsi-attach";
    const opts = option === undefined ? [] : typeof option === "string" ? [option] : option;
    const spec = parseVscsiSpec([pdev, vdev, ...opts].join(","), where);
    const be = this.table.resolveBackend(spec.backend, where);
    const resolved = resolvePdev(be.inventory, spec.pdev, spec.pdevText, where, backendLabel(be));
    this.checkSharing(be, resolved.row, await this.pdevUsers(), force, where);
    const ctrls = await this.controllersOf(domid);
    const ctrl = ctrls.find((c) => c.idx === spec.vdev.host);
    const dev = { pdev: resolved.pdev, pdevname: spec.pdevText, vdev: spec.vdev };
    if (ctrl) {
      if (ctrl.backendDomid !== be.handle.domid) {
        const other = this.table.backends.get(ctrl.backendDomid);
        throw configError(
          where,
          `vHOST ${ctrl.idx} is served by ${other ? backendLabel(other) : `dom${ctrl.backendDomid}`}; a controller has one backend domain`,
        );
      }
      if (ctrl.devs.some((d) => sameVdev(d.vdev, spec.vdev)))
        throw configError(where, `vdev '${formatHctl(spec.vdev)}' is already used.`);
      if (ctrl.featureHost !== spec.featureHost) {
        throw configError(
          where,
          `different feature-host setting than vHOST ${ctrl.idx} (${ctrl.featureHost ? "feature-host" : "no feature-host"})`,
        );
      }
      if (ctrl.munging !== spec.munging) {
        throw configError(
          where,
          `different munging setting than vHOST ${ctrl.idx} (${ctrl.munging === undefined ? "none" : `munging=${ctrl.munging}`})`,
        );
      }
      const counter = `/libxl/${domid}/vscsi/${ctrl.devid}/next_vscsidev_id`;
      const id = await this.xs.transaction(async (tx) => {
        const next = Number((await tx.tryRead(counter)) ?? "0");
        await tx.write(counter, String(next + 1));
        return next;
      });
      try {
        await addDevs(this.xs, ctrl.backend, [{ id, ...dev }], this.timeoutMs, this.clock);
      } catch (e) {
        // A LUN the backend refused (Closed) holds nothing: drop its nodes and its error, so a
        // refused attach leaves the store as it was (libxl removes a failed device's paths too).
        await removeRefusedDev(this.xs, ctrl.backend, id);
        await this.xs
          .transaction(async (tx) => {
            if ((await tx.tryRead(counter)) === String(id + 1)) await tx.write(counter, String(id));
          })
          .catch(() => undefined);
        throw e;
      }
      return;
    }
    let devid = 0;
    while (ctrls.some((c) => c.devid === devid)) devid++;
    const nodes = {
      backendDomid: be.handle.domid,
      frontendDomid: domid,
      devid,
      idx: spec.vdev.host,
      featureHost: spec.featureHost,
      ...(spec.munging !== undefined ? { munging: spec.munging } : {}),
      devs: [{ id: 0, ...dev }],
    };
    await writeController(this.xs, nodes);
    await this.xs.write(`/libxl/${domid}/vscsi/${devid}/next_vscsidev_id`, "1");
    try {
      await waitConnected(this.xs, controllerPaths(nodes).backend, [0], this.timeoutMs, this.clock);
    } catch (e) {
      await removeController(this.xs, nodes, this.timeoutMs, this.clock).catch(() => undefined);
      await removeNodes(this.xs, `/libxl/${domid}/vscsi/${devid}`, `/libxl/${domid}`);
      throw e;
    }
  }

  /** `xl scsi-detach <domain> <vdev>`: the last LUN of a controller takes the controller with it. */
  async detach(domain: string, vdev: string): Promise<void> {
    const g = this.table.resolveDomain(domain);
    const domid = g.handle.domid;
    const v = parseHctlOrThrow(vdev, "xl scsi-detach", "vdev");
    for (const c of await this.controllersOf(domid)) {
      if (c.idx !== v.host) continue;
      const dev = c.devs.find((d) => sameVdev(d.vdev, v));
      if (!dev) continue;
      if (c.devs.length === 1)
        await removeController(
          this.xs,
          { backendDomid: c.backendDomid, frontendDomid: domid, devid: c.devid },
          this.timeoutMs,
          this.clock,
        );
      else await removeDev(this.xs, c.backend, dev.id, this.timeoutMs, this.clock);
      return;
    }
    throw new PvscsiError("ESTATE", `detach failed: ${vdev} does not exist in domid ${domid}`);
  }

  /**
   * `xl scsi-rescan`: ask backend domain `be` to rescan its remote targets on `host` (all when
   * undefined), take its new inventory, and bring every whole-HBA controller on a rescanned host
   * in line with it — units that appeared are hot-added, units that left are hot-removed, each
   * through the per-LUN Reconfiguring (7) flow as `xl scsi-attach`/`scsi-detach` do, and the
   * controller stays even when its last unit goes (the HBA is still there). A unit another guest
   * holds (not shareable) is skipped with a message.
   */
  async rescan(be: BackendDomain, host: number | undefined): Promise<HbaRescan> {
    const scan = await be.kernel.api.rescan(host);
    be.inventory = await be.kernel.api.inventory();
    const out: HbaRescan = { ...scan, plugged: [], unplugged: [], skipped: [] };
    for (const g of this.table.guests.values()) {
      const domid = g.handle.domid;
      for (const c of await this.controllersOf(domid)) {
        if (c.backendDomid !== be.handle.domid) continue;
        const hbaText = await this.xs.tryRead(hbaNode(domid, c.devid));
        if (hbaText === undefined) continue;
        const h = Number(hbaText);
        if (host !== undefined && h !== host) continue;
        const rows = be.inventory.filter((r) => hostOf(r.hctl) === h);
        for (const d of c.devs) {
          if (rows.some((r) => r.hctl === d.pdev || r.pdev === d.pdev)) continue;
          await removeDev(this.xs, c.backend, d.id, this.timeoutMs);
          out.unplugged.push(`${g.name} ${formatHctl(d.vdev)}`);
        }
        const users = await this.pdevUsers();
        for (const row of rows) {
          if (c.devs.some((d) => d.pdev === row.hctl || d.pdev === row.pdev)) continue;
          const where = `xl scsi-rescan: ${g.name}`;
          try {
            this.checkSharing(be, row, users, false, where);
          } catch (e) {
            out.skipped.push((e as Error).message);
            continue;
          }
          const counter = `/libxl/${domid}/vscsi/${c.devid}/next_vscsidev_id`;
          const id = await this.xs.transaction(async (tx) => {
            const next = Number((await tx.tryRead(counter)) ?? "0");
            await tx.write(counter, String(next + 1));
            return next;
          });
          const vdev = parseHctlOrThrow(row.hctl, where, "vdev", {
            channel: 0xffff,
            target: 0xffff,
            lun: 0xffff,
          });
          try {
            await addDevs(
              this.xs,
              c.backend,
              [{ id, pdev: row.hctl, pdevname: row.hctl, vdev }],
              this.timeoutMs,
            );
            out.plugged.push(`${g.name} ${row.hctl}`);
          } catch (e) {
            await removeRefusedDev(this.xs, c.backend, id);
            out.skipped.push(`${g.name} ${row.hctl}: ${(e as Error).message}`);
          }
        }
      }
    }
    return out;
  }

  /** `xl scsi-list <domain>...`. */
  async list(domains: readonly string[]): Promise<ScsiListRow[]> {
    const rows: ScsiListRow[] = [];
    for (const d of domains) {
      const g = this.table.resolveDomain(d);
      const domid = g.handle.domid;
      for (const c of await this.controllersOf(domid)) {
        const inventory = this.table.backends.get(c.backendDomid)?.inventory ?? [];
        for (const dev of c.devs) {
          const phy = inventory.find((r) => r.pdev === dev.pdev || r.hctl === dev.pdev);
          rows.push({
            domain: g.name,
            domid,
            idx: c.devid,
            backendId: c.backendDomid,
            state: c.frontendState,
            ctrl: c.idx,
            phyHctl: phy?.hctl ?? dev.pdev,
            virHctl: formatHctl(dev.vdev),
            devstate: dev.state,
            pdev: dev.pdev,
          });
        }
      }
    }
    return rows;
  }

  /**
   * The controllers of a guest, read from the nodes of every backend domain (the guest's own
   * nodes are not trusted).
   */
  async controllersOf(domid: number): Promise<ControllerView[]> {
    const out: ControllerView[] = [];
    for (const backendDomid of this.table.backends.keys()) {
      const base = `/local/domain/${backendDomid}/backend/vscsi/${domid}`;
      const ids = (await this.xs.directory(base).catch(() => [] as string[])).filter((x) => /^\d+$/.test(x));
      for (const id of ids) out.push(await this.readController(backendDomid, domid, Number(id)));
    }
    return out.sort((a, b) => a.devid - b.devid);
  }

  private async readController(backendDomid: number, domid: number, devid: number): Promise<ControllerView> {
    const xs = this.xs;
    const { backend, frontend } = controllerPaths({ backendDomid, frontendDomid: domid, devid });
    const idx = Number((await xs.tryRead(`${backend}/${XenbusNode.libxlCtrlIndex}`)) ?? "-1");
    const featureHost = (await xs.tryRead(`${backend}/${XenbusNode.featureHost}`)) === "1";
    const munging = await xs.tryRead(`${backend}/${XenbusNode.munging}`);
    const frontendState = parseXenbusState(await xs.tryRead(`${frontend}/${XenbusNode.state}`));
    const devs = [];
    for (const ent of await xs.directory(`${backend}/${VSCSI_DEVS}`).catch(() => [] as string[])) {
      const m = /^dev-(\d+)$/.exec(ent);
      if (!m) continue;
      const dir = `${backend}/${VSCSI_DEVS}/${ent}`;
      const v = (await xs.tryRead(`${dir}/${XenbusNode.vDev}`)) ?? "";
      let vdev: Hctl;
      try {
        vdev = parseHctlOrThrow(v, dir, "v-dev");
      } catch {
        continue;
      }
      devs.push({
        id: Number(m[1]),
        vdev,
        pdev: (await xs.tryRead(`${dir}/${XenbusNode.pDev}`)) ?? "",
        state: parseXenbusState(await xs.tryRead(`${dir}/${XenbusNode.state}`)),
      });
    }
    devs.sort((a, b) => a.id - b.id);
    return { backendDomid, devid, backend, idx, featureHost, munging, frontendState, devs };
  }

  /** Which running guests use each device of each backend domain (by {@link deviceKey}). */
  async pdevUsers(): Promise<Map<string, Set<number>>> {
    const users = new Map<string, Set<number>>();
    for (const domid of this.table.guests.keys()) {
      for (const c of await this.controllersOf(domid)) {
        const inventory = this.table.backends.get(c.backendDomid)?.inventory ?? [];
        for (const d of c.devs) {
          const row = inventory.find((r) => r.pdev === d.pdev || r.hctl === d.pdev);
          if (!row) continue;
          const key = deviceKey(c.backendDomid, row.hctl);
          const s = users.get(key) ?? new Set<number>();
          s.add(domid);
          users.set(key, s);
        }
      }
    }
    return users;
  }

  /**
   * libxl leaves duplicate pdev assignments unchecked; here a device already given to another
   * running guest is refused unless the host config declares it `shareable` or the admin forces
   * it. Sharing means both guests send commands to the same logical unit as separate I_T
   * nexuses: each gets its own unit attentions, and RESERVE or PERSISTENT RESERVE OUT is how
   * they keep out of each other's way (a tape is not shareable).
   */
  checkSharing(
    be: BackendDomain,
    row: LsscsiRow,
    users: Map<string, Set<number>>,
    force: boolean,
    where: string,
  ): void {
    const others = [...(users.get(deviceKey(be.handle.domid, row.hctl)) ?? [])];
    if (others.length === 0 || row.shareable || force) return;
    const names = others.map((d) => this.table.guests.get(d)?.name ?? `dom${d}`).join(", ");
    throw configError(
      where,
      `${row.dev !== "-" ? row.dev : row.hctl} (${row.hctl}) is already assigned to ${names} and is not shareable; ` +
        "both guests would drive the same logical unit (declare it 'shareable = yes' in the host config, with reservations to coordinate, or pass --force)",
    );
  }
}
