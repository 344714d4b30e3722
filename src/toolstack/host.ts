import { MessageChannel, type Worker } from "node:worker_threads";
import createDebug from "debug";
import type { DomainContext } from "../domain/context.js";
import type { DomainHandle } from "../domain/handle.js";
import { Hypervisor } from "../domain/hypervisor.js";
import type { DomainReport } from "../domain/report.js";
import { configError, invalidState, PvscsiError } from "../errors.js";
import { EventDispatcher } from "../evtchn/dispatcher.js";
import { runKernelLoop } from "../runtime/kernel-loop.js";
import { RpcClient } from "../runtime/rpc.js";
import { spawnWorker } from "../runtime/spawn-worker.js";
import type { VhostReport } from "../scsiback/backend-driver.js";
import type { BackendBoot } from "../scsiback/backend-worker.js";
import type { GuestBoot } from "../scsifront/guest-worker.js";
import type { CommandResult } from "../scsifront/shell.js";
import type { LsscsiRow } from "../targets/inventory/inventory.js";
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
import { formatHctl, type Hctl, parseHctl, parseVscsiSpec, type VscsiSpec } from "./vscsi-spec.js";
import { prepareXenstoreRing, XenstoreGrantBinder } from "./xenstore-link.js";
import { parseXlConfig, xlString, xlStringList } from "./xl-config.js";

const debug = createDebug("pvscsi:toolstack");

/** Options of {@link Host.start}. */
export interface HostOptions {
  /** dom0's SCSI inventory (a host config's text, its name and the directory relative paths start from); null or absent for the built-in one. */
  readonly hostConfig?: { readonly text: string; readonly source: string; readonly baseDir: string } | null;
  /** Rings polled instead of event-driven (benchmarks). */
  readonly pollMode?: boolean;
  /** Frames of dom0's memory (default 4096: 16 MiB). */
  readonly dom0Frames?: number;
  /** How long to wait for a device state before giving up (default 10 s, as libxl). */
  readonly stateTimeoutMs?: number;
}

/** A guest's xl-style configuration, parsed and checked. */
export interface DomainSpec {
  readonly name: string;
  readonly memoryMiB: number;
  readonly vscsi: ReadonlyArray<{ readonly spec: VscsiSpec; readonly where: string }>;
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

interface Guest {
  readonly handle: DomainHandle;
  readonly name: string;
  readonly memoryMiB: number;
  readonly worker: Worker;
  readonly rpc: RpcClient;
  readonly created: number;
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
  /** dom0's SCSI devices, as its kernel reported them at boot. */
  readonly inventory: readonly LsscsiRow[];
  private readonly xsCtx: DomainContext;
  private readonly xsDispatch: EventDispatcher;
  private readonly backendWorker: Worker;
  private readonly backend: RpcClient;
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
    backendWorker: Worker;
    backend: RpcClient;
    inventory: LsscsiRow[];
    options: HostOptions;
  }) {
    this.hv = parts.hv;
    this.dom0 = parts.dom0;
    this.xenstored = parts.xenstored;
    this.xs = parts.xenstored.client(0);
    this.xsCtx = parts.xsCtx;
    this.xsDispatch = parts.xsDispatch;
    this.backendWorker = parts.backendWorker;
    this.backend = parts.backend;
    this.inventory = parts.inventory;
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

    const boot: BackendBoot = {
      self: dom0,
      vcpu: 0,
      peers: [],
      xenstore: { frame, port },
      hostConfig: options.hostConfig ?? null,
      pollMode: options.pollMode ?? false,
    };
    const backendWorker = spawnWorker(import.meta.url, "../scsiback/backend-worker", { workerData: boot });
    const backend = new RpcClient(backendWorker, "dom0 backend kernel");
    let host: Host | null = null;
    try {
      // xenstored must serve the backend while it boots: run its loop before waiting.
      const partial = {
        hv,
        dom0,
        xenstored,
        xsCtx,
        xsDispatch,
        backendWorker,
        backend,
        inventory: [] as LsscsiRow[],
        options,
      };
      host = new Host(partial);
      const inventory = (await backend.ready) as LsscsiRow[];
      Object.assign(host, { inventory });
      return host;
    } catch (e) {
      if (host) await host.shutdown().catch(() => undefined);
      else await backendWorker.terminate();
      throw e;
    }
  }

  /** Run `op` after every operation started before it (libxl holds a lock per domain; one lock is enough here). */
  private exclusive<T>(op: () => Promise<T>): Promise<T> {
    const next = this.lock.then(op, op);
    this.lock = next.catch(() => undefined);
    return next;
  }

  // ---- xl create / destroy / list -------------------------------------------------------------

  /** Parse and check an xl domain configuration (no side effects). */
  parseDomainConfig(text: string, file: string): DomainSpec {
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
    return { name, memoryMiB, vscsi };
  }

  /** `xl create`: build the domain, start its kernel, and connect its vscsi controllers. */
  create(
    text: string,
    file: string,
    options: { force?: boolean } = {},
  ): Promise<{ domid: number; name: string }> {
    return this.exclusive(() => this.doCreate(this.parseDomainConfig(text, file), options.force === true));
  }

  private async doCreate(spec: DomainSpec, force: boolean): Promise<{ domid: number; name: string }> {
    if (this.findByName(spec.name) !== undefined)
      throw new PvscsiError("ESTATE", `domain '${spec.name}' already exists`);
    // Check every device before anything is created: nothing half-built on a bad config.
    const inUse = await this.pdevUsers();
    const controllers = new Map<number, { featureHost: boolean; devs: VscsiDevNodes[]; where: string }>();
    const claimed = new Set<string>();
    for (const { spec: v, where } of spec.vscsi) {
      const resolved = resolvePdev(this.inventory, v.pdev, v.pdevText, where);
      this.checkSharing(resolved.row, inUse, force, where);
      if (claimed.has(resolved.row.hctl) && !resolved.row.shareable && !force) {
        throw configError(
          where,
          `pdev '${v.pdevText}' is already assigned to this domain, and ${resolved.row.hctl} is not shareable`,
        );
      }
      claimed.add(resolved.row.hctl);
      let ctrl = controllers.get(v.vdev.host);
      if (!ctrl) {
        ctrl = { featureHost: v.featureHost, devs: [], where };
        controllers.set(v.vdev.host, ctrl);
      } else if (ctrl.featureHost !== v.featureHost) {
        throw configError(
          where,
          `different feature-host setting than the other devices of vHOST ${v.vdev.host}`,
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
      await this.backend.call("introducePeer", handle);
      this.xsCtx.introducePeer(handle);
      await this.xs.introduce(domid, start.frame, start.port);
      const boot: GuestBoot = { self: handle, peers: [this.dom0], xenstore: start, pollMode: this.pollMode };
      const worker = spawnWorker(import.meta.url, "../scsifront/guest-worker", { workerData: boot });
      const rpc = new RpcClient(worker, `dom${domid} (${spec.name}) kernel`);
      this.guests.set(domid, {
        handle,
        name: spec.name,
        memoryMiB: spec.memoryMiB,
        worker,
        rpc,
        created: Date.now(),
      });
      await rpc.ready;
      let devid = 0;
      for (const [idx, c] of [...controllers.entries()].sort((a, b) => a[0] - b[0])) {
        const ctrl = {
          backendDomid: 0,
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

  /** `/local/domain/<id>` as libxl makes it: owned by dom0, readable by the guest; `device/` the guest's. */
  private async buildXenstore(handle: DomainHandle): Promise<void> {
    const { domid, name } = handle;
    const home = `/local/domain/${domid}`;
    await this.xs.transaction(async (tx) => {
      await tx.mkdir(home);
      await tx.setPerms(home, ["n0", `r${domid}`]);
      await tx.write(`${home}/name`, name);
      await tx.write(`${home}/domid`, String(domid));
      // The guest's own: its devices, and where its drivers record errors (libxl's rwperm dirs).
      for (const own of ["device", "error"]) {
        await tx.mkdir(`${home}/${own}`);
        await tx.setPerms(`${home}/${own}`, [`n${domid}`]);
      }
      await tx.write(`${home}/memory/target`, String(handle.frames * 4));
      await tx.mkdir(`/libxl/${domid}`);
    });
  }

  /** `xl destroy`: close its devices (the guest's frontends first), stop its kernel, free the domain. */
  destroy(domain: string): Promise<DomainReport> {
    return this.exclusive(async () => this.teardown(this.resolveDomain(domain).handle.domid, false));
  }

  private async teardown(domid: number, quick: boolean): Promise<DomainReport> {
    const guest = this.guests.get(domid);
    const ctrls = await this.controllersOf(domid);
    const xs = this.xs;
    for (const c of ctrls) await xs.write(`${c.backend}/${XenbusNode.online}`, "0").catch(() => undefined);
    if (guest && !quick) await withTimeout(guest.rpc.call("shutdown"), this.timeoutMs).catch(() => undefined);
    for (const c of ctrls)
      await removeController(
        xs,
        { backendDomid: 0, frontendDomid: domid, devid: c.devid },
        quick ? 2000 : this.timeoutMs,
      );
    if (guest) {
      await withTimeout(guest.rpc.call("released"), this.timeoutMs).catch(() => undefined);
      await withTimeout(guest.rpc.call("stop"), this.timeoutMs).catch(() => undefined);
      await guest.worker.terminate();
      this.guests.delete(domid);
    }
    await this.backend.call("forgetPeer", domid).catch(() => undefined);
    await xs.release(domid).catch(() => undefined);
    await xs.rm(`/local/domain/${domid}`).catch(() => undefined);
    await xs.rm(`/libxl/${domid}`).catch(() => undefined);
    this.xsCtx.forgetPeer(domid);
    const report = this.hv.destroyDomain(domid);
    if (!report.clean) debug("dom%d left resources behind: %O", domid, report);
    return report;
  }

  /** `xl list`. */
  list(): DomainRow[] {
    const rows: DomainRow[] = [
      {
        name: "Domain-0",
        domid: 0,
        memMiB: this.dom0.frames / 256,
        vcpus: this.dom0.vcpus,
        state: "r-----",
        seconds: cpuSeconds(this.backendWorker, this.started),
      },
    ];
    for (const g of [...this.guests.values()].sort((a, b) => a.handle.domid - b.handle.domid)) {
      rows.push({
        name: g.name,
        domid: g.handle.domid,
        memMiB: g.memoryMiB,
        vcpus: g.handle.vcpus,
        state: "-b----",
        seconds: cpuSeconds(g.worker, g.created),
      });
    }
    return rows;
  }

  // ---- xl scsi-attach / scsi-detach / scsi-list ---------------------------------------------

  /** `xl scsi-attach <domain> <pdev> <vdev> [feature-host]`. */
  scsiAttach(
    domain: string,
    pdev: string,
    vdev: string,
    option?: string,
    options: { force?: boolean } = {},
  ): Promise<void> {
    return this.exclusive(async () => {
      const g = this.resolveDomain(domain);
      const domid = g.handle.domid;
      const where = "xl scsi-attach";
      const spec = parseVscsiSpec(`${pdev},${vdev}${option !== undefined ? `,${option}` : ""}`, where);
      const resolved = resolvePdev(this.inventory, spec.pdev, spec.pdevText, where);
      this.checkSharing(resolved.row, await this.pdevUsers(), options.force === true, where);
      const ctrls = await this.controllersOf(domid);
      const ctrl = ctrls.find((c) => c.idx === spec.vdev.host);
      if (ctrl) {
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
        backendDomid: 0,
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
      const v = parseHctl(vdev, "xl scsi-detach", "vdev");
      for (const c of await this.controllersOf(domid)) {
        if (c.idx !== v.host) continue;
        const dev = c.devs.find((d) => sameVdev(d.vdev, v));
        if (!dev) continue;
        if (c.devs.length === 1)
          await removeController(
            this.xs,
            { backendDomid: 0, frontendDomid: domid, devid: c.devid },
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
        for (const dev of c.devs) {
          const phy = this.inventory.find((r) => r.pdev === dev.pdev || r.hctl === dev.pdev);
          rows.push({
            domain: g.name,
            domid,
            idx: c.devid,
            backendId: 0,
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
  guestCommand(domain: string, argv: readonly string[]): Promise<CommandResult> {
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
    await this.backend.call("baselineServe", { port: port1, pdev }, [port1]);
    return g.rpc.call("baselineRun", { port: port2, ...o }, [port2]);
  }

  /** scsiback's view of every vhost. */
  backendReport(): Promise<VhostReport[]> {
    return this.backend.call<VhostReport[]>("report");
  }

  /** Stop every guest and dom0's kernel. */
  async shutdown(): Promise<void> {
    await this.lock;
    for (const domid of [...this.guests.keys()]) await this.teardown(domid, false).catch(() => undefined);
    await withTimeout(this.backend.call("stop"), this.timeoutMs).catch(() => undefined);
    await this.backendWorker.terminate();
    this.stopping = true;
    this.xsCtx.evtchn.kick();
    await this.xsLoop;
    this.xenstored.close();
  }

  // ---- helpers ------------------------------------------------------------------------------

  /** A guest by name or domid; errors name the argument. */
  resolveDomain(domain: string): Guest {
    const byId = /^\d+$/.test(domain) ? this.guests.get(Number(domain)) : undefined;
    const g = byId ?? this.findByName(domain);
    if (!g) {
      if (domain === "0" || domain === "Domain-0")
        throw invalidState("Domain-0", "dom0 has no vscsi frontends");
      throw new PvscsiError(
        "ESTATE",
        `domain '${domain}' does not exist (running: ${[...this.guests.values()].map((x) => x.name).join(", ") || "none"})`,
      );
    }
    return g;
  }

  private findByName(name: string): Guest | undefined {
    return [...this.guests.values()].find((g) => g.name === name);
  }

  /** The controllers of a guest, read from the backend's nodes (the guest's own nodes are not trusted). */
  private async controllersOf(domid: number) {
    const xs = this.xs;
    const base = `/local/domain/0/backend/vscsi/${domid}`;
    const out: Array<{
      devid: number;
      backend: string;
      idx: number;
      featureHost: boolean;
      frontendState: number;
      devs: Array<{ id: number; vdev: Hctl; pdev: string; state: number }>;
    }> = [];
    for (const id of (await xs.directory(base).catch(() => [] as string[])).filter((x) => /^\d+$/.test(x))) {
      const devid = Number(id);
      const { backend, frontend } = controllerPaths({ backendDomid: 0, frontendDomid: domid, devid });
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
          vdev = parseHctl(v, dir, "v-dev");
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
      out.push({ devid, backend, idx, featureHost, frontendState, devs });
    }
    return out.sort((a, b) => a.devid - b.devid);
  }

  /** Which running guests use each dom0 device (by its h:c:t:l). */
  private async pdevUsers(): Promise<Map<string, Set<number>>> {
    const users = new Map<string, Set<number>>();
    for (const domid of this.guests.keys()) {
      for (const c of await this.controllersOf(domid)) {
        for (const d of c.devs) {
          const row = this.inventory.find((r) => r.pdev === d.pdev || r.hctl === d.pdev);
          if (!row) continue;
          const s = users.get(row.hctl) ?? new Set<number>();
          s.add(domid);
          users.set(row.hctl, s);
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
  private checkSharing(row: LsscsiRow, users: Map<string, Set<number>>, force: boolean, where: string): void {
    const others = [...(users.get(row.hctl) ?? [])];
    if (others.length === 0 || row.shareable || force) return;
    const names = others.map((d) => this.guests.get(d)?.name ?? `dom${d}`).join(", ");
    throw configError(
      where,
      `${row.dev !== "-" ? row.dev : row.hctl} (${row.hctl}) is already assigned to ${names} and is not shareable; ` +
        "both guests would drive the same logical unit (declare it 'shareable = yes' in the host config, with reservations to coordinate, or pass --force)",
    );
  }
}

function sameVdev(a: Hctl, b: Hctl): boolean {
  return a.channel === b.channel && a.target === b.target && a.lun === b.lun;
}

/** A vcpu's time as its worker's event-loop active time (what the domain's kernel has run). */
function cpuSeconds(w: Worker, since: number): number {
  const elu = w.performance?.eventLoopUtilization?.();
  return elu ? elu.active / 1000 : (Date.now() - since) / 1000;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, reject) => {
      t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]);
}
