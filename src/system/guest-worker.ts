/**
 * A guest domain's kernel as a worker thread: boots the kernel, starts scsifront, runs the event
 * loop, and runs guest commands (lsscsi, dd, ...) the toolstack asks for. Only the command line
 * and its printed output cross to the main thread; the SCSI traffic stays on the ring.
 */
import { type MessagePort, parentPort, workerData } from "node:worker_threads";
import createDebug from "debug";
import { GuestScsi } from "../guest/midlayer.js";
import { runGuestCommand } from "../guest/userland/shell.js";
import { DomainContext } from "../hypervisor/context.js";
import { DomainKernel } from "../hypervisor/domain-kernel.js";
import type { XenstoreStartInfo } from "../hypervisor/xenstore-link.js";
import { ScsifrontDriver } from "../scsifront/frontend-driver.js";
import { checkDomainHandle, type DomainHandle } from "../xen/domain-handle.js";
import { runKernelLoop } from "./kernel-loop.js";
import { runBaseline } from "./postmessage-baseline.js";
import { serveRpc, type WorkerToMainMessage } from "./rpc.js";
import { logUnhandledRejections } from "./worker-log.js";

/** What the toolstack boots a guest kernel with. */
export interface GuestBoot {
  readonly self: DomainHandle;
  readonly peers: readonly DomainHandle[];
  readonly xenstore: XenstoreStartInfo;
  readonly pollMode: boolean;
}

const port = parentPort!;
logUnhandledRejections(createDebug("pvscsi:scsifront"));
const boot = workerData as GuestBoot;

async function main(): Promise<void> {
  const ctx = DomainContext.attach(checkDomainHandle(boot.self));
  for (const p of boot.peers) ctx.introducePeer(p);
  const kernel = new DomainKernel(ctx, boot.xenstore);
  const driver = new ScsifrontDriver({
    midlayer: new GuestScsi(),
    ctx,
    dispatcher: kernel.dispatcher,
    xs: kernel.xs,
    pollMode: boot.pollMode,
  });
  let stopping = false;
  const loop = runKernelLoop(kernel.dispatcher, [driver], {
    pollMode: boot.pollMode,
    stopped: () => stopping,
    tick: () => {
      if (driver.deferredGrants > 0) driver.retryDeferred();
    },
  });
  await driver.start();
  serveRpc(port, {
    introducePeer: (h: DomainHandle) => ctx.introducePeer(checkDomainHandle(h)),
    forgetPeer: (domid: number) => ctx.forgetPeer(domid),
    command: (argv: string[]) => runGuestCommand(argv, driver.scsi),
    controllers: () =>
      driver
        .controllers()
        .map((c) => ({ devid: c.devid, state: c.state, backend: c.backend, hostNo: c.host?.hostNo ?? null })),
    settled: () => driver.settled(),
    // Benchmarks only: the postMessage baseline the ring is measured against.
    baselineRun: (args: {
      port: MessagePort;
      write: boolean;
      blockSize: number;
      depth: number;
      runtimeMs: number;
      spanBytes: number;
    }) => runBaseline(args.port, args),
    shutdown: () => driver.shutdown(),
    released: async () => {
      await driver.settled();
      driver.retryDeferred();
      return { devices: driver.deviceCount, deferredGrants: driver.deferredGrants };
    },
    stop: async () => {
      await driver.stop();
      stopping = true;
      ctx.evtchn.kick();
      await loop;
      kernel.shutdown();
    },
  });
  port.postMessage({ kind: "ready", value: null } satisfies WorkerToMainMessage);
  await loop;
}

main().catch((e: unknown) => {
  port.postMessage({
    kind: "fatal",
    error: e instanceof Error ? (e.stack ?? e.message) : String(e),
  } satisfies WorkerToMainMessage);
});
