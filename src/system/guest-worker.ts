/**
 * A guest domain's kernel as a worker thread: a thin shell around {@link bootGuestKernel} that
 * serves {@link GuestKernelApi} over typed RPC. Only the command line and its printed output
 * cross to the main thread; the SCSI traffic stays on the ring.
 */
import { parentPort, workerData } from "node:worker_threads";
import createDebug from "debug";
import { DomainContext } from "../hypervisor/context.js";
import { TraceBuffer } from "../trace/trace-buffer.js";
import { setTracer } from "../trace/tracer.js";
import { checkDomainHandle } from "../xen/domain-handle.js";
import { bootGuestKernel } from "./guest-kernel.js";
import { GUEST_KERNEL_METHODS, type GuestBoot, type GuestKernelApi } from "./kernel-api.js";
import { serveRpc, type WorkerToMainMessage } from "./rpc.js";
import { logUnhandledRejections } from "./worker-log.js";

const port = parentPort!;
logUnhandledRejections(createDebug("pvscsi:scsifront"));
const boot = workerData as GuestBoot;
if (boot.trace !== undefined) setTracer(TraceBuffer.attach(boot.trace));

async function main(): Promise<void> {
  const ctx = DomainContext.attach(checkDomainHandle(boot.self), { vcpu: boot.vcpu });
  const kernel = await bootGuestKernel(ctx, boot, "loop");
  serveRpc<GuestKernelApi>(port, kernel, GUEST_KERNEL_METHODS, () => ctx.evtchn.endCall());
  port.postMessage({ kind: "ready", value: null } satisfies WorkerToMainMessage);
}

main().catch((e: unknown) => {
  port.postMessage({
    kind: "fatal",
    error: e instanceof Error ? (e.stack ?? e.message) : String(e),
  } satisfies WorkerToMainMessage);
});
