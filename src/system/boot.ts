import { EventDispatcher } from "../evtchn/dispatcher.js";
import type { DomainContext } from "../hypervisor/context.js";
import { Hypervisor } from "../hypervisor/hypervisor.js";
import { XenstoreGrantBinder } from "../hypervisor/xenstore-link.js";
import type { HostConfigSource } from "../targets/inventory/host-config.js";
import type { DomainHandle } from "../xen/domain-handle.js";
import { XEN_PAGE_SIZE } from "../xen/page.js";
import type { XenstoreClient } from "../xenstore/client.js";
import { XenstoreRingPage } from "../xenstore/ring-page.js";
import { Xenstored } from "../xenstore/xenstored.js";
import type { BackendBoot, PvLimits } from "./kernel-api.js";

/** Options of {@link boot}. */
export interface BootOptions {
  /** dom0's SCSI inventory; null or absent for the built-in one. */
  readonly hostConfig?: HostConfigSource | null;
  /** Rings polled instead of event-driven (benchmarks). */
  readonly pollMode?: boolean;
  /** Frames of dom0's memory (default 4096: 16 MiB). */
  readonly dom0Frames?: number;
  /**
   * Record a trace (`pvscsi/trace`): one recorder per thread — this one, installed as its
   * tracer, and each kernel worker's — listed in the system's `traces`.
   */
  readonly trace?: boolean;
  /** Protocol limits dom0's backends offer (2007-era reruns). */
  readonly pvLimits?: PvLimits;
  /**
   * Machine-memory mode (docs/wasm.md): every domain's RAM carved from one shared
   * `WebAssembly.Memory` of this many MiB, so a wasm backend driver domain can map guests'
   * grants. Absent (the default): each domain has its own buffer.
   */
  readonly machineMemoryMiB?: number;
}

/** The machine's fixed parts: the hypervisor, dom0, and xenstored with the toolstack's client. */
export interface Machine {
  readonly hv: Hypervisor;
  readonly dom0: DomainHandle;
  readonly xenstored: Xenstored;
  /** The toolstack's own (privileged, in-process) xenstore connection. */
  readonly xs: XenstoreClient;
  /** dom0's vcpu 1: xenstored's, in the toolstack's thread. */
  readonly xsCtx: DomainContext;
  /** xenstored's event dispatcher on {@link xsCtx}. */
  readonly xsDispatch: EventDispatcher;
  readonly pollMode: boolean;
  /** Whether the system records a trace ({@link BootOptions.trace}). */
  readonly trace: boolean;
}

/** How a system runs what {@link boot} brings up. */
export interface BootShell<K> {
  /** How xenstored runs its passes (default: a microtask; the single-thread system queues them). */
  readonly schedule?: (run: () => void) => void;
  /** Called once the machine exists, before anything waits on xenstored (start its loop here). */
  attach(machine: Machine): void;
  /** Await `p`, which needs the machine to move (the single-thread system settles meanwhile). */
  drive<T>(p: Promise<T>): Promise<T>;
  /** Start dom0's backend kernel (in a worker, or in this thread). */
  startBackendKernel(boot: BackendBoot): Promise<K>;
}

/**
 * Boot the machine, the one bring-up every system shares: the hypervisor and dom0 (two vcpus:
 * vcpu 1 is xenstored's, in the toolstack's thread; vcpu 0 the backend kernel's), xenstored with
 * the toolstack's client and dom0's `name`/`domid` (libxl's `libxl__domain_make` writes them for
 * every domain; `xen-init-dom0` does for dom0), dom0's xenstore ring (a page of dom0's memory and
 * a port to itself, as `xenstored`'s `dom0_init` sets up), and dom0's backend kernel.
 */
export async function boot<K>(
  options: BootOptions,
  shell: BootShell<K>,
): Promise<{ readonly machine: Machine; readonly dom0Kernel: K }> {
  const hv = new Hypervisor(
    options.machineMemoryMiB !== undefined ? { machineFrames: options.machineMemoryMiB * 256 } : {},
  );
  const dom0 = hv.createDomain({ domid: 0, name: "Domain-0", frames: options.dom0Frames ?? 4096, vcpus: 2 });
  const xsCtx = hv.context(0, { vcpu: 1 });
  const xsDispatch = new EventDispatcher(xsCtx.evtchn);
  const xenstored = new Xenstored({
    ...(shell.schedule ? { schedule: shell.schedule } : {}),
    binder: new XenstoreGrantBinder(xsCtx, xsDispatch),
  });
  const xs = xenstored.client(0);
  const machine: Machine = {
    hv,
    dom0,
    xenstored,
    xs,
    xsCtx,
    xsDispatch,
    pollMode: options.pollMode ?? false,
    trace: options.trace === true,
  };
  shell.attach(machine);
  await shell.drive(
    xs.transaction(async (tx) => {
      await tx.write("/local/domain/0/name", "Domain-0");
      await tx.write("/local/domain/0/domid", "0");
    }),
  );
  const kctx = hv.context(0, { vcpu: 0 });
  const frame = kctx.frames.alloc();
  const port = kctx.evtchn.allocUnbound(0);
  const xsPort = xsCtx.evtchn.bindInterdomain(0, port);
  const ring = xenstored.attachRing(
    0,
    new XenstoreRingPage(kctx.memory.buffer, kctx.memory.byteOffset + frame * XEN_PAGE_SIZE),
    () => {
      xsCtx.evtchn.send(xsPort);
    },
  );
  xsDispatch.on(xsPort, () => ring.onEvent());
  const dom0Kernel = await shell.startBackendKernel({
    self: dom0,
    vcpu: 0,
    peers: [],
    xenstore: { frame, port },
    hostConfig: options.hostConfig ?? null,
    pollMode: machine.pollMode,
    ...(options.pvLimits ? { pvLimits: options.pvLimits } : {}),
  });
  return { machine, dom0Kernel };
}
