import type { Worker } from "node:worker_threads";
import type { Hypervisor } from "../hypervisor/hypervisor.js";
import type { LsscsiRow } from "../targets/inventory/inventory.js";
import { TraceBuffer } from "../trace/trace-buffer.js";
import { setTracer } from "../trace/tracer.js";
import type { DomainHandle } from "../xen/domain-handle.js";
import type { XenstoreClient } from "../xenstore/client.js";
import type { Xenstored } from "../xenstore/xenstored.js";
import { type BootOptions, boot, type Machine } from "./boot.js";
import {
  BACKEND_KERNEL_METHODS,
  type BackendBoot,
  type BackendKernelApi,
  GUEST_KERNEL_METHODS,
  type GuestBoot,
  type GuestKernelApi,
} from "./kernel-api.js";
import { runKernelLoop } from "./kernel-loop.js";
import {
  checkPollThreads,
  defaultPollThreads,
  HostThreads,
  PollBudget,
  pollOversubscription,
} from "./poll-budget.js";
import { RpcClient, rpcProxy } from "./rpc.js";
import { spawnWorker } from "./spawn-worker.js";
import { type RunningBackend, type RunningKernel, type System, withTimeout } from "./system.js";

/** Options of {@link ThreadedSystem.start}. */
export interface ThreadedSystemOptions extends BootOptions {
  /** How long to wait for dom0's kernel to boot (default 10 s). */
  readonly bootTimeoutMs?: number;
  /**
   * In poll mode, how many kernel threads may spin at once (default {@link defaultPollThreads}:
   * the cores less one for this thread); kernels beyond it run event-driven.
   */
  readonly pollThreads?: number;
  /**
   * The host's cores (default `os.availableParallelism()`), for the poll budget and the spin
   * before sleeping; tests inject a count.
   */
  readonly cores?: number;
  /** Longest sleep of a kernel's loop before it wakes on its own (default 1000 ms; for tests). */
  readonly kernelIdleWaitMs?: number;
}

/**
 * The machine with threads: the hypervisor, xenstored and the toolstack in this (the main)
 * thread, dom0's backend kernel in a worker, and each other domain's kernel in a worker of its
 * own. Between them: only ring pages, grants, event channels and xenstore; `postMessage`
 * carries boot information, typed control calls and reports.
 */
export class ThreadedSystem implements System {
  readonly hv: Hypervisor;
  readonly dom0: DomainHandle;
  readonly xenstored: Xenstored;
  readonly xs: XenstoreClient;
  readonly pollMode: boolean;
  readonly pollThreads: number;
  /** The host's kernel threads and cores, which every kernel reads before it spins. */
  readonly threads: HostThreads;
  /**
   * What the system warns about at start: in poll mode on fewer cores than the polling threads
   * need ({@link pollOversubscription}); the CLI prints it on stderr.
   */
  readonly warnings: readonly string[];
  dom0Kernel: RunningBackend | null = null;
  readonly traces: TraceBuffer[] = [];
  private stopping = false;
  private readonly machine: Machine;
  private readonly xsLoop: Promise<void>;
  private readonly pollBudget: PollBudget;

  private constructor(
    machine: Machine,
    pollThreads: number,
    threads: HostThreads,
    private readonly idle: { readonly idleWaitMs?: number },
  ) {
    this.machine = machine;
    this.threads = threads;
    const w = machine.pollMode ? pollOversubscription(pollThreads, threads.cores) : null;
    this.warnings = w === null ? [] : [w];
    this.hv = machine.hv;
    this.dom0 = machine.dom0;
    this.xenstored = machine.xenstored;
    this.xs = machine.xs;
    this.pollMode = machine.pollMode;
    this.pollThreads = pollThreads;
    this.pollBudget = new PollBudget(pollThreads);
    if (machine.trace) {
      const main = TraceBuffer.create();
      this.traces.push(main);
      setTracer(main);
    }
    // xenstored must serve the backend while it boots: its loop runs from here on.
    this.xsLoop = runKernelLoop(machine.xsDispatch, [], { stopped: () => this.stopping });
  }

  /** Boot ({@link boot}) with dom0's backend kernel in a worker. */
  static async start(options: ThreadedSystemOptions = {}): Promise<ThreadedSystem> {
    let sys: ThreadedSystem | undefined;
    const timeout = options.bootTimeoutMs ?? 10_000;
    const threads = HostThreads.create(options.cores);
    const pollThreads =
      options.pollThreads === undefined
        ? defaultPollThreads(threads.cores)
        : checkPollThreads(options.pollThreads, "pollThreads");
    try {
      const { dom0Kernel } = await boot(options, {
        attach: (m) => {
          sys = new ThreadedSystem(
            m,
            pollThreads,
            threads,
            options.kernelIdleWaitMs === undefined ? {} : { idleWaitMs: options.kernelIdleWaitMs },
          );
        },
        drive: (p) => p,
        startBackendKernel: (b) => sys!.startBackendKernel(b, "Domain-0", timeout),
      });
      sys!.dom0Kernel = dom0Kernel;
      return sys!;
    } catch (e) {
      await sys?.shutdown(timeout).catch(() => undefined);
      throw e;
    }
  }

  /** A new kernel thread's recorder, when tracing. */
  private traceFor(): { trace?: SharedArrayBuffer } {
    if (!this.machine.trace) return {};
    const t = TraceBuffer.create();
    this.traces.push(t);
    return { trace: t.buffer };
  }

  async startGuestKernel(
    b: GuestBoot,
    name: string,
    timeoutMs: number,
  ): Promise<RunningKernel<GuestKernelApi>> {
    const pollMode = this.pollBudget.claim(b.pollMode);
    const wasm = b.wasmKernel !== undefined;
    // A wasm kernel's worker runs the module's own loop: no host thread count, no blocking-loop calls.
    const boot: GuestBoot = wasm
      ? { ...b, pollMode }
      : { ...b, pollMode, hostThreads: this.threads.buffer, ...this.idle, ...this.traceFor() };
    const worker = spawnWorker(import.meta.url, wasm ? "./wasm-guest-worker" : "./guest-worker", {
      workerData: boot,
    });
    const rpc = wasm
      ? new RpcClient<GuestKernelApi>(worker, `dom${b.self.domid} (${name}) kernel`)
      : new RpcClient<GuestKernelApi>(
          worker,
          `dom${b.self.domid} (${name}) kernel`,
          this.callPosted(b.self.domid, b.vcpu),
        );
    const k = this.running(b.self.domid, worker, rpcProxy(rpc, GUEST_KERNEL_METHODS), pollMode);
    try {
      await withTimeout(rpc.ready, timeoutMs, `${name}'s kernel to boot`);
    } catch (e) {
      await k.terminate();
      throw e;
    }
    return k;
  }

  async startBackendKernel(b: BackendBoot, name: string, timeoutMs: number): Promise<RunningBackend> {
    const pollMode = this.pollBudget.claim(b.pollMode);
    const wasm = b.wasmKernel !== undefined;
    // A wasm backend's worker runs the module's own loop (as a wasm guest's does).
    const boot: BackendBoot = wasm
      ? { ...b, pollMode }
      : { ...b, pollMode, hostThreads: this.threads.buffer, ...this.idle, ...this.traceFor() };
    const worker = spawnWorker(import.meta.url, wasm ? "./wasm-backend-worker" : "./backend-worker", {
      workerData: boot,
    });
    const rpc = wasm
      ? new RpcClient<BackendKernelApi>(worker, `dom${b.self.domid} (${name}) backend kernel`)
      : new RpcClient<BackendKernelApi>(
          worker,
          `dom${b.self.domid} (${name}) backend kernel`,
          this.callPosted(b.self.domid, b.vcpu),
        );
    const k = this.running(b.self.domid, worker, rpcProxy(rpc, BACKEND_KERNEL_METHODS), pollMode);
    let inventory: LsscsiRow[];
    try {
      inventory = (await withTimeout(rpc.ready, timeoutMs, `${name}'s kernel to boot`)) as LsscsiRow[];
    } catch (e) {
      await k.terminate();
      throw e;
    }
    return { ...k, inventory };
  }

  introducePeer(handle: DomainHandle): void {
    this.machine.xsCtx.introducePeer(handle);
  }

  forgetPeer(domid: number): void {
    this.machine.xsCtx.forgetPeer(domid);
  }

  async shutdown(timeoutMs: number): Promise<void> {
    const dom0 = this.dom0Kernel;
    if (dom0) {
      await withTimeout(dom0.api.stop(), timeoutMs).catch(() => undefined);
      await dom0.terminate();
      this.dom0Kernel = null;
    }
    if (this.stopping) return;
    this.stopping = true;
    this.machine.xsCtx.evtchn.kick();
    await this.xsLoop;
    this.xenstored.close();
  }

  /**
   * What the RPC client calls after posting to a kernel's worker: count the call in the kernel's
   * vcpu and kick it, since a worker blocked in `Atomics.wait` receives no message otherwise.
   */
  private callPosted(domid: number, vcpu: number): () => void {
    const ev = this.hv.context(domid, { vcpu }).evtchn;
    return () => ev.beginCall();
  }

  /**
   * A kernel in `worker`: its time is the worker's event-loop active time; ending it gives its
   * place in the poll budget back (once), and takes its thread off the host's count.
   */
  private running<Api>(domid: number, worker: Worker, api: Api, pollMode: boolean): RunningKernel<Api> {
    const since = Date.now();
    let held = pollMode;
    let counted = true;
    this.threads.started(pollMode);
    return {
      domid,
      pollMode,
      api,
      cpuSeconds: () => {
        const elu = worker.performance?.eventLoopUtilization?.();
        return elu ? elu.active / 1000 : (Date.now() - since) / 1000;
      },
      terminate: async () => {
        await worker.terminate();
        if (counted) {
          counted = false;
          this.threads.stopped(pollMode);
        }
        if (held) {
          held = false;
          this.pollBudget.release();
        }
      },
    };
  }
}
