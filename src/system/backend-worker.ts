/**
 * The backend domain's kernel (dom0, or a driver domain) as a worker thread: a thin shell around
 * {@link bootBackendKernel} that serves {@link BackendKernelApi} over typed RPC and announces
 * the inventory it opened. The main thread talks to it only to introduce peers and read reports.
 */
import { parentPort, workerData } from "node:worker_threads";
import createDebug from "debug";
import { DomainContext } from "../hypervisor/context.js";
import { TraceBuffer } from "../trace/trace-buffer.js";
import { setTracer } from "../trace/tracer.js";
import { checkDomainHandle } from "../xen/domain-handle.js";
import { bootBackendKernel } from "./backend-kernel.js";
import { BACKEND_KERNEL_METHODS, type BackendBoot, type BackendKernelApi } from "./kernel-api.js";
import { serveRpc, type WorkerToMainMessage } from "./rpc.js";
import { logUnhandledRejections } from "./worker-log.js";

const port = parentPort!;
logUnhandledRejections(createDebug("pvscsi:scsiback"));
const boot = workerData as BackendBoot;
if (boot.trace !== undefined) setTracer(TraceBuffer.attach(boot.trace));

async function main(): Promise<void> {
  const ctx = DomainContext.attach(checkDomainHandle(boot.self), { vcpu: boot.vcpu });
  const kernel = await bootBackendKernel(ctx, boot, "loop");
  serveRpc<BackendKernelApi>(port, kernel, BACKEND_KERNEL_METHODS, () => ctx.evtchn.endCall());
  port.postMessage({ kind: "ready", value: await kernel.inventory() } satisfies WorkerToMainMessage);
}

main().catch((e: unknown) => {
  port.postMessage({
    kind: "fatal",
    error: e instanceof Error ? (e.stack ?? e.message) : String(e),
  } satisfies WorkerToMainMessage);
});
