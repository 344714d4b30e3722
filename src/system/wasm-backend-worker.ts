/**
 * A driver domain whose kernel is a WebAssembly backend module, as a worker thread: the module
 * runs here with the machine memory imported; the toolstack drives it over the same typed RPC as
 * backend-worker.ts, and its "ready" carries the inventory.
 */
import { parentPort, workerData } from "node:worker_threads";
import createDebug from "debug";
import { DomainContext } from "../hypervisor/context.js";
import { checkDomainHandle } from "../xen/domain-handle.js";
import { BACKEND_KERNEL_METHODS, type BackendBoot, type BackendKernelApi } from "./kernel-api.js";
import { serveRpc, type WorkerToMainMessage } from "./rpc.js";
import { WasmBackendKernel } from "./wasm-backend-kernel.js";
import { logUnhandledRejections } from "./worker-log.js";

const port = parentPort!;
logUnhandledRejections(createDebug("pvscsi:wasm"));
const boot = workerData as BackendBoot;

async function main(): Promise<void> {
  const ctx = DomainContext.attach(checkDomainHandle(boot.self), { vcpu: boot.vcpu });
  const kernel = new WasmBackendKernel(ctx, boot, "loop");
  serveRpc<BackendKernelApi>(port, kernel, BACKEND_KERNEL_METHODS);
  port.postMessage({ kind: "ready", value: await kernel.inventory() } satisfies WorkerToMainMessage);
}

main().catch((e: unknown) => {
  port.postMessage({
    kind: "fatal",
    error: e instanceof Error ? (e.stack ?? e.message) : String(e),
  } satisfies WorkerToMainMessage);
});
