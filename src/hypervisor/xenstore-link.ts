import type { EventDispatcher } from "../evtchn/dispatcher.js";
import { hypercallFailed } from "../xen/errors.js";
import { GNTTAB_RESERVED_XENSTORE, grantStatusName } from "../xen/grant-constants.js";
import { XenstoreRingPage } from "../xenstore/ring-page.js";
import type { XenstoreDomainBinder, XenstoreDomainBinding } from "../xenstore/xenstored.js";
import type { DomainContext } from "./context.js";
import type { Hypervisor } from "./hypervisor.js";

/**
 * Where a domain finds xenstore, as Xen's start info says (`store_mfn`, `store_evtchn`): the
 * frame of its own memory holding the `xenstore_domain_interface` page, and its local port.
 */
export interface XenstoreStartInfo {
  readonly frame: number;
  readonly port: number;
}

/**
 * What the domain builder does for a new domain's xenstore connection (libxc's
 * `xc_dom_gnttab_seed` and libxl's `xs_introduce_domain` inputs): allocate the page in the
 * domain's memory, grant it to the xenstore domain under the reserved ref
 * `GNTTAB_RESERVED_XENSTORE` (1), and allocate an unbound port for the xenstore domain to bind.
 */
export function prepareXenstoreRing(hv: Hypervisor, domid: number, xenstoreDomid = 0): XenstoreStartInfo {
  const ctx = hv.context(domid);
  const frame = ctx.frames.alloc();
  if (frame < 0)
    throw hypercallFailed(`xenstore page for dom${domid}`, "ENOMEM", "the domain has no free frame");
  ctx.page(frame).fill(0);
  ctx.grants.grantAccessRef(GNTTAB_RESERVED_XENSTORE, xenstoreDomid, frame, false);
  const port = ctx.evtchn.allocUnbound(xenstoreDomid);
  if (port <= 0)
    throw hypercallFailed(`xenstore port for dom${domid}`, String(port), "no free event channel");
  return { frame, port };
}

/**
 * xenstored's side of `INTRODUCE`: map the domain's reserved xenstore grant and bind to its port,
 * as C xenstored does (`map_interface` through the grant, `xenevtchn_bind_interdomain`). The
 * mapped frame must be the one the toolstack named, or the introduction is refused.
 */
export class XenstoreGrantBinder implements XenstoreDomainBinder {
  constructor(
    private readonly ctx: DomainContext,
    private readonly dispatcher: EventDispatcher,
  ) {}

  bind(domid: number, mfn: number, port: number, onEvent: () => void): XenstoreDomainBinding {
    const { ctx, dispatcher } = this;
    const h = ctx.mapper.map(domid, GNTTAB_RESERVED_XENSTORE, false);
    if (h < 0) throw hypercallFailed(`xenstore map of dom${domid}`, grantStatusName(h), ctx.mapper.lastError);
    const mem = ctx.mapper.mappedMemory(h);
    const offset = ctx.mapper.mappedOffset(h);
    if (offset !== mfn * 4096) {
      ctx.mapper.unmap(h);
      throw hypercallFailed(
        `xenstore map of dom${domid}`,
        "EINVAL",
        `the reserved grant names frame ${offset / 4096}, not ${mfn}`,
      );
    }
    const local = ctx.evtchn.bindInterdomain(domid, port);
    if (local <= 0) {
      ctx.mapper.unmap(h);
      throw hypercallFailed(`xenstore port of dom${domid}`, String(local), "bind_interdomain failed");
    }
    dispatcher.on(local, onEvent);
    return {
      page: new XenstoreRingPage(mem.buffer, mem.byteOffset + offset),
      notify: () => {
        ctx.evtchn.send(local);
      },
      unbind: () => {
        dispatcher.off(local);
        ctx.evtchn.close(local);
        ctx.mapper.unmap(h);
      },
    };
  }
}
