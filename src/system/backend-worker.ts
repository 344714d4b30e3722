/**
 * The backend domain's kernel (dom0, or a driver domain) as a worker thread: a thin shell that
 * boots the domain's kernel, opens its physical SCSI inventory, starts scsiback and runs the
 * event loop. The main thread talks to it only to introduce peers and read reports.
 */
import { type MessagePort, parentPort, workerData } from "node:worker_threads";
import createDebug from "debug";
import { DomainContext } from "../hypervisor/context.js";
import { DomainKernel } from "../hypervisor/domain-kernel.js";
import type { XenstoreStartInfo } from "../hypervisor/xenstore-link.js";
import { ScsibackDriver } from "../scsiback/backend-driver.js";
import { type HostConfigSource, parseHostConfig } from "../targets/inventory/host-config.js";
import { Inventory } from "../targets/inventory/inventory.js";
import { checkDomainHandle, type DomainHandle } from "../xen/domain-handle.js";
import { runKernelLoop } from "./kernel-loop.js";
import { serveBaseline } from "./postmessage-baseline.js";
import { serveRpc, type WorkerToMainMessage } from "./rpc.js";
import { logUnhandledRejections } from "./worker-log.js";

/** What the toolstack boots a backend kernel with. */
export interface BackendBoot {
  readonly self: DomainHandle;
  readonly vcpu: number;
  readonly peers: readonly DomainHandle[];
  readonly xenstore: XenstoreStartInfo;
  /** The host config (text and where it came from); null for the built-in default inventory. */
  readonly hostConfig: HostConfigSource | null;
  readonly pollMode: boolean;
}

const port = parentPort!;
logUnhandledRejections(createDebug("pvscsi:scsiback"));
const boot = workerData as BackendBoot;

async function main(): Promise<void> {
  const ctx = DomainContext.attach(checkDomainHandle(boot.self), { vcpu: boot.vcpu });
  for (const p of boot.peers) ctx.introducePeer(p);
  const kernel = new DomainKernel(ctx, boot.xenstore);
  const inventory = boot.hostConfig
    ? await Inventory.open(
        parseHostConfig(boot.hostConfig.text, boot.hostConfig.source, boot.hostConfig.baseDir),
      )
    : await Inventory.openDefault();
  const driver = new ScsibackDriver({
    ctx,
    dispatcher: kernel.dispatcher,
    xs: kernel.xs,
    pollMode: boot.pollMode,
    resolve: (pdev) => {
      const e = inventory.find(pdev);
      if (!e) return "doesn't exist";
      if (e.fault) return `not ready: ${e.fault}`;
      return { device: e.device, physLun: e.hctl.lun };
    },
  });
  let stopping = false;
  const loop = runKernelLoop(kernel.dispatcher, [driver], {
    pollMode: boot.pollMode,
    stopped: () => stopping,
  });
  await driver.start();
  serveRpc(port, {
    introducePeer: (h: DomainHandle) => ctx.introducePeer(checkDomainHandle(h)),
    forgetPeer: (domid: number) => ctx.forgetPeer(domid),
    report: () => driver.report(),
    inventory: () => inventory.list(),
    // Benchmarks only: the postMessage baseline the ring is measured against.
    baselineServe: (args: { port: MessagePort; pdev: string }) => {
      const e = inventory.resolve(args.pdev);
      serveBaseline(args.port, e.device, e.hctl.lun);
    },
    stop: async () => {
      await driver.stop();
      stopping = true;
      ctx.evtchn.kick();
      await loop;
      kernel.shutdown();
      await inventory.close();
    },
  });
  port.postMessage({ kind: "ready", value: inventory.list() } satisfies WorkerToMainMessage);
  await loop;
}

main().catch((e: unknown) => {
  port.postMessage({
    kind: "fatal",
    error: e instanceof Error ? (e.stack ?? e.message) : String(e),
  } satisfies WorkerToMainMessage);
});
