import type { MessagePort } from "node:worker_threads";
import type { VbdReport } from "../blkback/backend-driver.js";
import type { SavedScsiDevice } from "../guest/midlayer.js";
import type { CommandResult } from "../guest/userland/command.js";
import type { XenstoreStartInfo } from "../hypervisor/xenstore-link.js";
import type { VhostReport } from "../scsiback/backend-driver.js";
import type { SavedScsifront } from "../scsifront/saved-state.js";
import type { HostConfigSource } from "../targets/inventory/host-config.js";
import type { LsscsiRow } from "../targets/inventory/inventory.js";
import type { DomainHandle } from "../xen/domain-handle.js";

/**
 * What a domain's kernel is booted with, as Xen's start info gives a PV kernel (`store_mfn`,
 * `store_evtchn`) plus the domains it may reach at boot.
 */
export interface KernelBoot {
  readonly self: DomainHandle;
  /** The vcpu the kernel's events are delivered to (dom0's backend kernel: 0; xenstored has 1). */
  readonly vcpu: number;
  readonly peers: readonly DomainHandle[];
  readonly xenstore: XenstoreStartInfo;
  /** Rings polled instead of event-driven (benchmarks). */
  readonly pollMode: boolean;
  /** The kernel thread's trace recorder (a `TraceBuffer`'s memory), when tracing. */
  readonly trace?: SharedArrayBuffer;
  /**
   * The host's count of kernel threads and cores (`HostThreads.buffer`), for a kernel running its
   * own loop: it spins before sleeping only while the host is not oversubscribed. Absent: never spins.
   */
  readonly hostThreads?: SharedArrayBuffer;
  /**
   * Longest sleep of the kernel's loop before it wakes on its own (default 1000 ms). Tests give
   * a long one, so that work left waiting for a timeout shows as a hang rather than a delay.
   */
  readonly idleWaitMs?: number;
}

/** What the toolstack boots a guest kernel (scsifront) with. */
export interface GuestBoot extends KernelBoot {
  /**
   * The dom0 folder that is the guest's filesystem (its `/`): every guest tool's file access is
   * confined to it (`GuestFs`). Created on first use.
   */
  readonly guestRoot: string;
  /**
   * The domain's kernel is this WebAssembly module (xl's `kernel = "front.wasm"`), run by
   * `WasmGuestKernel` instead of pvscsi's scsifront; the domain's memory is its shared memory.
   */
  readonly wasmKernel?: Uint8Array;
  /** The kernel command line (xl's `cmdline` / `extra`): blkfront's module parameters. */
  readonly cmdline?: string;
  /**
   * Resume this kernel instead of booting it afresh (`xl restore`, the target of `xl migrate`):
   * its saved state, and each saved controller devid with the devid the toolstack gives it here.
   * The controllers start suspended; {@link GuestKernelApi.resume} reconnects them.
   */
  readonly resumeFrom?: {
    readonly state: GuestKernelState;
    readonly devids: ReadonlyArray<readonly [number, number]>;
  };
}

/**
 * A suspended guest kernel as data ({@link GuestKernelApi.suspend}): scsifront's controllers with
 * what they had in flight, and the midlayer's devices with their names. With the domain's memory
 * image and its frame bitmap it is what a resumed kernel needs — in Xen all of it is in memory.
 */
export interface GuestKernelState {
  readonly scsifront: SavedScsifront;
  readonly devices: readonly SavedScsiDevice[];
}

/** What resumes did in a guest kernel (`pvscsi xl` reports them after a restore or migration). */
export interface GuestResumeStats {
  /** Rings replaced by a resume. */
  readonly resumes: number;
  /** Commands the resume found in flight and completed with DID_RESET (`scsifront_finish_all`). */
  readonly resetCompletions: number;
  /** Commands the midlayer sent again because they completed with DID_RESET. */
  readonly resetRetries: number;
  /** Commands a resume carried over (in flight or waiting) whose issuer stayed behind. */
  readonly carried: number;
  /** Of those, how many completed (and how many not GOOD). */
  readonly carriedCompletions: number;
  readonly carriedFailures: number;
}

/**
 * Protocol limits a backend offers, to rerun old measurements: 2007's backends offered neither
 * indirect blkif segments nor vscsiif's `feature-sg-grant`. Absent fields keep today's defaults.
 */
export interface PvLimits {
  /** blkback's `feature-max-indirect-segments` (default 256; 0 = not offered). */
  readonly blkifIndirectSegments?: number;
  /** blkback's `feature-persistent` (default offered). */
  readonly blkifPersistent?: boolean;
  /** blkback's `max-ring-page-order` (default 4, Linux's; 0 = single-page rings only). */
  readonly blkifRingPageOrder?: number;
  /** scsiback's `feature-sg-grant` (default 128; 0 = not offered). */
  readonly scsiSgGrant?: number;
}

/** What the toolstack boots a backend kernel (dom0's or a driver domain's scsiback) with. */
export interface BackendBoot extends KernelBoot {
  /** The host config (text and where it came from); null for the built-in default inventory. */
  readonly hostConfig: HostConfigSource | null;
  /** Protocol limits to offer instead of today's defaults. */
  readonly pvLimits?: PvLimits;
  /**
   * The driver domain's kernel is this WebAssembly backend module (xl's `kernel = "back.wasm"`
   * with `driver_domain = 1`), run by `WasmBackendKernel` in machine-memory mode.
   */
  readonly wasmKernel?: Uint8Array;
}

/** One of a guest's vscsi controllers as its scsifront sees it. */
export interface GuestControllerInfo {
  readonly devid: number;
  /** Its xenbus state's name (`xenbusStateName`). */
  readonly state: string;
  readonly backend: string;
  /** The SCSI host number the guest gave it (null until connected). */
  readonly hostNo: number | null;
}

/** What a guest's scsifront still holds after its controllers went (all zero when it let go). */
export interface GuestReleased {
  readonly devices: number;
  readonly deferredGrants: number;
}

/** Benchmarks only: the postMessage baseline's guest side (see postmessage-baseline.ts). */
export interface BaselineRunArgs {
  readonly port: MessagePort;
  readonly write: boolean;
  readonly blockSize: number;
  readonly depth: number;
  readonly runtimeMs: number;
  readonly spanBytes: number;
}

/** What the baseline's guest side measured. */
export interface BaselineResult {
  readonly ops: number;
  readonly bytes: number;
  readonly seconds: number;
  readonly errors: number;
}

/**
 * A guest domain's kernel as the toolstack drives it: served by guest-worker.ts over typed RPC
 * in the threaded system, implemented directly by {@link GuestKernel} in the single-thread one.
 * Every method answers with a promise, so both look the same to the caller.
 */
export interface GuestKernelApi {
  /** Make a new domain reachable (its grants and ports), as a control message to the kernel would. */
  introducePeer(handle: DomainHandle): Promise<void>;
  /** Forget a destroyed domain. */
  forgetPeer(domid: number): Promise<void>;
  /** Run a guest command (lsscsi, dd, sg_inq, ...) and return what it printed. */
  command(argv: readonly string[]): Promise<CommandResult>;
  /** scsifront's controllers. */
  controllers(): Promise<GuestControllerInfo[]>;
  /** Resolves once scsifront has nothing in flight. */
  settled(): Promise<void>;
  /** Benchmarks only: run the postMessage baseline's guest side on `args.port`. */
  baselineRun(args: BaselineRunArgs): Promise<BaselineResult>;
  /** The guest shuts down: scsifront closes its controllers (`scsifront_remove`). */
  shutdown(): Promise<void>;
  /** After the backend let go: what scsifront still holds. */
  released(): Promise<GuestReleased>;
  /** Stop scsifront and the kernel (its event loop ends, its xenstore connection closes). */
  stop(): Promise<void>;
  /**
   * Suspend the guest (`xl save`, `xl migrate`'s stop-and-copy; Linux `scsifront_suspend` for each
   * controller): new commands wait (HOST_BUSY), what is in flight stays, no device change is
   * handled. Returns the kernel's state for a resume elsewhere, or null when this kernel cannot
   * be saved (a WebAssembly kernel: it is booted afresh instead).
   */
  suspend(): Promise<GuestKernelState | null>;
  /** The suspend was cancelled (the save or migration failed before the point of no return): carry on. */
  thaw(): Promise<void>;
  /** A kernel booted with `resumeFrom`, its controllers' nodes written: finish, reconnect, re-add. */
  resume(): Promise<void>;
  /** What resumes did here. */
  resumeStats(): Promise<GuestResumeStats>;
}

/**
 * A backend domain's kernel (dom0 or a driver domain: scsiback over its own SCSI inventory) as
 * the toolstack drives it: served by backend-worker.ts, or implemented by {@link BackendKernel}.
 */
export interface BackendKernelApi {
  /** Make a new domain reachable (a guest it may serve). */
  introducePeer(handle: DomainHandle): Promise<void>;
  /** Forget a destroyed domain. */
  forgetPeer(domid: number): Promise<void>;
  /** scsiback's view of every vhost it serves. */
  report(): Promise<VhostReport[]>;
  /** The SCSI devices of its inventory, as `lsscsi` lists them. */
  inventory(): Promise<LsscsiRow[]>;
  /**
   * Rescan its remote (`[iscsi-target]`) targets on `host` (all when undefined): units added and
   * removed, by h:c:t:l (`Inventory.rescan`).
   */
  rescan(host?: number): Promise<{ added: string[]; removed: string[] }>;
  /** blkback's view of every VBD it serves. */
  vbdReport(): Promise<VbdReport[]>;
  /** Benchmarks only: serve the postMessage baseline for `pdev` on `args.port`. */
  baselineServe(args: { readonly port: MessagePort; readonly pdev: string }): Promise<void>;
  /**
   * The kernel's log (`dmesg`): a wasm backend's `pv_log` lines and pvscsi's reports about it;
   * empty for pvscsi's own scsiback (its log is `DEBUG=pvscsi:*`).
   */
  kernelLog(): Promise<string[]>;
  /** Stop scsiback, the kernel, and close the inventory's devices. */
  stop(): Promise<void>;
}

/**
 * The method names of {@link GuestKernelApi}, the list a worker serves: a `Record` over the
 * interface's keys, so adding or renaming a method without updating it fails to compile.
 */
export const GUEST_KERNEL_METHODS: Readonly<Record<keyof GuestKernelApi, true>> = {
  introducePeer: true,
  forgetPeer: true,
  command: true,
  controllers: true,
  settled: true,
  baselineRun: true,
  shutdown: true,
  released: true,
  stop: true,
  suspend: true,
  thaw: true,
  resume: true,
  resumeStats: true,
};

/** The method names of {@link BackendKernelApi} (see {@link GUEST_KERNEL_METHODS}). */
export const BACKEND_KERNEL_METHODS: Readonly<Record<keyof BackendKernelApi, true>> = {
  introducePeer: true,
  forgetPeer: true,
  report: true,
  inventory: true,
  rescan: true,
  vbdReport: true,
  baselineServe: true,
  kernelLog: true,
  stop: true,
};

/**
 * Where a backend domain's kernel writes `<host>:<seq>` when a remote target's LUNs changed by
 * themselves (06/3F/0E, then a rescan that added or removed units): its own xenstore area, which
 * the toolstack watches to hot-plug whole-HBA controllers (`xl scsi-rescan` without the admin).
 */
export function lunsChangedPath(backendDomid: number): string {
  return `/local/domain/${backendDomid}/data/pvscsi-luns-changed`;
}
