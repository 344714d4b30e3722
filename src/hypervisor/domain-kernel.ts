import { EventDispatcher } from "../evtchn/dispatcher.js";
import { XenstoreClient } from "../xenstore/client.js";
import { XenstoreRingClient } from "../xenstore/ring-client.js";
import { XenstoreRingPage } from "../xenstore/ring-page.js";
import type { DomainContext } from "./context.js";
import type { XenstoreStartInfo } from "./xenstore-link.js";

/**
 * What every domain's kernel sets up at boot, before any driver: an event dispatcher for its
 * vcpu, and a xenstore client over the ring page and port its start info names (Linux's
 * `xenbus_probe` → `xb_init_comms`). Sans-IO: the shell around it (a worker loop, or a
 * single-thread scheduler) waits for events and calls `dispatcher.poll()` / `wait()`.
 */
export class DomainKernel {
  readonly ctx: DomainContext;
  readonly dispatcher: EventDispatcher;
  readonly xsRing: XenstoreRingClient;
  readonly xs: XenstoreClient;
  private readonly xsPort: number;

  constructor(ctx: DomainContext, xenstore: XenstoreStartInfo) {
    this.ctx = ctx;
    this.dispatcher = new EventDispatcher(ctx.evtchn);
    const page = new XenstoreRingPage(ctx.memory.buffer, ctx.memory.byteOffset + xenstore.frame * 4096);
    const port = xenstore.port;
    this.xsPort = port;
    this.xsRing = new XenstoreRingClient(page, () => {
      ctx.evtchn.send(port);
    });
    this.dispatcher.on(port, () => this.xsRing.service());
    this.xs = new XenstoreClient(this.xsRing);
  }

  /**
   * The domain is going down: close the xenstore connection and its port. (The reserved
   * xenstore grant is the domain builder's and goes with the domain.)
   */
  shutdown(): void {
    this.xs.close();
    this.dispatcher.off(this.xsPort);
    this.ctx.evtchn.close(this.xsPort);
  }
}
