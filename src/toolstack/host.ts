import { randomUUID } from "node:crypto";
import { readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MessageChannel } from "node:worker_threads";
import type { VbdReport } from "../blkback/backend-driver.js";
import { defaultGuestRoot, GuestFs, type GuestPathError } from "../guest/guest-fs.js";
import type { CommandResult } from "../guest/userland/command.js";
import type { Hypervisor } from "../hypervisor/hypervisor.js";
import type { DomainReport } from "../hypervisor/report.js";
import type { VhostReport } from "../scsiback/backend-driver.js";
import { type GuestResumeStats, lunsChangedPath, type PvLimits } from "../system/kernel-api.js";
import type { System } from "../system/system.js";
import { ThreadedSystem } from "../system/threaded-system.js";
import type { HostConfigSource } from "../targets/inventory/host-config.js";
import type { LsscsiRow } from "../targets/inventory/inventory.js";
import { type ChromeTrace, toChromeTrace } from "../trace/chrome-trace.js";
import type { DomainHandle } from "../xen/domain-handle.js";
import { invalidState, PvscsiError } from "../xen/errors.js";
import type { XenstoreClient, XsWatchHandle } from "../xenstore/client.js";
import type { Xenstored } from "../xenstore/xenstored.js";
import { type DomainSpec, parseDomainConfig } from "./domain-config.js";
import { DomainLifecycle, type DomainRow } from "./domain-lifecycle.js";
import { DomainTable, type GuestDomain } from "./domain-table.js";
import { captureGuest, readSaveImage, restoreGuest, type SaveRestoreContext } from "./save-restore.js";
import type { BlockListRow } from "./vbd-devices.js";
import { type HbaRescan, type ScsiListRow, VscsiDevices } from "./vscsi-devices.js";
import { DEFAULT_STATE_TIMEOUT_MS } from "./vscsi-nodes.js";

export { DEFAULT_GUEST_MEMORY_MIB, type DomainSpec } from "./domain-config.js";
export type { DomainRow } from "./domain-lifecycle.js";
export type { BlockListRow } from "./vbd-devices.js";
export type { HbaRescan, ScsiListRow } from "./vscsi-devices.js";

/** Options of {@link Host.start}. */
export interface HostOptions extends ToolstackOptions {
  /** dom0's SCSI inventory; null or absent for the built-in one. */
  readonly hostConfig?: HostConfigSource | null;
  /** Rings polled instead of event-driven (benchmarks). */
  readonly pollMode?: boolean;
  /**
   * In poll mode, how many kernels may poll at once, each spinning a thread (default: the
   * cores less one for the toolstack's thread, at least 1; `defaultPollThreads`). dom0's backend
   * claims a place first, then domains in the order they are created; the others run
   * event-driven, and `create` warns.
   */
  readonly pollThreads?: number;
  /** Frames of dom0's memory (default 4096: 16 MiB). */
  readonly dom0Frames?: number;
  /** Record a trace of every thread ({@link Host.trace}). */
  readonly trace?: boolean;
  /** Protocol limits dom0's backends offer (to rerun 2007-era measurements). */
  readonly pvLimits?: PvLimits;
  /**
   * Machine-memory mode: every domain's RAM carved from one shared memory of this many MiB, so
   * a wasm backend driver domain (`kernel = "back.wasm"`, `driver_domain = 1`) can map guests'
   * grants (docs/wasm.md). Absent (the default): each domain has its own buffer.
   */
  readonly machineMemoryMiB?: number;
}

/** Options of the toolstack over a {@link System}. */
export interface ToolstackOptions {
  /** How long to wait for a device state before giving up (default 10 s, as libxl). */
  readonly stateTimeoutMs?: number;
  /**
   * The folder holding each guest's filesystem (`<dir>/<name>/root`) when its config names no
   * `guest_root`; default `<state>/guests` (`defaultGuestRoot`).
   */
  readonly guestRoots?: string;
}

/**
 * An emulated Xen host's toolstack (xl and libxl) over a {@link System}: the threaded one
 * ({@link Host.start}: each domain's kernel in a worker) or the single-thread one (every kernel
 * in this thread; drive each operation with `system.run`). It composes the domain lifecycle
 * ({@link DomainLifecycle}) and the vscsi device operations ({@link VscsiDevices}).
 *
 * The toolstack follows libxl's PVSCSI support (the out-of-tree "libxl: add support for vscsi"
 * series; SUSE's libxl.pvscsi.patch) and vscsiif.h's protocol text: controllers grouped by vHOST,
 * nodes written with libxl's permissions in one transaction, hot-plug through state 7.
 */
export class Host {
  readonly system: System;
  private readonly table = new DomainTable();
  private readonly devices: VscsiDevices;
  private readonly domains: DomainLifecycle;
  private readonly timeoutMs: number;
  private readonly guestRoots: string | undefined;
  private readonly traceNames = new Map<number, string>([[0, "Domain-0"]]);
  /** Serialises toolstack operations, as libxl's per-domain lock does. */
  private lock: Promise<unknown> = Promise.resolve();
  /** This host's instance: a RAM disk saved here is the same device only on this very host. */
  readonly hostId: string = randomUUID();
  private readonly hostConfig: HostConfigSource | null;

  /** The toolstack over a booted system (its dom0 kernel running). */
  constructor(
    system: System,
    options: ToolstackOptions & { readonly hostConfig?: HostConfigSource | null } = {},
  ) {
    this.system = system;
    this.hostConfig = options.hostConfig ?? null;
    this.timeoutMs = options.stateTimeoutMs ?? DEFAULT_STATE_TIMEOUT_MS;
    this.guestRoots = options.guestRoots;
    const dom0 = system.dom0Kernel;
    if (!dom0) throw invalidState("Domain-0", "the system is shut down");
    this.table.backends.set(0, {
      handle: system.dom0,
      name: "Domain-0",
      memoryMiB: system.dom0.frames / 256,
      kernel: dom0,
      inventory: dom0.inventory,
    });
    this.devices = new VscsiDevices(system.xs, this.table, this.timeoutMs, system.clock);
    this.domains = new DomainLifecycle(system, this.table, this.devices, this.timeoutMs);
    this.lunWatches.set(system.dom0.domid, this.watchLunChanges(system.xs, system.dom0.domid));
  }

  /**
   * Each backend domain's "LUNs changed by themselves" node (lunsChangedPath), watched from its
   * start (dom0: construction; a driver domain: its `xl create`) to its destroy or shutdown.
   */
  private readonly lunWatches = new Map<number, Promise<XsWatchHandle | null>>();

  private async unwatchLuns(domid: number): Promise<void> {
    const w = this.lunWatches.get(domid);
    this.lunWatches.delete(domid);
    await (await w)?.unwatch().catch(() => undefined);
  }
  /** Rescans the watch started, awaited at shutdown. */
  private lunRescans: Promise<unknown> = Promise.resolve();

  /**
   * A backend's kernel saw 06/3F/0E on a remote target and its rescan changed units: do what
   * `xl scsi-rescan <host>` does, so whole-HBA guests follow without the admin (as xend's
   * udev-event handler hot-plugged a host-mode guest's new LUNs).
   */
  private watchLunChanges(xs: XenstoreClient, backendDomid: number): Promise<XsWatchHandle | null> {
    let last = "";
    return xs
      .watch(lunsChangedPath(backendDomid), () => {
        void xs.tryRead(lunsChangedPath(backendDomid)).then((v) => {
          if (v === undefined || v === last || this.shuttingDown) return;
          last = v;
          const host = Number(v.slice(0, v.indexOf(":")));
          if (!Number.isInteger(host)) return;
          this.lunRescans = this.lunRescans
            .then(() => this.scsiRescan({ backend: String(backendDomid), host }))
            .catch(() => undefined);
        });
      })
      .catch(() => null);
  }

  private shuttingDown = false;

  /** Boot a {@link ThreadedSystem} (dom0's kernel in its worker) and the toolstack over it. */
  static async start(options: HostOptions = {}): Promise<Host> {
    const system = await ThreadedSystem.start({
      ...options,
      bootTimeoutMs: options.stateTimeoutMs ?? DEFAULT_STATE_TIMEOUT_MS,
    });
    return new Host(system, options);
  }

  /**
   * The trace so far as Chrome trace-event JSON (open it in ui.perfetto.dev), when the system was
   * started with `trace`; null otherwise. Domains are named as `xl create` named them.
   */
  trace(): ChromeTrace | null {
    if (this.system.traces.length === 0) return null;
    return toChromeTrace(this.system.traces, { names: this.traceNames });
  }

  /** The hypervisor. */
  get hv(): Hypervisor {
    return this.system.hv;
  }

  /** dom0. */
  get dom0(): DomainHandle {
    return this.system.dom0;
  }

  /** xenstored, in the toolstack's thread. */
  get xenstored(): Xenstored {
    return this.system.xenstored;
  }

  /** The toolstack's own (privileged, in-process) xenstore connection. */
  get xs(): XenstoreClient {
    return this.system.xs;
  }

  /** Rings polled instead of event-driven (benchmarks). */
  get pollMode(): boolean {
    return this.system.pollMode;
  }

  /** In poll mode, how many kernels may poll at once ({@link HostOptions.pollThreads}). */
  get pollThreads(): number {
    return this.system.pollThreads;
  }

  /** dom0's SCSI devices, as its kernel reported them at boot. */
  get inventory(): readonly LsscsiRow[] {
    return this.table.backends.get(0)?.inventory ?? [];
  }

  /** Run `op` after every operation started before it (libxl holds a lock per domain; one lock is enough here). */
  private exclusive<T>(op: () => Promise<T>): Promise<T> {
    const next = this.lock.then(op, op);
    this.lock = next.catch(() => undefined);
    return next;
  }

  /**
   * Parse and check an xl domain configuration (no side effects; a driver domain's
   * `scsi_host_config` is read, relative to `baseDir`, and checked too).
   */
  parseDomainConfig(text: string, file: string, baseDir?: string): DomainSpec {
    return parseDomainConfig(text, file, baseDir);
  }

  /**
   * `xl create`: build the domain, start its kernel, and connect its vscsi controllers.
   * `baseDir` is where relative paths in the config start (the config file's directory).
   */
  create(
    text: string,
    file: string,
    options: { force?: boolean; baseDir?: string } = {},
  ): Promise<{ domid: number; name: string; warnings: readonly string[] }> {
    return this.exclusive(async () => {
      const spec = parseDomainConfig(text, file, options.baseDir);
      const roots = this.guestRoots;
      const withRoot =
        spec.guestRoot === undefined && roots !== undefined && !spec.driverDomain
          ? { ...spec, guestRoot: join(roots, spec.name, "root") }
          : spec;
      const r = await this.domains.create(withRoot, options.force === true);
      this.traceNames.set(r.domid, r.name);
      if (this.table.backends.has(r.domid) && !this.lunWatches.has(r.domid))
        this.lunWatches.set(r.domid, this.watchLunChanges(this.system.xs, r.domid));
      return { ...r, warnings: [...spec.warnings, ...r.warnings] };
    });
  }

  /**
   * `xl destroy`: close its devices (the guest's frontends first), stop its kernel, free the
   * domain. A driver domain still serving a guest's controller is refused.
   */
  destroy(domain: string): Promise<DomainReport> {
    return this.exclusive(async () => {
      const be = this.table.findBackend(domain);
      const dd = be && be.handle.domid !== 0 ? be.handle.domid : null;
      if (dd !== null) await this.unwatchLuns(dd);
      try {
        return await this.domains.destroy(domain);
      } catch (e) {
        // Refused (it still serves a guest): it keeps running, so keep watching it.
        if (dd !== null && this.table.backends.has(dd))
          this.lunWatches.set(dd, this.watchLunChanges(this.system.xs, dd));
        throw e;
      }
    });
  }

  /** What save, restore and migrate work with. @internal */
  saveRestoreContext(): SaveRestoreContext {
    const roots = this.guestRoots;
    return {
      system: this.system,
      table: this.table,
      devices: this.devices,
      hostId: this.hostId,
      hostConfig: this.hostConfig,
      defaultGuestRoot: (name) => (roots !== undefined ? join(roots, name, "root") : defaultGuestRoot(name)),
    };
  }

  /**
   * `xl save <domain> <file>`: quiesce the guest, write its memory, filesystem, xenstore device
   * nodes and vscsi assignments (by device identity) to `file` (written whole, then renamed into
   * place), then destroy it. If the file cannot be written the guest keeps running.
   */
  save(domain: string, file: string): Promise<{ name: string; bytes: number; devices: number }> {
    return this.exclusive(async () => {
      const g = this.resolveDomain(domain);
      const { meta, image, suspended } = await captureGuest(this.saveRestoreContext(), g, true);
      const tmp = `${file}.pvscsi-partial-${process.pid}`;
      try {
        writeFileSync(tmp, image, { flag: "wx", mode: 0o600 });
        renameSync(tmp, file);
      } catch (e) {
        try {
          unlinkSync(tmp);
        } catch {
          // Not created.
        }
        // The suspend is cancelled: the guest carries on with its rings as they were.
        if (suspended) await g.kernel.api.thaw();
        throw new PvscsiError(
          "ESTATE",
          `${file}: cannot write the save file (${(e as Error).message}); ${g.name} keeps running`,
        );
      }
      // Saved: the domain is destroyed as Xen destroys a suspended one — its devices removed
      // without waiting for a frontend that no longer runs.
      await this.domains.teardown(g.handle.domid, suspended, suspended);
      return { name: meta.name, bytes: image.length, devices: meta.devices.length };
    });
  }

  /**
   * `xl restore <file>`: check the file whole (format, version, checksums, devices reachable here)
   * before anything is created, then recreate the guest with each vscsi device found by its
   * identity and named by this host's h:c:t:l.
   */
  restore(file: string): Promise<{
    domid: number;
    name: string;
    devices: Array<{ vdev: string; pdevname: string; from: string; to: string }>;
  }> {
    return this.exclusive(async () => {
      let bytes: Uint8Array;
      try {
        bytes = readFileSync(file);
      } catch (e) {
        throw new PvscsiError("ESTATE", `${file}: cannot read: ${(e as Error).message}`);
      }
      return this.restoreImage(readSaveImage(bytes, file));
    });
  }

  /** Restore a decoded image (xl restore, or the receiving side of xl migrate). @internal */
  restoreImage(image: ReturnType<typeof readSaveImage>, memory: Uint8Array | null = image.memory) {
    return restoreGuest(this.saveRestoreContext(), image, (spec) =>
      this.domains.create(spec, false, memory, memory !== null ? image.kernel : null),
    );
  }

  /** Run `op` under the toolstack's lock. @internal */
  locked<T>(op: () => Promise<T>): Promise<T> {
    return this.exclusive(op);
  }

  /** What resumes did in a guest's kernel (a restored or migrated guest's DID_RESET retries). */
  resumeStats(domid: number): Promise<GuestResumeStats> {
    const g = this.table.guests.get(domid);
    if (!g) throw new PvscsiError("ESTATE", `no guest with domid ${domid}`);
    return g.kernel.api.resumeStats();
  }

  /** Tear a guest down (the source side of a migration, once the target has it). @internal */
  teardownGuest(domid: number, suspended = false): Promise<DomainReport> {
    return this.domains.teardown(domid, suspended, suspended);
  }

  /** `xl list`: dom0, then driver domains and guests by domid. */
  list(): DomainRow[] {
    return this.domains.list();
  }

  /** `xl scsi-attach <domain> <pdev> <vdev> [feature-host] [backend=<domain>] [munging=<policy>]`. */
  scsiAttach(
    domain: string,
    pdev: string,
    vdev: string,
    option?: string | readonly string[],
    options: { force?: boolean } = {},
  ): Promise<void> {
    return this.exclusive(() => this.devices.attach(domain, pdev, vdev, option, options.force === true));
  }

  /**
   * `xl scsi-rescan [-b <backend domain>] [<host>]`: the backend rescans its remote targets and
   * every whole-HBA controller (vdev `host`) follows: new units hot-plugged in, gone ones out.
   */
  scsiRescan(options: { backend?: string; host?: number } = {}): Promise<HbaRescan> {
    return this.exclusive(() =>
      this.devices.rescan(this.table.resolveBackend(options.backend, "xl scsi-rescan"), options.host),
    );
  }

  /** `xl scsi-detach <domain> <vdev>`: the last LUN of a controller takes the controller with it. */
  scsiDetach(domain: string, vdev: string): Promise<void> {
    return this.exclusive(() => this.devices.detach(domain, vdev));
  }

  /** `xl scsi-list <domain>...`. */
  scsiList(domains: readonly string[]): Promise<ScsiListRow[]> {
    return this.devices.list(domains);
  }

  /** `xl block-attach <Domain> <disk-spec-component(s)>...` (xl-disk-configuration syntax). */
  blockAttach(domain: string, spec: readonly string[]): Promise<void> {
    return this.exclusive(() => this.domains.vbds.attach(domain, spec));
  }

  /** `xl block-detach <Domain> <VirtualDevice>`. */
  blockDetach(domain: string, vdev: string): Promise<void> {
    return this.exclusive(() => this.domains.vbds.detach(domain, vdev));
  }

  /** `xl block-list <Domain>`. */
  blockList(domain: string): Promise<BlockListRow[]> {
    return this.domains.vbds.list(this.resolveDomain(domain).handle.domid);
  }

  /** blkback's view of every VBD, in dom0 and in every driver domain. */
  async vbdReport(): Promise<Array<VbdReport & { backendDomid: number }>> {
    const out: Array<VbdReport & { backendDomid: number }> = [];
    for (const [backendDomid, be] of this.table.backends)
      for (const r of await be.kernel.api.vbdReport()) out.push({ backendDomid, ...r });
    return out;
  }

  /** Run a command in a guest (`pvscsi guest <domain> <command>`). */
  async guestCommand(domain: string, argv: readonly string[]): Promise<CommandResult> {
    // A driver domain has no userland; `dmesg` prints its kernel's log (a wasm backend's).
    const be = argv[0] === "dmesg" ? this.table.findBackend(domain) : undefined;
    if (be !== undefined && be.handle.domid !== 0 && !this.table.guests.has(be.handle.domid)) {
      const log = await be.kernel.api.kernelLog();
      return { exitCode: 0, stdout: log.map((l) => `${l}\n`).join(""), stderr: "" };
    }
    return this.resolveDomain(domain).kernel.api.command([...argv]);
  }

  /**
   * `pvscsi guest <domain> put`: write `data` at `offset` of the guest's file `path` (created or
   * truncated at offset 0), from dom0 into the guest's filesystem, as virt-copy-in does from the
   * host side. `name` (the host file's) is used when `path` is a directory. Returns the guest
   * path written. Errors are {@link GuestPathError}s (`<path>: <reason>`).
   */
  async guestPut(
    domain: string,
    path: string,
    offset: number,
    data: Uint8Array,
    name?: string,
  ): Promise<string> {
    const g = this.resolveDomain(domain);
    return new GuestFs(g.guestRoot).writeChunk(path, offset, data, offset === 0, name);
  }

  /** `pvscsi guest <domain> get`: up to `length` bytes at `offset` of the guest's file, and its size. */
  async guestGet(
    domain: string,
    path: string,
    offset: number,
    length: number,
  ): Promise<{ data: Uint8Array; size: number }> {
    return new GuestFs(this.resolveDomain(domain).guestRoot).readChunk(path, offset, length);
  }

  /**
   * Benchmarks only: the same READ/WRITE commands as `iobench`, sent as postMessages between the
   * guest's kernel and dom0's backend kernel instead of through the ring (the baseline the data
   * path is measured against).
   */
  async postMessageBaseline(
    domain: string,
    pdev: string,
    o: { write: boolean; blockSize: number; depth: number; runtimeMs: number; spanBytes: number },
  ): Promise<{ ops: number; bytes: number; seconds: number; errors: number }> {
    const g = this.resolveDomain(domain);
    const { port1, port2 } = new MessageChannel();
    await this.table.dom0Backend.kernel.api.baselineServe({ port: port1, pdev });
    return g.kernel.api.baselineRun({ port: port2, ...o });
  }

  /** scsiback's view of every vhost, in dom0 and in every driver domain. */
  async backendReport(): Promise<Array<VhostReport & { backendDomid: number }>> {
    const out: Array<VhostReport & { backendDomid: number }> = [];
    for (const [backendDomid, be] of this.table.backends)
      for (const r of await be.kernel.api.report()) out.push({ backendDomid, ...r });
    return out;
  }

  /** Stop every guest, then the driver domains, then dom0's kernel and xenstored. */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    for (const domid of [...this.lunWatches.keys()]) await this.unwatchLuns(domid);
    await this.lunRescans;
    await this.lock.catch(() => undefined);
    for (const domid of [...this.table.guests.keys()])
      await this.domains.teardown(domid, false).catch(() => undefined);
    for (const be of [...this.table.backends.values()].filter((b) => b.handle.domid !== 0))
      await this.domains.teardownDriverDomain(be, true).catch(() => undefined);
    this.table.backends.delete(0);
    await this.system.shutdown(this.timeoutMs);
  }

  /** A guest by name or domid; errors name the argument. */
  resolveDomain(domain: string): GuestDomain {
    return this.table.resolveDomain(domain);
  }
}
