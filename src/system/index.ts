/**
 * One assembly of the machine: {@link boot} brings up the hypervisor, xenstored and dom0's
 * backend kernel; {@link ThreadedSystem} runs every domain's kernel in a worker and
 * {@link LocalSystem} all of them in one thread, both behind {@link System}, which the toolstack
 * runs over. Kernels are built in one place ({@link bootGuestKernel}, {@link bootBackendKernel})
 * and driven through {@link GuestKernelApi} / {@link BackendKernelApi}, typed RPC to a worker or
 * direct calls in one thread.
 * @module
 */

/** A backend domain's kernel with scsiback over its inventory, built the same way in a worker and in one thread. */
export { BackendKernel, bootBackendKernel, type ExtraDevices } from "./backend-kernel.js";
/** Bring up the hypervisor, dom0, xenstored with dom0's ring and the toolstack's client, and dom0's backend kernel. */
export { type BootOptions, type BootShell, boot, type Machine } from "./boot.js";
/** An injectable time source: real by default, virtual under the simulator. */
export { type Clock, type ClockTimer, realClock } from "./clock.js";
/** A domain's `/local/domain/<id>` home as libxl lays it out. */
export { writeDomainHome } from "./domain-home.js";
/** A guest's kernel with scsifront, built the same way in a worker and in one thread. */
export { bootGuestKernel, GuestKernel, type KernelDrive } from "./guest-kernel.js";
/** What a domain's kernel offers the toolstack, what it is booted with, and the served method lists. */
export {
  BACKEND_KERNEL_METHODS,
  type BackendBoot,
  type BackendKernelApi,
  type BaselineResult,
  type BaselineRunArgs,
  GUEST_KERNEL_METHODS,
  type GuestBoot,
  type GuestControllerInfo,
  type GuestKernelApi,
  type GuestReleased,
  type KernelBoot,
} from "./kernel-api.js";
/**
 * How many kernel threads may spin in poll mode, the places a kernel claims in that budget, the
 * warning for too few cores, and the adaptive spin of an event-driven kernel before it sleeps.
 */
export {
  AdaptiveSpin,
  checkPollThreads,
  defaultPollThreads,
  HostThreads,
  PollBudget,
  pollOversubscription,
  SPIN_MAX_MS,
  SPIN_START_MS,
} from "./poll-budget.js";
/** Typed RPC to a kernel in a worker (control only; never SCSI data). */
export { RpcClient, rpcProxy, serveRpc } from "./rpc.js";
/** The deterministic system with every kernel in one thread, driven by `settle()` / `run()`. */
export { type LocalGuest, LocalSystem, type LocalSystemOptions, type ReadyStep } from "./single-thread.js";
/** Start a worker from sources or from dist/. */
export { spawnWorker } from "./spawn-worker.js";
/** The machine the toolstack runs over, a running kernel's handle, and the real-timer timeout both systems use. */
export { type RunningBackend, type RunningKernel, type System, withTimeout } from "./system.js";
/** The system with a worker per domain kernel. */
export { ThreadedSystem, type ThreadedSystemOptions } from "./threaded-system.js";
/** The deterministic system with every kernel in one thread, driven by `settle()` / `run()`. */
export { WasmBackendKernel } from "./wasm-backend-kernel.js";
