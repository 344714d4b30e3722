import { dirname, resolve } from "node:path";
import { MessageChannel, type Worker } from "node:worker_threads";
import createDebug from "debug";
import { EventDispatcher } from "../evtchn/dispatcher.js";
import type { CommandResult } from "../guest/userland/command.js";
import type { DomainContext } from "../hypervisor/context.js";
import { Hypervisor } from "../hypervisor/hypervisor.js";
import type { DomainReport } from "../hypervisor/report.js";
import { prepareXenstoreRing, XenstoreGrantBinder } from "../hypervisor/xenstore-link.js";
import { formatHctl, type Hctl, parseHctlOrThrow } from "../scsi/hctl.js";
import type { VhostReport } from "../scsiback/backend-driver.js";
import type { BackendBoot } from "../system/backend-worker.js";
import { writeDomainHome } from "../system/domain-home.js";
import type { GuestBoot } from "../system/guest-worker.js";
import { runKernelLoop } from "../system/kernel-loop.js";
import { RpcClient } from "../system/rpc.js";
import { spawnWorker } from "../system/spawn-worker.js";
import {
  type HostConfigSource,
  parseHostConfig,
  readHostConfigSource,
} from "../targets/inventory/host-config.js";
import type { LsscsiRow } from "../targets/inventory/inventory.js";
import type { DomainHandle } from "../xen/domain-handle.js";
import { configError, invalidState, PvscsiError } from "../xen/errors.js";
import { VSCSI_DEVS, XenbusNode } from "../xenbus/paths.js";
import { parseXenbusState } from "../xenbus/state.js";
import type { XenstoreClient } from "../xenstore/client.js";
import { XenstoreRingPage } from "../xenstore/ring-page.js";
import { Xenstored } from "../xenstore/xenstored.js";
import { resolvePdev } from "./pdev.js";
import {
  addDevs,
  controllerPaths,
  DEFAULT_STATE_TIMEOUT_MS,
  removeController,
  removeDev,
  type VscsiDevNodes,
  waitConnected,
  writeController,
} from "./vscsi-nodes.js";
import { parseVscsiSpec, type VscsiSpec } from "./vscsi-spec.js";
import { parseXlConfig, type XlSetting, xlString, xlStringList } from "./xl-config.js";

const debug = createDebug("pvscsi:toolstack");

/** Options of {@link Host.start}. */
export interface HostOptions {
  /** dom0's SCSI inventory; null or absent for the built-in one. */
  readonly hostConfig?: HostConfigSource | null;
  /** Rings polled instead of event-driven (benchmarks). */
  readonly pollMode?: boolean;
  /** Frames of dom0's memory (default 4096: 16 MiB). */
  readonly dom0Frames?: number;
  /** How long to wait for a device state before giving up (default 10 s, as libxl). */
  readonly stateTimeoutMs?: number;
}

/** A domain's xl-style configuration, parsed and checked. */
export interface DomainSpec {
  readonly name: string;
  readonly memoryMiB: number;
  readonly vscsi: ReadonlyArray<{ readonly spec: VscsiSpec; readonly where: string }>;
  /**
   * `driver_domain = 1`: the domain's kernel runs scsiback over a physical SCSI inventory of its
   * own (`scsi_host_config`, or the built-in one) instead of scsifront; guests name it with
   * `backend=<name>` in their vscsi entries.
   */
  readonly driverDomain?: { readonly hostConfig: HostConfigSource | null };
}

/** One row of `xl list`. */
export interface DomainRow {
  readonly name: string;
  readonly domid: number;
  readonly memMiB: number;
  readonly vcpus: number;
  readonly state: string;
  readonly seconds: number;
}

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

/** A domain's kernel in its worker: a guest's (scsifront) or a backend domain's (scsiback). */
interface Kernel {
  readonly handle: DomainHandle;
  readonly name: string;
  readonly memoryMiB: number;
  readonly worker: Worker;
  readonly rpc: RpcClient;
  readonly created: number;
}

type Guest = Kernel;

/** dom0 or a driver domain: a kernel running scsiback over its own physical SCSI inventory. */
interface BackendDomain extends Kernel {
  inventory: readonly LsscsiRow[];
}

/** Memory a guest gets without a `memory` line (MiB). */
export const DEFAULT_GUEST_MEMORY_MIB = 32;

/**
 * An emulated Xen host: the hypervisor, xenstored and the toolstack in this (the main) thread,
 * dom0's kernel with scsiback in a worker, and each guest's kernel with scsifront in a worker of
 * its own. Between them: only ring pages, grants, event channels and xenstore; `postMessage`
 * carries boot information, commands for the guest shell and reports.
 *
 * The toolstack follows libxl's PVSCSI support (the out-of-tree "libxl: add support for vscsi"
 * series, xen-pvscsi.md §4) and vscsiif.h's protocol text: controllers grouped by vHOST,
 * nodes written with libxl's permissions in one transaction, hot-plug through state 7.
 */
export class Host {
  readonly hv: Hypervisor;
  readonly dom0: DomainHandle;
  readonly xenstored: Xenstored;
  /** The toolstack's own (privileged, in-process) xenstore connection. */
  readonly xs: XenstoreClient;
  readonly pollMode: boolean;
  private readonly xsCtx: DomainContext;
  private readonly xsDispatch: EventDispatcher;
  /** The domains running scsiback: dom0 (always) and driver domains, by domid. */
  private readonly backends = new Map<number, BackendDomain>();
  private readonly guests = new Map<number, Guest>();
  private readonly timeoutMs: number;
  private readonly started = Date.now();
  private stopping = false;
  private readonly xsLoop: Promise<void>;
  /** Serialises toolstack operations, as libxl's per-domain lock does. */
  private lock: Promise<unknown> = Promise.resolve();

  private constructor(parts: {
    hv: Hypervisor;
    dom0: DomainHandle;
    xenstored: Xenstored;
    xsCtx: DomainContext;
    xsDispatch: EventDispatcher;
    options: HostOptions;
  }) {
    this.hv = parts.hv;
    this.dom0 = parts.dom0;
    this.xenstored = parts.xenstored;
    this.xs = parts.xenstored.client(0);
    this.xsCtx = parts.xsCtx;
    this.xsDispatch = parts.xsDispatch;
    this.pollMode = parts.options.pollMode ?? false;
    this.timeoutMs = parts.options.stateTimeoutMs ?? DEFAULT_STATE_TIMEOUT_MS;
    this.xsLoop = runKernelLoop(this.xsDispatch, [], { stopped: () => this.stopping });
  }

  /** Boot: dom0, xenstored, and dom0's kernel (scsiback and the SCSI inventory) in its worker. */
  static async start(options: HostOptions = {}): Promise<Host> {
    const hv = new Hypervisor();
    const dom0 = hv.createDomain({
      domid: 0,
      name: "Domain-0",
      frames: options.dom0Frames ?? 4096,
      vcpus: 2,
    });
    // vcpu 1 is xenstored's (this thread); vcpu 0 the backend kernel's (its worker).
    const xsCtx = hv.context(0, { vcpu: 1 });
    const xsDispatch = new EventDispatcher(xsCtx.evtchn);
    const xenstored = new Xenstored({ binder: new XenstoreGrantBinder(xsCtx, xsDispatch) });
    const xs = xenstored.client(0);
    await xs.transaction(async (tx) => {
      await tx.write("/local/domain/0/name", "Domain-0");
      await tx.write("/local/domain/0/domid", "0");
    });
    // dom0's kernel reaches xenstored through a page of dom0's memory and a port to itself.
    const boot0 = hv.context(0, { vcpu: 0 });
    const frame = boot0.frames.alloc();
    const port = boot0.evtchn.allocUnbound(0);
    const xsPort = xsCtx.evtchn.bindInterdomain(0, port);
    const ring = xenstored.attachRing(
      0,
      new XenstoreRingPage(boot0.memory.buffer, boot0.memory.byteOffset + frame * 4096),
      () => {
        xsCtx.evtchn.send(xsPort);
      },
    );
    xsDispatch.on(xsPort, () => ring.onEvent());

    // xenstored must serve the backend while it boots: its loop runs from the constructor on.
    const host = new Host({ hv, dom0, xenstored, xsCtx, xsDispatch, options });
    try {
      await host.bootBackend(dom0, "Domain-0", {
        self: dom0,
        vcpu: 0,
        peers: [],
        xenstore: { frame, port },
        hostConfig: options.hostConfig ?? null,
        pollMode: host.pollMode,
      });
      return host;
    } catch (e) {
      await host.shutdown().catch(() => undefined);
      throw e;
    }
  }

  /** dom0's SCSI devices, as its kernel reported them at boot. */
  get inventory(): readonly LsscsiRow[] {
    return this.backends.get(0)?.inventory ?? [];
  }

  /** Start a backend domain's kernel (scsiback) in its worker and wait for its inventory. */
  private async bootBackend(handle: DomainHandle, name: string, boot: BackendBoot): Promise<BackendDomain> {
    const worker = spawnWorker(import.meta.url, "../system/backend-worker", { workerData: boot });
    const be: BackendDomain = {
      handle,
      name,
      memoryMiB: handle.frames / 256,
      worker,
      rpc: new RpcClient(worker, `dom${handle.domid} (${name}) backend kernel`),
      created: Date.now(),
      inventory: [],
    };
    // Registered before it is ready, so that a failed boot is torn down like any other.
    this.backends.set(handle.domid, be);
    be.inventory = (await withTimeout(
      be.rpc.ready,
      this.timeoutMs,
      `${name}'s kernel to boot`,
    )) as LsscsiRow[];
    return be;
  }

  /** Run `op` after every operation started before it (libxl holds a lock per domain; one lock is enough here). */
  private exclusive<T>(op: () => Promise<T>): Promise<T> {
    const next = this.lock.then(op, op);
    this.lock = next.catch(() => undefined);
    return next;
  }

  // ---- xl create / destroy / list -------------------------------------------------------------

  /**
   * Parse and check an xl domain configuration (no side effects; a driver domain's
   * `scsi_host_config` is read, relative to `baseDir`, and checked too).
   */
  parseDomainConfig(text: string, file: string, baseDir = dirname(resolve(file))): DomainSpec {
    const cfg = parseXlConfig(text, file);
    const name = xlString(cfg, "name", file);
    if (name === undefined) throw configError(file, "'name' is required (e.g. name = \"guest1\")");
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)) {
      throw configError(
        `${file}:${cfg.get("name")!.line}`,
        `invalid domain name '${name}' (letters, digits, '_', '.', '-')`,
      );
    }
    const mem = cfg.get("memory");
    let memoryMiB = DEFAULT_GUEST_MEMORY_MIB;
    if (mem) {
      if (
        mem.value.kind !== "number" ||
        !/^\d+$/.test(mem.value.text) ||
        Number(mem.value.text) < 4 ||
        Number(mem.value.text) > 1024
      ) {
        throw configError(`${file}:${mem.line}`, "'memory' must be a number of MiB between 4 and 1024");
      }
      memoryMiB = Number(mem.value.text);
    }
    const vscsi = xlStringList(cfg, "vscsi", file).map((e) => {
      const where = `${file}:${e.line}`;
      return { spec: parseVscsiSpec(e.value, where), where };
    });
    const driver = xlBoolean(cfg, "driver_domain", file);
    const hostConfigPath = xlString(cfg, "scsi_host_config", file);
    const hostConfigLine = cfg.get("scsi_host_config")?.line;
    if (!driver) {
      if (hostConfigPath !== undefined) {
        throw configError(
          `${file}:${hostConfigLine}`,
          "'scsi_host_config' is the SCSI inventory of a driver domain; add driver_domain = 1",
        );
      }
      return { name, memoryMiB, vscsi };
    }
    if (vscsi.length > 0) {
      throw configError(
        vscsi[0]!.where,
        `a driver domain runs scsiback, not scsifront: give its devices to guests with backend=${name}`,
      );
    }
    let hostConfig: HostConfigSource | null = null;
    if (hostConfigPath !== undefined) {
      hostConfig = readHostConfigSource(hostConfigPath, baseDir, (reason) =>
        configError(
          `${file}:${hostConfigLine}`,
          `scsi_host_config '${hostConfigPath}' cannot be read: ${reason}`,
        ),
      );
      parseHostConfig(hostConfig.text, hostConfig.source, hostConfig.baseDir); // its errors name its lines
    }
    return { name, memoryMiB, vscsi, driverDomain: { hostConfig } };
  }

  /**
   * `xl create`: build the domain, start its kernel, and connect its vscsi controllers.
   * `baseDir` is where relative paths in the config start (the config file's directory).
   */
  create(
    text: string,
    file: string,
    options: { force?: boolean; baseDir?: string } = {},
  ): Promise<{ domid: number; name: string }> {
    return this.exclusive(() =>
      this.doCreate(this.parseDomainConfig(text, file, options.baseDir), options.force === true),
    );
  }

  private async doCreate(spec: DomainSpec, force: boolean): Promise<{ domid: number; name: string }> {
    if (spec.name === "Domain-0" || this.findByName(spec.name) !== undefined)
      throw new PvscsiError("ESTATE", `domain '${spec.name}' already exists`);
    if (spec.driverDomain) return this.createDriverDomain(spec, spec.driverDomain.hostConfig);
    // Check every device before anything is created: nothing half-built on a bad config.
    const inUse = await this.pdevUsers();
    const controllers = new Map<
      number,
      { backend: BackendDomain; featureHost: boolean; devs: VscsiDevNodes[]; where: string }
    >();
    const claimed = new Set<string>();
    for (const { spec: v, where } of spec.vscsi) {
      const be = this.resolveBackend(v.backend, where);
      const resolved = resolvePdev(be.inventory, v.pdev, v.pdevText, where, backendLabel(be));
      this.checkSharing(be, resolved.row, inUse, force, where);
      const key = deviceKey(be.handle.domid, resolved.row.hctl);
      if (claimed.has(key) && !resolved.row.shareable && !force) {
        throw configError(
          where,
          `pdev '${v.pdevText}' is already assigned to this domain, and ${resolved.row.hctl} is not shareable`,
        );
      }
      claimed.add(key);
      let ctrl = controllers.get(v.vdev.host);
      if (!ctrl) {
        ctrl = { backend: be, featureHost: v.featureHost, devs: [], where };
        controllers.set(v.vdev.host, ctrl);
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

    const handle = this.hv.createDomain({ name: spec.name, frames: spec.memoryMiB * 256 });
    const domid = handle.domid;
    try {
      await this.buildXenstore(handle);
      const start = prepareXenstoreRing(this.hv, domid);
      for (const be of this.backends.values()) await be.rpc.call("introducePeer", handle);
      this.xsCtx.introducePeer(handle);
      await this.xs.introduce(domid, start.frame, start.port);
      const boot: GuestBoot = {
        self: handle,
        peers: [...this.backends.values()].map((be) => be.handle),
        xenstore: start,
        pollMode: this.pollMode,
      };
      const worker = spawnWorker(import.meta.url, "../system/guest-worker", { workerData: boot });
      const rpc = new RpcClient(worker, `dom${domid} (${spec.name}) kernel`);
      this.guests.set(domid, {
        handle,
        name: spec.name,
        memoryMiB: spec.memoryMiB,
        worker,
        rpc,
        created: Date.now(),
      });
      await withTimeout(rpc.ready, this.timeoutMs, `${spec.name}'s kernel to boot`);
      let devid = 0;
      for (const [idx, c] of [...controllers.entries()].sort((a, b) => a[0] - b[0])) {
        const ctrl = {
          backendDomid: c.backend.handle.domid,
          frontendDomid: domid,
          devid: devid++,
          idx,
          featureHost: c.featureHost,
          devs: c.devs,
        };
        await writeController(this.xs, ctrl);
        await this.xs.write(`/libxl/${domid}/vscsi/${ctrl.devid}/next_vscsidev_id`, String(c.devs.length));
        await waitConnected(
          this.xs,
          controllerPaths(ctrl).backend,
          c.devs.map((d) => d.id),
          this.timeoutMs,
        );
      }
      debug("created dom%d %s with %d vscsi controller(s)", domid, spec.name, controllers.size);
      return { domid, name: spec.name };
    } catch (e) {
      debug("create %s failed: %s; cleaning up", spec.name, e instanceof Error ? e.message : e);
      await this.teardown(domid, true).catch(() => undefined);
      throw e;
    }
  }

  /**
   * A driver domain: its home in xenstore, its xenstore ring, and its kernel running scsiback
   * over its own SCSI inventory in a worker, introduced to every guest (and they to it) so that
   * grants and event channels reach across.
   */
  private async createDriverDomain(
    spec: DomainSpec,
    hostConfig: HostConfigSource | null,
  ): Promise<{ domid: number; name: string }> {
    const handle = this.hv.createDomain({ name: spec.name, frames: spec.memoryMiB * 256 });
    const domid = handle.domid;
    try {
      await this.buildXenstore(handle);
      const start = prepareXenstoreRing(this.hv, domid);
      this.xsCtx.introducePeer(handle);
      await this.xs.introduce(domid, start.frame, start.port);
      await this.bootBackend(handle, spec.name, {
        self: handle,
        vcpu: 0,
        // dom0 for xenstored's port (xenstored runs in dom0), and every guest it may serve.
        peers: [this.dom0, ...[...this.guests.values()].map((g) => g.handle)],
        xenstore: start,
        hostConfig,
        pollMode: this.pollMode,
      });
      for (const g of this.guests.values()) await g.rpc.call("introducePeer", handle);
      debug("created driver domain dom%d %s", domid, spec.name);
      return { domid, name: spec.name };
    } catch (e) {
      debug("create %s failed: %s; cleaning up", spec.name, e instanceof Error ? e.message : e);
      await this.teardown(domid, true).catch(() => undefined);
      throw e;
    }
  }

  /** The domain's home ({@link writeDomainHome}), its `memory/target`, and the toolstack's `/libxl/<id>`. */
  private async buildXenstore(handle: DomainHandle): Promise<void> {
    const { domid, name } = handle;
    await this.xs.transaction(async (tx) => {
      const home = await writeDomainHome(tx, domid, name);
      await tx.write(`${home}/memory/target`, String(handle.frames * 4));
      await tx.mkdir(`/libxl/${domid}`);
    });
  }

  /**
   * `xl destroy`: close its devices (the guest's frontends first), stop its kernel, free the
   * domain. A driver domain still serving a guest's controller is refused.
   */
  destroy(domain: string): Promise<DomainReport> {
    return this.exclusive(async () => {
      const be = this.findBackend(domain);
      if (be && be.handle.domid !== 0) return this.teardownDriverDomain(be, false);
      return this.teardown(this.resolveDomain(domain).handle.domid, false);
    });
  }

  private async teardownDriverDomain(be: BackendDomain, quick: boolean): Promise<DomainReport> {
    const domid = be.handle.domid;
    if (!quick) {
      const served: string[] = [];
      for (const [gid, g] of this.guests) {
        for (const c of await this.controllersOf(gid))
          if (c.backendDomid === domid) served.push(`${g.name} (vHOST ${c.idx})`);
      }
      if (served.length > 0) {
        throw new PvscsiError(
          "ESTATE",
          `driver domain '${be.name}' still serves the vscsi controllers of ${served.join(", ")}: detach them or destroy those guests first`,
        );
      }
    }
    await withTimeout(be.rpc.call("stop"), this.timeoutMs).catch(() => undefined);
    await be.worker.terminate();
    this.backends.delete(domid);
    for (const g of this.guests.values()) await g.rpc.call("forgetPeer", domid).catch(() => undefined);
    return this.releaseDomain(domid);
  }

  /** What every destroy ends with: xenstore forgets the domain, its home goes, the hypervisor frees it. */
  private async releaseDomain(domid: number): Promise<DomainReport> {
    const xs = this.xs;
    await xs.release(domid).catch(() => undefined);
    await xs.rm(`/local/domain/${domid}`).catch(() => undefined);
    await xs.rm(`/libxl/${domid}`).catch(() => undefined);
    this.xsCtx.forgetPeer(domid);
    const report = this.hv.destroyDomain(domid);
    if (!report.clean) debug("dom%d left resources behind: %O", domid, report);
    return report;
  }

  private async teardown(domid: number, quick: boolean): Promise<DomainReport> {
    const be = this.backends.get(domid);
    if (be) return this.teardownDriverDomain(be, quick);
    const guest = this.guests.get(domid);
    const ctrls = await this.controllersOf(domid);
    const xs = this.xs;
    for (const c of ctrls) await xs.write(`${c.backend}/${XenbusNode.online}`, "0").catch(() => undefined);
    if (guest && !quick) await withTimeout(guest.rpc.call("shutdown"), this.timeoutMs).catch(() => undefined);
    for (const c of ctrls)
      await removeController(
        xs,
        { backendDomid: c.backendDomid, frontendDomid: domid, devid: c.devid },
        quick ? 2000 : this.timeoutMs,
      );
    if (guest) {
      await withTimeout(guest.rpc.call("released"), this.timeoutMs).catch(() => undefined);
      await withTimeout(guest.rpc.call("stop"), this.timeoutMs).catch(() => undefined);
      await guest.worker.terminate();
      this.guests.delete(domid);
    }
    for (const b of this.backends.values()) await b.rpc.call("forgetPeer", domid).catch(() => undefined);
    return this.releaseDomain(domid);
  }

  /** `xl list`: dom0, then driver domains and guests by domid. */
  list(): DomainRow[] {
    const kernels: Kernel[] = [...this.backends.values(), ...this.guests.values()];
    return kernels
      .sort((a, b) => a.handle.domid - b.handle.domid)
      .map((k) => ({
        name: k.name,
        domid: k.handle.domid,
        memMiB: k.memoryMiB,
        vcpus: k.handle.vcpus,
        state: k.handle.domid === 0 ? "r-----" : "-b----",
        seconds: cpuSeconds(k.worker, k.handle.domid === 0 ? this.started : k.created),
      }));
  }

  // ---- xl scsi-attach / scsi-detach / scsi-list ---------------------------------------------

  /** `xl scsi-attach <domain> <pdev> <vdev> [feature-host] [backend=<domain>]`. */
  scsiAttach(
    domain: string,
    pdev: string,
    vdev: string,
    option?: string | readonly string[],
    options: { force?: boolean } = {},
  ): Promise<void> {
    return this.exclusive(async () => {
      const g = this.resolveDomain(domain);
      const domid = g.handle.domid;
      const where = "xl scsi-attach";
      const opts = option === undefined ? [] : typeof option === "string" ? [option] : option;
      const spec = parseVscsiSpec([pdev, vdev, ...opts].join(","), where);
      const be = this.resolveBackend(spec.backend, where);
      const resolved = resolvePdev(be.inventory, spec.pdev, spec.pdevText, where, backendLabel(be));
      this.checkSharing(be, resolved.row, await this.pdevUsers(), options.force === true, where);
      const ctrls = await this.controllersOf(domid);
      const ctrl = ctrls.find((c) => c.idx === spec.vdev.host);
      if (ctrl) {
        if (ctrl.backendDomid !== be.handle.domid) {
          const other = this.backends.get(ctrl.backendDomid);
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
        const counter = `/libxl/${domid}/vscsi/${ctrl.devid}/next_vscsidev_id`;
        const id = await this.xs.transaction(async (tx) => {
          const next = Number((await tx.tryRead(counter)) ?? "0");
          await tx.write(counter, String(next + 1));
          return next;
        });
        await addDevs(
          this.xs,
          ctrl.backend,
          [{ id, pdev: resolved.pdev, pdevname: spec.pdevText, vdev: spec.vdev }],
          this.timeoutMs,
        );
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
        devs: [{ id: 0, pdev: resolved.pdev, pdevname: spec.pdevText, vdev: spec.vdev }],
      };
      await writeController(this.xs, nodes);
      await this.xs.write(`/libxl/${domid}/vscsi/${devid}/next_vscsidev_id`, "1");
      try {
        await waitConnected(this.xs, controllerPaths(nodes).backend, [0], this.timeoutMs);
      } catch (e) {
        await removeController(this.xs, nodes, this.timeoutMs).catch(() => undefined);
        throw e;
      }
    });
  }

  /** `xl scsi-detach <domain> <vdev>`: the last LUN of a controller takes the controller with it. */
  scsiDetach(domain: string, vdev: string): Promise<void> {
    return this.exclusive(async () => {
      const g = this.resolveDomain(domain);
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
          );
        else await removeDev(this.xs, c.backend, dev.id, this.timeoutMs);
        return;
      }
      throw new PvscsiError("ESTATE", `detach failed: ${vdev} does not exist in domid ${domid}`);
    });
  }

  /** `xl scsi-list <domain>...`. */
  async scsiList(domains: readonly string[]): Promise<ScsiListRow[]> {
    const rows: ScsiListRow[] = [];
    for (const d of domains) {
      const g = this.resolveDomain(d);
      const domid = g.handle.domid;
      for (const c of await this.controllersOf(domid)) {
        const inventory = this.backends.get(c.backendDomid)?.inventory ?? [];
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

  // ---- guests, reports ----------------------------------------------------------------------

  /** Run a command in a guest (`pvscsi guest <domain> <command>`). */
  async guestCommand(domain: string, argv: readonly string[]): Promise<CommandResult> {
    return this.resolveDomain(domain).rpc.call<CommandResult>("command", [...argv]);
  }

  /**
   * Benchmarks only: the same READ/WRITE commands as `iobench`, sent as postMessages between the
   * guest's worker and dom0's backend worker instead of through the ring (the baseline the data
   * path is measured against).
   */
  async postMessageBaseline(
    domain: string,
    pdev: string,
    o: { write: boolean; blockSize: number; depth: number; runtimeMs: number; spanBytes: number },
  ): Promise<{ ops: number; bytes: number; seconds: number; errors: number }> {
    const g = this.resolveDomain(domain);
    const { port1, port2 } = new MessageChannel();
    await this.dom0Backend.rpc.call("baselineServe", { port: port1, pdev }, [port1]);
    return g.rpc.call("baselineRun", { port: port2, ...o }, [port2]);
  }

  /** scsiback's view of every vhost, in dom0 and in every driver domain. */
  async backendReport(): Promise<Array<VhostReport & { backendDomid: number }>> {
    const out: Array<VhostReport & { backendDomid: number }> = [];
    for (const [backendDomid, be] of this.backends)
      for (const r of await be.rpc.call<VhostReport[]>("report")) out.push({ backendDomid, ...r });
    return out;
  }

  /** Stop every guest, then the driver domains, then dom0's kernel. */
  async shutdown(): Promise<void> {
    await this.lock.catch(() => undefined);
    for (const domid of [...this.guests.keys()]) await this.teardown(domid, false).catch(() => undefined);
    for (const be of [...this.backends.values()].filter((b) => b.handle.domid !== 0))
      await this.teardownDriverDomain(be, true).catch(() => undefined);
    const dom0 = this.backends.get(0);
    if (dom0) {
      await withTimeout(dom0.rpc.call("stop"), this.timeoutMs).catch(() => undefined);
      await dom0.worker.terminate();
      this.backends.delete(0);
    }
    this.stopping = true;
    this.xsCtx.evtchn.kick();
    await this.xsLoop;
    this.xenstored.close();
  }

  // ---- helpers ------------------------------------------------------------------------------

  /** A guest by name or domid; errors name the argument. */
  resolveDomain(domain: string): Guest {
    const byId = /^\d+$/.test(domain) ? this.guests.get(Number(domain)) : undefined;
    const g = byId ?? [...this.guests.values()].find((x) => x.name === domain);
    if (!g) {
      const be = this.findBackend(domain);
      if (be?.handle.domid === 0) throw invalidState("Domain-0", "dom0 has no vscsi frontends");
      if (be) throw invalidState(be.name, "is a driver domain: it runs scsiback, not scsifront");
      throw new PvscsiError(
        "ESTATE",
        `domain '${domain}' does not exist (running: ${[...this.guests.values()].map((x) => x.name).join(", ") || "none"})`,
      );
    }
    return g;
  }

  /** The backend domain a vscsi entry names (`backend=<name or domid>`; dom0 when absent). */
  private resolveBackend(name: string | undefined, where: string): BackendDomain {
    const be = this.findBackend(name ?? "0");
    if (be) return be;
    const isGuest = /^\d+$/.test(name!)
      ? this.guests.has(Number(name))
      : this.findByName(name!) !== undefined;
    throw configError(
      where,
      isGuest
        ? `backend '${name}' is not a driver domain (its config needs driver_domain = 1)`
        : `backend '${name}' does not exist (backend domains: ${[...this.backends.values()].map((b) => b.name).join(", ")})`,
    );
  }

  private findBackend(domain: string): BackendDomain | undefined {
    if (/^\d+$/.test(domain)) return this.backends.get(Number(domain));
    return [...this.backends.values()].find((b) => b.name === domain);
  }

  private get dom0Backend(): BackendDomain {
    const be = this.backends.get(0);
    if (!be) throw invalidState("Domain-0", "the host is shut down");
    return be;
  }

  /** Any domain (guest or driver domain) by name. */
  private findByName(name: string): Kernel | undefined {
    return [...this.guests.values(), ...this.backends.values()].find((g) => g.name === name);
  }

  /**
   * The controllers of a guest, read from the nodes of every backend domain (the guest's own
   * nodes are not trusted).
   */
  private async controllersOf(domid: number) {
    const xs = this.xs;
    const out: Array<{
      backendDomid: number;
      devid: number;
      backend: string;
      idx: number;
      featureHost: boolean;
      frontendState: number;
      devs: Array<{ id: number; vdev: Hctl; pdev: string; state: number }>;
    }> = [];
    for (const backendDomid of this.backends.keys()) {
      const base = `/local/domain/${backendDomid}/backend/vscsi/${domid}`;
      for (const id of (await xs.directory(base).catch(() => [] as string[])).filter((x) => /^\d+$/.test(x)))
        out.push(await this.readController(backendDomid, domid, Number(id)));
    }
    return out.sort((a, b) => a.devid - b.devid);
  }

  private async readController(backendDomid: number, domid: number, devid: number) {
    const xs = this.xs;
    {
      const { backend, frontend } = controllerPaths({ backendDomid, frontendDomid: domid, devid });
      const idx = Number((await xs.tryRead(`${backend}/${XenbusNode.libxlCtrlIndex}`)) ?? "-1");
      const featureHost = (await xs.tryRead(`${backend}/${XenbusNode.featureHost}`)) === "1";
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
      return { backendDomid, devid, backend, idx, featureHost, frontendState, devs };
    }
  }

  /** Which running guests use each device of each backend domain (by {@link deviceKey}). */
  private async pdevUsers(): Promise<Map<string, Set<number>>> {
    const users = new Map<string, Set<number>>();
    for (const domid of this.guests.keys()) {
      for (const c of await this.controllersOf(domid)) {
        const inventory = this.backends.get(c.backendDomid)?.inventory ?? [];
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
   * The seeds' open question ("Implement checks for duplicate pdev assignments?"): a device
   * already given to another running guest is refused unless the host config declares it
   * `shareable` or the admin forces it. Sharing means both guests send commands to the same
   * logical unit as separate I_T nexuses: each gets its own unit attentions, and RESERVE or
   * PERSISTENT RESERVE OUT is how they keep out of each other's way (a tape is not shareable).
   */
  private checkSharing(
    be: BackendDomain,
    row: LsscsiRow,
    users: Map<string, Set<number>>,
    force: boolean,
    where: string,
  ): void {
    const others = [...(users.get(deviceKey(be.handle.domid, row.hctl)) ?? [])];
    if (others.length === 0 || row.shareable || force) return;
    const names = others.map((d) => this.guests.get(d)?.name ?? `dom${d}`).join(", ");
    throw configError(
      where,
      `${row.dev !== "-" ? row.dev : row.hctl} (${row.hctl}) is already assigned to ${names} and is not shareable; ` +
        "both guests would drive the same logical unit (declare it 'shareable = yes' in the host config, with reservations to coordinate, or pass --force)",
    );
  }
}

/** A physical device's identity across backend domains: each has its own h:c:t:l space. */
function deviceKey(backendDomid: number, hctl: string): string {
  return `${backendDomid}/${hctl}`;
}

/** How errors name a backend domain: "dom0", or "driver domain 'scsidd'". */
function backendLabel(be: BackendDomain): string {
  return be.handle.domid === 0 ? "dom0" : `driver domain '${be.name}'`;
}

/** An xl boolean (`driver_domain = 1`): 0 or 1, as libxlu's defbool reads it. */
function xlBoolean(cfg: Map<string, XlSetting>, name: string, file: string): boolean {
  const s = cfg.get(name);
  if (!s) return false;
  if (s.value.kind !== "number" || (s.value.text !== "0" && s.value.text !== "1"))
    throw configError(`${file}:${s.line}`, `'${name}' must be 0 or 1`);
  return s.value.text === "1";
}

function sameVdev(a: Hctl, b: Hctl): boolean {
  return a.channel === b.channel && a.target === b.target && a.lun === b.lun;
}

/** A vcpu's time as its worker's event-loop active time (what the domain's kernel has run). */
function cpuSeconds(w: Worker, since: number): number {
  const elu = w.performance?.eventLoopUtilization?.();
  return elu ? elu.active / 1000 : (Date.now() - since) / 1000;
}

function withTimeout<T>(p: Promise<T>, ms: number, what = "an answer"): Promise<T> {
  let t: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, reject) => {
      t = setTimeout(() => reject(new PvscsiError("ESTATE", `timed out: waited ${ms} ms for ${what}`)), ms);
    }),
  ]);
}
