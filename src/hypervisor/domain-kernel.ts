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
  private xsEvents = 0;
  private xsEventsSeen = 0;

  constructor(ctx: DomainContext, xenstore: XenstoreStartInfo) {
    this.ctx = ctx;
    this.dispatcher = new EventDispatcher(ctx.evtchn);
    const page = new XenstoreRingPage(ctx.memory.buffer, ctx.memory.byteOffset + xenstore.frame * 4096);
    const port = xenstore.port;
    this.xsPort = port;
    this.xsRing = new XenstoreRingClient(page, () => {
      ctx.evtchn.send(port);
    });
    this.dispatcher.on(port, () => {
      this.xsEvents++;
      this.xsRing.service();
    });
    this.xs = new XenstoreClient(this.xsRing);
  }

  /**
   * Whether xenstore traffic may have left work for the thread's event loop: a request still
   * unanswered, or replies and watch events handled since the last call (their promise callbacks
   * have not run yet). A loop that would block its thread asks first (`runKernelLoop`'s
   * `mayBlock`): after traffic it lets the event loop run once, and blocks only when it is quiet.
   */
  xenstoreBusy(): boolean {
    if (this.xsEvents !== this.xsEventsSeen) {
      this.xsEventsSeen = this.xsEvents;
      return true;
    }
    return this.xs.pendingRequests > 0;
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
