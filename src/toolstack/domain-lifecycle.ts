import createDebug from "debug";
import { defaultGuestRoot } from "../guest/guest-fs.js";
import type { DomainReport } from "../hypervisor/report.js";
import { prepareXenstoreRing } from "../hypervisor/xenstore-link.js";
import { formatHctl, parseHctl } from "../scsi/hctl.js";
import { type Clock, realClock } from "../system/clock.js";
import { writeDomainHome } from "../system/domain-home.js";
import { type System, withTimeout } from "../system/system.js";
import type { HostConfigSource } from "../targets/inventory/host-config.js";
import { wasmDomainBacking } from "../wasm/kernel.js";
import { type DomainHandle, domainMemoryBytes } from "../xen/domain-handle.js";
import { configError, PvscsiError } from "../xen/errors.js";
import { XenbusNode } from "../xenbus/paths.js";
import type { DomainSpec } from "./domain-config.js";
import { type BackendDomain, backendLabel, type DomainTable, deviceKey } from "./domain-table.js";
import { resolvePdev } from "./pdev.js";
import { frameBitmapOf, type KernelImage } from "./save-restore.js";
import { VbdDevices } from "./vbd-devices.js";
import { sameVdev, type VscsiDevices } from "./vscsi-devices.js";
import {
  controllerPaths,
  hbaNode,
  hostOf,
  removeController,
  removeNodes,
  type VscsiDevNodes,
  waitConnected,
  writeController,
} from "./vscsi-nodes.js";

const debug = createDebug("pvscsi:toolstack");

/** One row of `xl list`. */
export interface DomainRow {
  readonly name: string;
  readonly domid: number;
  readonly memMiB: number;
  readonly vcpus: number;
  readonly state: string;
  readonly seconds: number;
}

/** The controllers a new guest gets, by vHOST, checked before anything is built. */
type ControllerPlan = Map<
  number,
  {
    backend: BackendDomain;
    featureHost: boolean;
    munging: string | undefined;
    /** A whole-HBA controller: the dom0 host number whose units it follows. */
    hba?: number;
    devs: VscsiDevNodes[];
    where: string;
  }
>;

/** What `xl create` made, and what the user should know about it. */
export interface CreatedDomain {
  readonly domid: number;
  readonly name: string;
  /** Said on stderr by `xl create` (e.g. a kernel left out of poll mode). */
  readonly warnings: readonly string[];
}

/**
 * A domain's life as libxl leads it — `libxl_domain_create_new` (build, xenstore home, kernel,
 * devices), `libxl_domain_destroy` (devices closed, kernel stopped, xenstore released, domain
 * freed) and `libxl_list_domain` — over a {@link System}, so it runs the same with workers or
 * in one thread.
 */
export class DomainLifecycle {
  constructor(
    private readonly system: System,
    private readonly table: DomainTable,
    private readonly devices: VscsiDevices,
    private readonly timeoutMs: number,
    /** Xen virtual block devices (`disk = [...]`, `xl block-*`). */
    readonly vbds: VbdDevices = new VbdDevices(system.xs, table, timeoutMs, system.clock ?? realClock),
  ) {}

  /** The time the timeouts run on: the system's (real time unless it was given a virtual clock). */
  private get clock(): Clock {
    return this.system.clock ?? realClock;
  }

  /** `xl create`: build the domain, start its kernel, and connect its vscsi controllers. */
  async create(
    spec: DomainSpec,
    force: boolean,
    memory: Uint8Array | null = null,
    resume: KernelImage | null = null,
  ): Promise<CreatedDomain> {
    if (spec.name === "Domain-0" || this.table.findByName(spec.name) !== undefined)
      throw new PvscsiError("ESTATE", `domain '${spec.name}' already exists`);
    if (spec.driverDomain) return this.createDriverDomain(spec, spec.driverDomain.hostConfig);
    // Check every device before anything is created: nothing half-built on a bad config.
    const controllers = this.planControllers(spec, await this.devices.pdevUsers(), force);
    this.vbds.check(spec.disk ?? []);
    const frames = spec.memoryMiB * 256;
    // kernel = "front.wasm": the domain's memory is the module's shared memory, its image reserved.
    const wasm = spec.wasmKernel ? wasmDomainBacking(spec.wasmKernel.bytes, frames) : undefined;
    const handle = this.system.hv.createDomain(
      { name: spec.name, frames },
      wasm?.wasmMemory ? { wasmMemory: wasm.wasmMemory, reservedFrames: wasm.reservedFrames } : {},
    );
    const domid = handle.domid;
    try {
      // xl restore / migrate: the saved memory goes back before the kernel boots (which then
      // builds its xenstore page, rings and grants over it, as a resumed PV kernel rebuilds them).
      if (memory !== null) {
        const dst = domainMemoryBytes(handle);
        if (memory.length !== dst.length)
          throw new PvscsiError(
            "EINVALARG",
            `saved memory is ${memory.length} bytes, the domain has ${dst.length}`,
          );
        dst.set(memory);
        // A resumed kernel's frames in use are in use here too (its rings, its commands' pages),
        // before anything here allocates.
        if (resume !== null) restoreFrameBitmap(handle, resume.frameBitmap);
      }
      const start = await this.buildDomain(handle);
      for (const be of this.table.backends.values()) await be.kernel.api.introducePeer(handle);
      this.system.introducePeer(handle);
      await this.system.xs.introduce(domid, start.frame, start.port);
      const guestRoot = spec.guestRoot ?? defaultGuestRoot(spec.name);
      const kernel = await this.system.startGuestKernel(
        {
          self: handle,
          vcpu: 0,
          peers: [...this.table.backends.values()].map((be) => be.handle),
          xenstore: start,
          pollMode: this.system.pollMode,
          guestRoot,
          ...(spec.wasmKernel ? { wasmKernel: spec.wasmKernel.bytes } : {}),
          ...(spec.cmdline !== undefined ? { cmdline: spec.cmdline } : {}),
          ...(resume !== null && memory !== null
            ? { resumeFrom: { state: resume.state, devids: resumedDevids(resume, controllers) } }
            : {}),
        },
        spec.name,
        this.timeoutMs,
      );
      this.table.guests.set(domid, { handle, name: spec.name, memoryMiB: spec.memoryMiB, kernel, guestRoot });
      // A resumed kernel is resumed once every controller's nodes are written, as libxl unpauses
      // a restored domain after creating its devices.
      await this.connectControllers(
        domid,
        controllers,
        resume !== null && memory !== null ? () => kernel.api.resume() : undefined,
      );
      await this.vbds.addAll(domid, spec.disk ?? []);
      debug("created dom%d %s with %d vscsi controller(s)", domid, spec.name, controllers.size);
      return { domid, name: spec.name, warnings: this.pollWarnings(spec.name, kernel.pollMode, domid) };
    } catch (e) {
      debug("create %s failed: %s; cleaning up", spec.name, e instanceof Error ? e.message : e);
      await this.teardown(domid, true).catch(() => undefined);
      throw e;
    }
  }

  /**
   * In poll mode, a kernel beyond the system's poll budget runs event-driven: say so, and which
   * kernels hold the budget, so that a benchmark's figures are not read as poll mode's.
   */
  private pollWarnings(name: string, polls: boolean, domid: number): string[] {
    if (!this.system.pollMode || polls) return [];
    const holders: string[] = [];
    for (const d of [...this.table.backends.values(), ...this.table.guests.values()])
      if (d.handle.domid !== domid && d.kernel.pollMode) holders.push(d.name);
    const n = this.system.pollThreads;
    return [
      `poll mode: ${name}'s kernel waits on events instead of polling: the host lets ${n} kernel thread(s) ` +
        `poll at once (the cores less one for the toolstack; Host option pollThreads), ` +
        `held by ${holders.length > 0 ? holders.join(", ") : "none"}`,
    ];
  }

  /** Group a config's vscsi entries into controllers by vHOST, checking each device. */
  private planControllers(spec: DomainSpec, inUse: Map<string, Set<number>>, force: boolean): ControllerPlan {
    const controllers: ControllerPlan = new Map();
    const claimed = new Set<string>();
    for (const { spec: v, where } of spec.vscsi) {
      const be = this.table.resolveBackend(v.backend, where);
      const resolved = resolvePdev(be.inventory, v.pdev, v.pdevText, where, backendLabel(be));
      if (v.hba) {
        // xm's whole HBA: every unit of the pdev's host, at its own h:c:t:l, vHOST = host.
        const h = hostOf(resolved.row.hctl);
        if (controllers.has(h))
          throw configError(where, `vHOST ${h} (the whole host ${h}) is already used by another entry`);
        const devs: VscsiDevNodes[] = [];
        for (const row of be.inventory) {
          if (hostOf(row.hctl) !== h) continue;
          this.devices.checkSharing(be, row, inUse, force, where);
          claimed.add(deviceKey(be.handle.domid, row.hctl));
          devs.push({
            id: devs.length,
            pdev: row.hctl,
            pdevname: row.hctl,
            vdev: parseHctl(row.hctl, 0xffff)!,
          });
        }
        controllers.set(h, {
          backend: be,
          featureHost: true,
          munging: v.munging,
          hba: h,
          devs,
          where,
        });
        continue;
      }
      this.devices.checkSharing(be, resolved.row, inUse, force, where);
      const key = deviceKey(be.handle.domid, resolved.row.hctl);
      if (claimed.has(key) && !resolved.row.shareable && !force) {
        throw configError(
          where,
          `pdev '${v.pdevText}' is already assigned to this domain, and ${resolved.row.hctl} is not shareable`,
        );
      }
      claimed.add(key);
      let ctrl = controllers.get(v.vdev.host);
      if (ctrl?.hba !== undefined)
        throw configError(where, `vHOST ${v.vdev.host} is the whole host ${ctrl.hba} (${ctrl.where})`);
      if (!ctrl) {
        ctrl = { backend: be, featureHost: v.featureHost, munging: v.munging, devs: [], where };
        controllers.set(v.vdev.host, ctrl);
      } else if (ctrl.munging !== v.munging) {
        throw configError(
          where,
          `different munging setting than the other devices of vHOST ${v.vdev.host} (${ctrl.munging ?? "none"} at ${ctrl.where})`,
        );
      } else if (ctrl.featureHost !== v.featureHost) {
        throw configError(
          where,
          `different feature-host setting than the other devices of vHOST ${v.vdev.host}`,
        );
      } else if (ctrl.backend !== be) {
        throw configError(
          where,
          `vHOST ${v.vdev.host} is served by ${backendLabel(ctrl.backend)} (${ctrl.where}); a controller has one backend domain`,
        );
      }
      if (ctrl.devs.some((d) => sameVdev(d.vdev, v.vdev)))
        throw configError(where, `vdev '${formatHctl(v.vdev)}' is already used`);
      ctrl.devs.push({ id: ctrl.devs.length, pdev: resolved.pdev, pdevname: v.pdevText, vdev: v.vdev });
    }
    return controllers;
  }

  /** Write each planned controller's nodes and wait for it to connect, in vHOST order. */
  private async connectControllers(
    domid: number,
    controllers: ControllerPlan,
    resume?: () => Promise<void>,
  ): Promise<void> {
    const xs = this.system.xs;
    let devid = 0;
    const written: Array<{ backend: string; ids: number[] }> = [];
    for (const [idx, c] of [...controllers.entries()].sort((a, b) => a[0] - b[0])) {
      const ctrl = {
        backendDomid: c.backend.handle.domid,
        frontendDomid: domid,
        devid: devid++,
        idx,
        featureHost: c.featureHost,
        ...(c.munging !== undefined ? { munging: c.munging } : {}),
        devs: c.devs,
      };
      await writeController(xs, ctrl);
      await xs.write(`/libxl/${domid}/vscsi/${ctrl.devid}/next_vscsidev_id`, String(c.devs.length));
      const w = { backend: controllerPaths(ctrl).backend, ids: c.devs.map((d) => d.id) };
      if (c.hba !== undefined) await xs.write(hbaNode(domid, ctrl.devid), String(c.hba));
      if (resume === undefined) await waitConnected(xs, w.backend, w.ids, this.timeoutMs, this.clock);
      else written.push(w);
    }
    if (resume === undefined) return;
    await resume();
    for (const w of written) await waitConnected(xs, w.backend, w.ids, this.timeoutMs);
  }

  /**
   * A driver domain: its home in xenstore, its xenstore ring, and its kernel running scsiback
   * over its own SCSI inventory, introduced to every guest (and they to it) so that grants and
   * event channels reach across.
   */
  private async createDriverDomain(
    spec: DomainSpec,
    hostConfig: HostConfigSource | null,
  ): Promise<CreatedDomain> {
    const frames = spec.memoryMiB * 256;
    // kernel = "back.wasm": the domain at machine address 0 of the machine memory, its image
    // reserved; the module's linear memory is the whole machine memory (docs/wasm.md).
    const wasm = spec.driverDomain?.wasmKernel;
    if (wasm !== undefined && this.system.hv.machine === null) {
      throw new PvscsiError(
        "EINVALARG",
        `${spec.name}: a wasm backend (kernel = "${wasm.path}") maps guests' grants, which needs machine-memory mode: start the host with machineMemoryMiB`,
      );
    }
    const handle = this.system.hv.createDomain(
      { name: spec.name, frames },
      wasm !== undefined
        ? { machineZero: true, reservedFrames: wasmDomainBacking(wasm.bytes, frames, false).reservedFrames }
        : {},
    );
    const domid = handle.domid;
    try {
      const start = await this.buildDomain(handle);
      this.system.introducePeer(handle);
      await this.system.xs.introduce(domid, start.frame, start.port);
      const kernel = await this.system.startBackendKernel(
        {
          self: handle,
          vcpu: 0,
          // dom0 for xenstored's port (xenstored runs in dom0), and every guest it may serve.
          peers: [this.system.dom0, ...[...this.table.guests.values()].map((g) => g.handle)],
          xenstore: start,
          hostConfig,
          pollMode: this.system.pollMode,
          ...(wasm !== undefined ? { wasmKernel: wasm.bytes } : {}),
        },
        spec.name,
        this.timeoutMs,
      );
      this.table.backends.set(domid, {
        handle,
        name: spec.name,
        memoryMiB: handle.frames / 256,
        kernel,
        inventory: kernel.inventory,
      });
      for (const g of this.table.guests.values()) await g.kernel.api.introducePeer(handle);
      debug("created driver domain dom%d %s", domid, spec.name);
      return { domid, name: spec.name, warnings: this.pollWarnings(spec.name, kernel.pollMode, domid) };
    } catch (e) {
      debug("create %s failed: %s; cleaning up", spec.name, e instanceof Error ? e.message : e);
      await this.teardown(domid, true).catch(() => undefined);
      throw e;
    }
  }

  /**
   * The domain's home ({@link writeDomainHome}), its `memory/target`, the toolstack's
   * `/libxl/<id>`, and its xenstore page and port (what `libxl__build_pv` passes to the kernel).
   */
  private async buildDomain(handle: DomainHandle) {
    const { domid, name } = handle;
    await this.system.xs.transaction(async (tx) => {
      const home = await writeDomainHome(tx, domid, name);
      await tx.write(`${home}/memory/target`, String(handle.frames * 4));
      await tx.mkdir(`/libxl/${domid}`);
    });
    return prepareXenstoreRing(this.system.hv, domid);
  }

  /**
   * `xl destroy`: close its devices (the guest's frontends first), stop its kernel, free the
   * domain. A driver domain still serving a guest's controller is refused.
   */
  destroy(domain: string): Promise<DomainReport> {
    const be = this.table.findBackend(domain);
    if (be && be.handle.domid !== 0) return this.teardownDriverDomain(be, false);
    return this.teardown(this.table.resolveDomain(domain).handle.domid, false);
  }

  /** Stop a driver domain's kernel; unless `quick`, refused while it serves a guest's controller. */
  async teardownDriverDomain(be: BackendDomain, quick: boolean): Promise<DomainReport> {
    const domid = be.handle.domid;
    if (!quick) {
      const served: string[] = [];
      for (const [gid, g] of this.table.guests) {
        for (const c of await this.devices.controllersOf(gid))
          if (c.backendDomid === domid) served.push(`${g.name} (vHOST ${c.idx})`);
      }
      if (served.length > 0) {
        throw new PvscsiError(
          "ESTATE",
          `driver domain '${be.name}' still serves the vscsi controllers of ${served.join(", ")}: detach them or destroy those guests first`,
        );
      }
    }
    await withTimeout(be.kernel.api.stop(), this.timeoutMs, undefined, this.clock).catch(() => undefined);
    await be.kernel.terminate();
    this.table.backends.delete(domid);
    for (const g of this.table.guests.values()) await g.kernel.api.forgetPeer(domid).catch(() => undefined);
    return this.releaseDomain(domid);
  }

  /** What every destroy ends with: xenstore forgets the domain, its home goes, the hypervisor frees it. */
  private async releaseDomain(domid: number): Promise<DomainReport> {
    const xs = this.system.xs;
    await xs.release(domid).catch(() => undefined);
    await xs.rm(`/local/domain/${domid}`).catch(() => undefined);
    await removeNodes(xs, `/libxl/${domid}`, ""); // and /libxl itself once empty, as it was before
    this.system.forgetPeer(domid);
    const report = this.system.hv.destroyDomain(domid);
    if (!report.clean) debug("dom%d left resources behind: %O", domid, report);
    return report;
  }

  /**
   * Tear a domain down: its controllers closed (the guest's frontends first), its kernel stopped.
   * A `suspended` guest (saved, or migrated away) runs no frontend any more: its devices are
   * removed at once, as libxl removes a dead domain's, without waiting for it.
   */
  async teardown(domid: number, quick: boolean, suspended = false): Promise<DomainReport> {
    const be = this.table.backends.get(domid);
    if (be) return this.teardownDriverDomain(be, quick);
    const guest = this.table.guests.get(domid);
    const ctrls = await this.devices.controllersOf(domid);
    const xs = this.system.xs;
    for (const c of ctrls) await xs.write(`${c.backend}/${XenbusNode.online}`, "0").catch(() => undefined);
    await this.vbds.offlineAll(domid);
    if (guest && !quick)
      await withTimeout(guest.kernel.api.shutdown(), this.timeoutMs, undefined, this.clock).catch(
        () => undefined,
      );
    await this.vbds.removeAll(domid, quick);
    for (const c of ctrls)
      await removeController(
        xs,
        { backendDomid: c.backendDomid, frontendDomid: domid, devid: c.devid },
        suspended ? 0 : quick ? 2000 : this.timeoutMs,
        this.clock,
      );
    if (guest) {
      if (!suspended)
        await withTimeout(guest.kernel.api.released(), this.timeoutMs, undefined, this.clock).catch(
          () => undefined,
        );
      await withTimeout(guest.kernel.api.stop(), this.timeoutMs, undefined, this.clock).catch(
        () => undefined,
      );
      await guest.kernel.terminate();
      this.table.guests.delete(domid);
    }
    for (const b of this.table.backends.values()) await b.kernel.api.forgetPeer(domid).catch(() => undefined);
    return this.releaseDomain(domid);
  }

  /** `xl list`: dom0, then driver domains and guests by domid. */
  list(): DomainRow[] {
    return [...this.table.backends.values(), ...this.table.guests.values()]
      .sort((a, b) => a.handle.domid - b.handle.domid)
      .map((k) => ({
        name: k.name,
        domid: k.handle.domid,
        memMiB: k.memoryMiB,
        vcpus: k.handle.vcpus,
        state: k.handle.domid === 0 ? "r-----" : "-b----",
        seconds: k.kernel.cpuSeconds(),
      }));
  }
}

/** OR a saved frame bitmap (base64 of its words) into a new domain's, before its kernel boots. */
function restoreFrameBitmap(handle: DomainHandle, saved: string): void {
  const words = frameBitmapOf(handle);
  const b = Buffer.from(saved, "base64");
  if (b.length !== words.length * 4)
    throw new PvscsiError(
      "EINVALARG",
      `saved frame bitmap is ${b.length} bytes, the domain's is ${words.length * 4}`,
    );
  const src = new Int32Array(new Uint8Array(b).buffer);
  for (let i = 0; i < words.length; i++) Atomics.or(words, i, src[i]!);
}

/**
 * Each saved controller's devid paired with the devid it gets here: the controllers are written
 * in vHOST order, devids from 0 (see `connectControllers`), and a controller is its vHOST.
 */
function resumedDevids(resume: KernelImage, controllers: ControllerPlan): Array<[number, number]> {
  const here = new Map(
    [...controllers.keys()].sort((a, b) => a - b).map((idx, devid) => [idx, devid] as const),
  );
  const out: Array<[number, number]> = [];
  for (const c of resume.controllers) {
    const devid = here.get(c.idx);
    if (devid !== undefined) out.push([c.devid, devid]);
  }
  return out;
}
