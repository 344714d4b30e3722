import { EventChannels } from "../evtchn/event-channels.js";
import { GrantMapper } from "../grant/grant-mapper.js";
import { GrantTable } from "../grant/grant-table.js";
import { checkDomainHandle, type DomainHandle } from "../xen/domain-handle.js";
import { DomainView } from "../xen/domain-view.js";
import { invalidArgument } from "../xen/errors.js";
import { FrameAllocator } from "../xen/frame-allocator.js";
import { XEN_PAGE_SIZE } from "../xen/page.js";
import { PeerTable } from "../xen/peer-table.js";

/** Options of {@link DomainContext.attach}. */
export interface DomainContextOptions {
  /**
   * The vcpu this thread delivers events for (default 0). Give every thread of a domain that
   * waits for events its own vcpu: ports it allocates or binds notify that vcpu, and two threads
   * collecting for one vcpu would take each other's events.
   */
  readonly vcpu?: number;
}

/**
 * One thread acting as one domain: everything it offers acts as that domain, and reaches other
 * domains only through grants and event channels. Build it from the domain's handle (the
 * toolstack sends it to the worker), then introduce every peer the domain talks to, including
 * ones created later (`introducePeer`, on a control message carrying the new handle).
 *
 * Nothing here blocks or keeps timers: a single thread may hold contexts for several domains and
 * drive them all (the deterministic mode); workers add the waiting (`evtchn/wait.ts`).
 *
 * @example
 * const ctx = DomainContext.attach(workerData.self);
 * for (const peer of workerData.peers) ctx.introducePeer(peer);
 * const frame = ctx.frames.alloc();
 * const ref = ctx.grants.grantAccess(0, frame, false); // let dom0 map it
 */
export class DomainContext {
  readonly domid: number;
  readonly view: DomainView;
  /** This domain's memory. */
  readonly memory: Uint8Array;
  /** This domain's page allocator. */
  readonly frames: FrameAllocator;
  /** This domain's grant table (the granting side). */
  readonly grants: GrantTable;
  /** Mapping and copying other domains' grants (the backend side). */
  readonly mapper: GrantMapper;
  /** This domain's event channels, delivering to this thread's vcpu. */
  readonly evtchn: EventChannels;
  private readonly peers: PeerTable;

  private constructor(view: DomainView, vcpu: number) {
    this.domid = view.domid;
    this.view = view;
    this.memory = view.memory;
    this.peers = new PeerTable(view);
    this.frames = new FrameAllocator(view);
    this.grants = new GrantTable(view);
    this.mapper = new GrantMapper(this.peers);
    this.evtchn = new EventChannels(this.peers, vcpu);
  }

  /** Act as the domain of `handle` (checked: a malformed handle throws). */
  static attach(handle: DomainHandle, options: DomainContextOptions = {}): DomainContext {
    return new DomainContext(new DomainView(checkDomainHandle(handle)), options.vcpu ?? 0);
  }

  /** The vcpu this context delivers events for. */
  get vcpu(): number {
    return this.evtchn.vcpu;
  }

  /** Make a domain reachable by id (a newer incarnation replaces an older one). */
  introducePeer(handle: DomainHandle): void {
    this.peers.introduce(handle);
  }

  /** Forget a peer; operations naming it then fail as for an unknown domain. */
  forgetPeer(domid: number): void {
    this.peers.forget(domid);
  }

  /** Whether `domid` is reachable: introduced (or this domain) and alive. */
  knows(domid: number): boolean {
    return this.peers.get(domid) !== null;
  }

  /** The views of peer `domid` (or of this domain), or null if it is unknown or gone. */
  peerView(domid: number): DomainView | null {
    return this.peers.get(domid);
  }

  /** A view of one of this domain's own pages (allocates; for tests and setup code). */
  page(frame: number): Uint8Array {
    if (!Number.isInteger(frame) || frame < 0 || frame >= this.view.frames) {
      throw invalidArgument("frame", `an integer in [0, ${this.view.frames - 1}]`, frame);
    }
    return this.memory.subarray(frame * XEN_PAGE_SIZE, (frame + 1) * XEN_PAGE_SIZE);
  }
}
