import type { Hypervisor } from "../hypervisor/hypervisor.js";
import type { LsscsiRow } from "../targets/inventory/inventory.js";
import type { TraceBuffer } from "../trace/trace-buffer.js";
import type { DomainHandle } from "../xen/domain-handle.js";
import { PvscsiError } from "../xen/errors.js";
import type { XenstoreClient } from "../xenstore/client.js";
import type { Xenstored } from "../xenstore/xenstored.js";
import { type Clock, realClock } from "./clock.js";
import type { BackendBoot, BackendKernelApi, GuestBoot, GuestKernelApi } from "./kernel-api.js";

/** A domain's running kernel as the toolstack holds it, wherever it runs. */
export interface RunningKernel<Api> {
  readonly domid: number;
  /**
   * Whether this kernel polls its rings: poll mode, and a place in the system's poll budget
   * ({@link System.pollThreads}); otherwise it sleeps on its event channel.
   */
  readonly pollMode: boolean;
  /** The kernel's API: RPC to a worker, or the in-thread kernel itself. */
  readonly api: Api;
  /** The vcpu time the kernel has used, in seconds (what `xl list` shows). */
  cpuSeconds(): number;
  /** End the kernel's thread (after `api.stop()`, or instead of it when it does not answer). */
  terminate(): Promise<void>;
}

/** A backend domain's running kernel, with the inventory it opened at boot. */
export interface RunningBackend extends RunningKernel<BackendKernelApi> {
  readonly inventory: readonly LsscsiRow[];
}

/**
 * The machine the toolstack runs over: the hypervisor, dom0, xenstored and the toolstack's own
 * client, dom0's backend kernel, and the means to start and stop other domains' kernels. The
 * threaded system runs each kernel in a worker; the single-thread one runs them all here,
 * deterministically. libxl's logic (src/toolstack/) sees no difference.
 */
export interface System {
  readonly hv: Hypervisor;
  readonly dom0: DomainHandle;
  readonly xenstored: Xenstored;
  /** The toolstack's (privileged, in-process) xenstore client. */
  readonly xs: XenstoreClient;
  /** Rings polled instead of event-driven (benchmarks). */
  readonly pollMode: boolean;
  /**
   * In poll mode, how many kernels may poll at once (each spins a thread); later kernels run
   * event-driven until a polling one stops. Unlimited (`Infinity`) where one thread runs them all.
   */
  readonly pollThreads: number;
  /** dom0's backend kernel (scsiback over dom0's inventory); null once shut down. */
  readonly dom0Kernel: RunningBackend | null;
  /**
   * The time the toolstack's timeouts run on: real time unless the system was given another
   * (the simulator's virtual clock). Absent means real time.
   */
  readonly clock?: Clock;
  /** Every thread's trace recorder when booted with `trace` (export with `toChromeTrace`); else empty. */
  readonly traces: readonly TraceBuffer[];
  /** Start a guest's kernel (scsifront) and wait until it is up, at most `timeoutMs`. */
  startGuestKernel(boot: GuestBoot, name: string, timeoutMs: number): Promise<RunningKernel<GuestKernelApi>>;
  /** Start a backend domain's kernel (scsiback over `boot.hostConfig`) and wait for its inventory. */
  startBackendKernel(boot: BackendBoot, name: string, timeoutMs: number): Promise<RunningBackend>;
  /** Let xenstored (dom0's vcpu 1) reach a new domain's grants and ports. */
  introducePeer(handle: DomainHandle): void;
  /** xenstored forgets a destroyed domain. */
  forgetPeer(domid: number): void;
  /** Stop dom0's backend kernel and xenstored (the toolstack stopped the other domains first). */
  shutdown(timeoutMs: number): Promise<void>;
}

/**
 * Wait for `p` at most `ms` on `clock` (real time unless given; the simulator passes its virtual
 * clock): libxl's device timeouts (`LIBXL_DEVICE_MODEL_START_TIMEOUT`, `LIBXL_DESTROY_TIMEOUT`)
 * play this part.
 */
export function withTimeout<T>(
  p: Promise<T>,
  ms: number,
  what = "an answer",
  clock: Clock = realClock,
): Promise<T> {
  let t: unknown;
  return Promise.race([
    p.finally(() => clock.clearTimeout(t)),
    new Promise<T>((_, reject) => {
      t = clock.setTimeout(
        () => reject(new PvscsiError("ESTATE", `timed out: waited ${ms} ms for ${what}`)),
        ms,
      );
    }),
  ]);
}
