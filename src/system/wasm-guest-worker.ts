/**
 * A guest domain whose kernel is a WebAssembly module, as a worker thread: the module runs here,
 * in the domain's own thread, so its `pv_evtchn_wait` may block; the toolstack drives it over the
 * same typed RPC as guest-worker.ts.
 */
import { parentPort, workerData } from "node:worker_threads";
import createDebug from "debug";
import { DomainContext } from "../hypervisor/context.js";
import { checkDomainHandle } from "../xen/domain-handle.js";
import { GUEST_KERNEL_METHODS, type GuestBoot, type GuestKernelApi } from "./kernel-api.js";
import { serveRpc, type WorkerToMainMessage } from "./rpc.js";
import { WasmGuestKernel } from "./wasm-guest-kernel.js";
import { logUnhandledRejections } from "./worker-log.js";

const port = parentPort!;
logUnhandledRejections(createDebug("pvscsi:wasm"));
const boot = workerData as GuestBoot;

try {
  const ctx = DomainContext.attach(checkDomainHandle(boot.self), { vcpu: boot.vcpu });
  const kernel = new WasmGuestKernel(ctx, boot, "loop");
  serveRpc<GuestKernelApi>(port, kernel, GUEST_KERNEL_METHODS);
  port.postMessage({ kind: "ready", value: null } satisfies WorkerToMainMessage);
} catch (e) {
  port.postMessage({
    kind: "fatal",
    error: e instanceof Error ? (e.stack ?? e.message) : String(e),
  } satisfies WorkerToMainMessage);
}
