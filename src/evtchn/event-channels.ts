import createDebug from "debug";
import { TraceKind } from "../trace/trace-buffer.js";
import { tracer } from "../trace/tracer.js";
import {
  XEN_VCPU_W_BLOCKED,
  XEN_VCPU_W_CALLS,
  XEN_VCPU_WORDS,
  XEN_W_EVENT_LOCK,
} from "../xen/domain-layout.js";
import type { DomainView } from "../xen/domain-view.js";
import { DOMID_FIRST_RESERVED, DOMID_SELF } from "../xen/domid.js";
import { invalidArgument } from "../xen/errors.js";
import {
  EVTCHNSTAT_closed,
  EVTCHNSTAT_interdomain,
  EVTCHNSTAT_unbound,
  XEN_EAGAIN,
  XEN_EINVAL,
  XEN_ENOENT,
  XEN_ENOSPC,
  XEN_ESRCH,
} from "../xen/evtchn-constants.js";
import {
  ECS_FREE,
  ECS_INTERDOMAIN,
  ECS_UNBOUND,
  PORT_ENTRY_WORDS,
  PORT_W_STATE,
  PORT_W_VCPU,
  packPort,
  portRemoteDomid,
  portRemotePort,
  portState,
  VCPU_BLOCK_WORDS,
  VCPU_W_SEL,
  VCPU_W_UPCALL,
} from "../xen/evtchn-layout.js";
import type { PeerTable } from "../xen/peer-table.js";
import { EVENT_LOCK_SPIN_LIMIT, spinLock, spinUnlock } from "../xen/spin-lock.js";

/** Out-parameter of {@link EventChannels.statusOf} (`struct evtchn_status`'s OUT fields), reused by the caller. */
const debug = createDebug("pvscsi:evtchn");

export class EvtchnStatus {
  /** `EVTCHNSTAT_*`. */
  status = EVTCHNSTAT_closed;
  /** The vcpu the port notifies. */
  vcpu = 0;
  /** `unbound`: the domain allowed to bind; `interdomain`: the peer. Else -1. */
  remoteDomid = -1;
  /** `interdomain`: the peer's port. Else -1. */
  remotePort = -1;
}

/**
 * A domain's event channels with Xen's 2-level semantics, acting as this thread's domain and
 * delivering to its vcpu `vcpu` (the core of an event loop; the waiting lives in `wait.ts`).
 *
 * Control operations (`allocUnbound`, `bindInterdomain`, `close`, `bindVcpu`) take the
 * domains' event locks, in domid order when two are involved, as Xen's `event_lock` does.
 * `send`, `mask`, `unmask` and {@link collect} take no lock: they are Xen's bit operations on
 * the pending, mask and selector words, in Xen's order, with sequentially consistent atomics:
 *
 * - send (`evtchn_2l_set_pending`): set the port's pending bit; if it was already set, stop
 *   (several sends before the handler runs are one event); if the port is not masked, set its
 *   word's bit in the notified vcpu's selector; if that was clear, set `upcall_pending`, and if
 *   that was clear and the vcpu's blocked flag is set, wake the thread sleeping on it (Xen's
 *   `vcpu_mark_events_pending` → `vcpu_kick` → `vcpu_unblock`, which wakes only a vcpu with
 *   `_VPF_blocked`). A vcpu that is running pays nothing but the bit operations.
 * - collect (the guest's upcall handler): clear `upcall_pending`, then take the selector with an
 *   exchange, then for each selected word take the pending, unmasked bits of ports bound to this
 *   vcpu, clearing each.
 *
 * No event is lost: a send whose selector bit was already set happened before the collector's
 * exchange took it, so the collector sees the pending bit; one that finds the selector clear
 * sets `upcall_pending` after the collector cleared it, so the collector's next wait returns at
 * once. No wake-up is lost either, though a sender notifies only a vcpu that says it may sleep:
 * the argument is in `wait.ts`. A handler must still re-check its condition (a ring's final
 * check), as under Xen.
 *
 * Results are Xen's: a port number or 0, or a negated `xen/errno.h` value. Nothing allocates.
 */
export class EventChannels {
  readonly self: DomainView;
  /** The vcpu this thread delivers for: ports it allocates or binds notify it. */
  readonly vcpu: number;
  /** Ports of this domain (`max_evtchns`). */
  readonly maxPorts: number;
  /** The word a waiting thread sleeps on (`Atomics.wait(waitArray, waitIndex, 0)`). */
  readonly waitArray: Int32Array;
  readonly waitIndex: number;
  /**
   * The vcpu's blocked flag (Xen's `_VPF_blocked`, hypervisor-private): set by its thread before
   * the final check of `upcall_pending` and a sleep, cleared after; a sender wakes the thread only
   * when it is set. In `blockArray` (the domain's `xen` buffer) at `blockIndex`; see `wait.ts`.
   */
  readonly blockArray: Int32Array;
  readonly blockIndex: number;
  /** The vcpu's count of control calls in transit to its thread (see {@link beginCall}). */
  private readonly callsIndex: number;
  private readonly peers: PeerTable;
  private readonly sh: Int32Array;
  private readonly pendingBase: number;
  private readonly maskBase: number;
  private readonly selWords: number;
  private readonly vcpuBase: number;

  constructor(peers: PeerTable, vcpu: number) {
    const self = peers.self;
    if (!Number.isInteger(vcpu) || vcpu < 0 || vcpu >= self.vcpus) {
      throw invalidArgument("vcpu", `an integer in [0, ${self.vcpus - 1}] (dom${self.domid}'s vcpus)`, vcpu);
    }
    this.self = self;
    this.peers = peers;
    this.vcpu = vcpu;
    this.maxPorts = self.maxPorts;
    const l = self.layout.evtchn;
    this.sh = self.sharedInfo;
    this.pendingBase = l.pending;
    this.maskBase = l.mask;
    this.selWords = l.selWords;
    this.vcpuBase = l.vcpus + vcpu * VCPU_BLOCK_WORDS;
    this.waitArray = this.sh;
    this.waitIndex = this.vcpuBase + VCPU_W_UPCALL;
    this.blockArray = self.xen;
    this.blockIndex = vcpuStateBase(self, vcpu) + XEN_VCPU_W_BLOCKED;
    this.callsIndex = vcpuStateBase(self, vcpu) + XEN_VCPU_W_CALLS;
  }

  /**
   * `EVTCHNOP_alloc_unbound`: a new port that `remoteDomid` may bind to (`DOMID_SELF`: this
   * domain, for loopback). Returns the port (>= 1), `-ENOSPC`, or `-EINVAL` (a reserved domid, or
   * this domain is being destroyed).
   */
  allocUnbound(remoteDomid: number): number {
    const self = this.self;
    if (remoteDomid === DOMID_SELF) remoteDomid = self.domid;
    if (remoteDomid >>> 0 !== remoteDomid || remoteDomid >= DOMID_FIRST_RESERVED) return -XEN_EINVAL;
    if (!spinLock(self.xen, XEN_W_EVENT_LOCK, EVENT_LOCK_SPIN_LIMIT)) return -XEN_EAGAIN;
    const port = this.findFreePort(self);
    if (port > 0) this.setPort(self, port, packPort(ECS_UNBOUND, remoteDomid, 0), this.vcpu);
    spinUnlock(self.xen, XEN_W_EVENT_LOCK);
    debug("dom%d: alloc_unbound for dom%d -> %d", self.domid, remoteDomid, port);
    return port;
  }

  /**
   * `EVTCHNOP_bind_interdomain`: connect a new local port to `remotePort` of `remoteDomid`, which
   * must be unbound and waiting for this domain (`DOMID_SELF`: loopback). Returns the local port,
   * `-ESRCH` (no such live domain known to this thread), `-EINVAL` (remote port out of range or
   * not waiting for us), `-ENOSPC`. The new port is set pending, as Xen does, in case the peer
   * sent before the bind.
   */
  bindInterdomain(remoteDomid: number, remotePort: number): number {
    const self = this.self;
    const r = this.peers.get(remoteDomid === DOMID_SELF ? self.domid : remoteDomid);
    if (r === null) return -XEN_ESRCH;
    if (!this.lockPair(self, r)) return -XEN_EAGAIN;
    let rc: number;
    const lport = this.findFreePort(self);
    if (lport < 0) {
      rc = lport;
    } else if (remotePort >>> 0 !== remotePort || remotePort >= r.maxPorts) {
      rc = -XEN_EINVAL;
    } else {
      const rw = Atomics.load(r.xen, portEntry(r, remotePort) + PORT_W_STATE);
      if (portState(rw) !== ECS_UNBOUND || portRemoteDomid(rw) !== self.domid) {
        rc = -XEN_EINVAL;
      } else {
        this.setPort(self, lport, packPort(ECS_INTERDOMAIN, r.domid, remotePort), this.vcpu);
        Atomics.store(
          r.xen,
          portEntry(r, remotePort) + PORT_W_STATE,
          packPort(ECS_INTERDOMAIN, self.domid, lport),
        );
        setPending(self, lport);
        rc = lport;
      }
    }
    this.unlockPair(self, r);
    debug("dom%d: bind_interdomain dom%d port %d -> %d", self.domid, r.domid, remotePort, rc);
    return rc;
  }

  /**
   * `EVTCHNOP_send`: notify the other end of `port`. Returns 0, or `-EINVAL` for a port out of
   * range or closed (a port of another domain is, here, a closed port of ours). On an unbound
   * port the event is silently dropped and 0 returned, exactly as Xen does. `-ESRCH` if the peer
   * is not known to this thread (the toolstack did not introduce it: a setup bug).
   */
  send(port: number): number {
    const self = this.self;
    if (port >>> 0 !== port || port >= this.maxPorts) return -XEN_EINVAL;
    const w = Atomics.load(self.xen, portEntry(self, port) + PORT_W_STATE);
    const state = portState(w);
    if (state === ECS_INTERDOMAIN) {
      const r = this.peers.known(portRemoteDomid(w));
      if (r === null) return -XEN_ESRCH;
      // A peer destroyed since: its ports are closed and ours left unbound; the event is dropped.
      if (!r.alive()) return 0;
      setPending(r, portRemotePort(w));
      const t = tracer;
      if (t !== null) t.record(TraceKind.EventSend, self.domid, port, r.domid, portRemotePort(w));
      return 0;
    }
    return state === ECS_UNBOUND ? 0 : -XEN_EINVAL;
  }

  /**
   * `EVTCHNOP_close`. An interdomain peer's port goes back to unbound (waiting for this domain),
   * as Xen's `evtchn_close` leaves it. Returns 0 or `-EINVAL` (out of range, or not open).
   */
  close(port: number): number {
    const self = this.self;
    if (port >>> 0 !== port || port >= this.maxPorts) return -XEN_EINVAL;
    for (;;) {
      const w = Atomics.load(self.xen, portEntry(self, port) + PORT_W_STATE);
      const state = portState(w);
      if (state !== ECS_UNBOUND && state !== ECS_INTERDOMAIN) return -XEN_EINVAL;
      const r = state === ECS_INTERDOMAIN ? this.peers.known(portRemoteDomid(w)) : self;
      const other = r ?? self;
      if (!this.lockPair(self, other)) return -XEN_EAGAIN;
      // Re-read under the locks: another thread of this domain may have closed or rebound it.
      if (Atomics.load(self.xen, portEntry(self, port) + PORT_W_STATE) !== w) {
        this.unlockPair(self, other);
        continue;
      }
      if (state === ECS_INTERDOMAIN && r !== null && r.alive()) {
        const rp = portRemotePort(w);
        const rw = Atomics.load(r.xen, portEntry(r, rp) + PORT_W_STATE);
        if (
          portState(rw) === ECS_INTERDOMAIN &&
          portRemoteDomid(rw) === self.domid &&
          portRemotePort(rw) === port
        ) {
          Atomics.store(r.xen, portEntry(r, rp) + PORT_W_STATE, packPort(ECS_UNBOUND, self.domid, 0));
        }
      }
      releasePort(self, port);
      this.unlockPair(self, other);
      debug("dom%d: close port %d", self.domid, port);
      return 0;
    }
  }

  /** `EVTCHNOP_status` for a port of this domain: `EVTCHNSTAT_*`, or `-EINVAL` when out of range. */
  status(port: number): number {
    if (port >>> 0 !== port || port >= this.maxPorts) return -XEN_EINVAL;
    return statusOfWord(Atomics.load(this.self.xen, portEntry(this.self, port) + PORT_W_STATE));
  }

  /** `EVTCHNOP_status` with the remote end and vcpu, into `out`. Returns `status(port)`. */
  statusOf(port: number, out: EvtchnStatus): number {
    const rc = this.status(port);
    out.status = rc < 0 ? EVTCHNSTAT_closed : rc;
    out.remoteDomid = -1;
    out.remotePort = -1;
    out.vcpu = 0;
    if (rc < 0) return rc;
    const e = portEntry(this.self, port);
    const w = Atomics.load(this.self.xen, e + PORT_W_STATE);
    out.vcpu = Atomics.load(this.self.xen, e + PORT_W_VCPU);
    if (rc === EVTCHNSTAT_unbound || rc === EVTCHNSTAT_interdomain) out.remoteDomid = portRemoteDomid(w);
    if (rc === EVTCHNSTAT_interdomain) out.remotePort = portRemotePort(w);
    return rc;
  }

  /**
   * `EVTCHNOP_bind_vcpu`: make `port` notify vcpu `vcpu` (so another thread of this domain
   * receives it). A pending event follows the port. Returns 0, `-ENOENT` (no such vcpu) or
   * `-EINVAL`.
   */
  bindVcpu(port: number, vcpu: number): number {
    const self = this.self;
    if (vcpu >>> 0 !== vcpu || vcpu >= self.vcpus) return -XEN_ENOENT;
    if (port >>> 0 !== port || port >= this.maxPorts) return -XEN_EINVAL;
    if (!spinLock(self.xen, XEN_W_EVENT_LOCK, EVENT_LOCK_SPIN_LIMIT)) return -XEN_EAGAIN;
    const e = portEntry(self, port);
    const state = portState(Atomics.load(self.xen, e + PORT_W_STATE));
    let rc = -XEN_EINVAL;
    if (state === ECS_UNBOUND || state === ECS_INTERDOMAIN) {
      Atomics.store(self.xen, e + PORT_W_VCPU, vcpu);
      // As Linux does when it moves an irq: re-deliver an event that was pending on the old vcpu.
      if (this.isPending(port) && !this.isMasked(port)) raiseOnVcpu(self, port, vcpu);
      rc = 0;
    }
    spinUnlock(self.xen, XEN_W_EVENT_LOCK);
    return rc;
  }

  /** Set `port`'s mask bit: events still become pending, but do not wake anyone. `-EINVAL` if out of range. */
  mask(port: number): number {
    if (port >>> 0 !== port || port >= this.maxPorts) return -XEN_EINVAL;
    Atomics.or(this.sh, this.maskBase + (port >>> 5), 1 << (port & 31));
    return 0;
  }

  /**
   * `EVTCHNOP_unmask` (`evtchn_2l_unmask`): clear the mask bit and, if an event is pending,
   * deliver it now (a masked port's edge is otherwise lost). `-EINVAL` if out of range.
   */
  unmask(port: number): number {
    const self = this.self;
    if (port >>> 0 !== port || port >= this.maxPorts) return -XEN_EINVAL;
    const bit = 1 << (port & 31);
    const old = Atomics.and(this.sh, this.maskBase + (port >>> 5), ~bit);
    if ((old & bit) !== 0 && this.isPending(port)) {
      raiseOnVcpu(self, port, Atomics.load(self.xen, portEntry(self, port) + PORT_W_VCPU));
    }
    return 0;
  }

  /** Whether `port`'s pending bit is set. */
  isPending(port: number): boolean {
    if (port >>> 0 !== port || port >= this.maxPorts) return false;
    return (Atomics.load(this.sh, this.pendingBase + (port >>> 5)) & (1 << (port & 31))) !== 0;
  }

  /** Whether `port` is masked. */
  isMasked(port: number): boolean {
    if (port >>> 0 !== port || port >= this.maxPorts) return true;
    return (Atomics.load(this.sh, this.maskBase + (port >>> 5)) & (1 << (port & 31))) !== 0;
  }

  /** Clear `port`'s pending bit without handling it (Linux's `clear_evtchn`). */
  clearPending(port: number): void {
    if (port >>> 0 !== port || port >= this.maxPorts) return;
    Atomics.and(this.sh, this.pendingBase + (port >>> 5), ~(1 << (port & 31)));
  }

  /** Whether an upcall is pending for this vcpu (something may be collected). */
  upcallPending(): boolean {
    return Atomics.load(this.sh, this.waitIndex) !== 0;
  }

  /**
   * The upcall handler: write into `out` every port bound to this vcpu that is pending and not
   * masked, clearing its pending bit, and return how many. If `out` fills up, the rest stays
   * pending and the upcall stays raised, so the next call continues. Never blocks.
   */
  collect(out: Int32Array): number {
    const sh = this.sh;
    const self = this.self;
    const vb = this.vcpuBase;
    const cap = out.length;
    let n = 0;
    Atomics.store(sh, vb + VCPU_W_UPCALL, 0);
    for (let s = 0; s < this.selWords; s++) {
      let sel = Atomics.exchange(sh, vb + VCPU_W_SEL + s, 0);
      while (sel !== 0) {
        const selBit = sel & -sel;
        const w = (s << 5) + (31 - Math.clz32(selBit));
        let bits = Atomics.load(sh, this.pendingBase + w) & ~Atomics.load(sh, this.maskBase + w);
        while (bits !== 0) {
          const bit = bits & -bits;
          bits ^= bit;
          const port = (w << 5) + (31 - Math.clz32(bit));
          if (Atomics.load(self.xen, portEntry(self, port) + PORT_W_VCPU) !== this.vcpu) continue;
          if (n === cap) {
            // Full: hand this word and the unvisited ones back, and keep the upcall raised.
            Atomics.or(sh, vb + VCPU_W_SEL + s, sel);
            Atomics.store(sh, vb + VCPU_W_UPCALL, 1);
            return n;
          }
          if ((Atomics.and(sh, this.pendingBase + w, ~bit) & bit) !== 0) out[n++] = port;
        }
        sel ^= selBit;
      }
    }
    return n;
  }

  /**
   * Raise this vcpu's upcall and wake its waiter without any event: how a thread asks the
   * event loop of another to look around (e.g. to stop). The loop's collect returns 0.
   */
  kick(): void {
    markUpcall(this.sh, this.waitIndex, this.blockArray, this.blockIndex);
  }

  /**
   * A control call (a `postMessage`) is on its way to this vcpu's thread: count it and wake the
   * thread. A thread blocked in `Atomics.wait` cannot receive a message, so its loop blocks only
   * while no call is in transit ({@link callsInTransit}) and otherwise lets its event loop run.
   * Call it after posting; the thread calls {@link endCall} once it has answered.
   */
  beginCall(): void {
    Atomics.add(this.self.xen, this.callsIndex, 1);
    this.kick();
  }

  /** The thread answered a call counted by {@link beginCall}. */
  endCall(): void {
    Atomics.sub(this.self.xen, this.callsIndex, 1);
  }

  /** Control calls posted to this vcpu's thread and not yet answered. */
  callsInTransit(): number {
    return Atomics.load(this.self.xen, this.callsIndex);
  }

  /** Lowest free port >= 1, under the event lock; `-ENOSPC` if none, `-EINVAL` if the domain is dying. */
  private findFreePort(d: DomainView): number {
    if (!d.alive()) return -XEN_EINVAL;
    for (let p = 1; p < d.maxPorts; p++) {
      if (portState(Atomics.load(d.xen, portEntry(d, p) + PORT_W_STATE)) === ECS_FREE) return p;
    }
    return -XEN_ENOSPC;
  }

  private setPort(d: DomainView, port: number, word: number, vcpu: number): void {
    const e = portEntry(d, port);
    Atomics.store(d.xen, e + PORT_W_VCPU, vcpu);
    Atomics.store(d.xen, e + PORT_W_STATE, word);
  }

  /** Take both domains' event locks, lower domid first (Xen's order), or one if they are the same. */
  private lockPair(a: DomainView, b: DomainView): boolean {
    if (a === b) return spinLock(a.xen, XEN_W_EVENT_LOCK, EVENT_LOCK_SPIN_LIMIT);
    const first = a.domid < b.domid ? a : b;
    const second = first === a ? b : a;
    if (!spinLock(first.xen, XEN_W_EVENT_LOCK, EVENT_LOCK_SPIN_LIMIT)) return false;
    if (!spinLock(second.xen, XEN_W_EVENT_LOCK, EVENT_LOCK_SPIN_LIMIT)) {
      spinUnlock(first.xen, XEN_W_EVENT_LOCK);
      return false;
    }
    return true;
  }

  private unlockPair(a: DomainView, b: DomainView): void {
    spinUnlock(a.xen, XEN_W_EVENT_LOCK);
    if (a !== b) spinUnlock(b.xen, XEN_W_EVENT_LOCK);
  }
}

/** Word index, in `d.xen`, of port `port`'s entry. */
export function portEntry(d: DomainView, port: number): number {
  return d.layout.ports + port * PORT_ENTRY_WORDS;
}

/** `EVTCHNSTAT_*` of a packed port word. */
export function statusOfWord(w: number): number {
  switch (portState(w)) {
    case ECS_UNBOUND:
      return EVTCHNSTAT_unbound;
    case ECS_INTERDOMAIN:
      return EVTCHNSTAT_interdomain;
    default:
      return EVTCHNSTAT_closed;
  }
}

/** Free a port (Xen's `evtchn_free`): clear its pending bit so a re-bound port starts quiet. */
export function releasePort(d: DomainView, port: number): void {
  const e = portEntry(d, port);
  Atomics.store(d.xen, e + PORT_W_STATE, packPort(ECS_FREE, 0, 0));
  Atomics.store(d.xen, e + PORT_W_VCPU, 0);
  Atomics.and(d.sharedInfo, d.layout.evtchn.pending + (port >>> 5), ~(1 << (port & 31)));
}

/** `evtchn_2l_set_pending` on port `port` of domain `d`. */
function setPending(d: DomainView, port: number): void {
  if (port >= d.maxPorts) return;
  const sh = d.sharedInfo;
  const l = d.layout.evtchn;
  const w = port >>> 5;
  const bit = 1 << (port & 31);
  if ((Atomics.or(sh, l.pending + w, bit) & bit) !== 0) return;
  if ((Atomics.load(sh, l.mask + w) & bit) !== 0) return;
  raiseOnVcpu(d, port, Atomics.load(d.xen, portEntry(d, port) + PORT_W_VCPU));
}

/** Word index, in `d.xen`, of vcpu `vcpu`'s hypervisor-private block (blocked flag, calls). */
function vcpuStateBase(d: DomainView, vcpu: number): number {
  return d.layout.vcpuState + vcpu * XEN_VCPU_WORDS;
}

/** Set port's word in `vcpu`'s selector; on a 0 → 1 change raise the upcall and wake the waiter. */
function raiseOnVcpu(d: DomainView, port: number, vcpu: number): void {
  if (vcpu >>> 0 !== vcpu || vcpu >= d.vcpus) return;
  const sh = d.sharedInfo;
  const vb = d.layout.evtchn.vcpus + vcpu * VCPU_BLOCK_WORDS;
  const w = port >>> 5;
  const selBit = 1 << (w & 31);
  if ((Atomics.or(sh, vb + VCPU_W_SEL + (w >>> 5), selBit) & selBit) !== 0) return;
  markUpcall(sh, vb + VCPU_W_UPCALL, d.xen, vcpuStateBase(d, vcpu) + XEN_VCPU_W_BLOCKED);
}

/**
 * `vcpu_mark_events_pending` and `vcpu_kick`: set `upcall_pending`; on a 0 → 1 change, wake the
 * vcpu's thread if its blocked flag says it may be asleep. Why no wake-up is lost is argued in
 * `wait.ts`: the exchange and the flag's load are sequentially consistent, as are the sleeper's
 * store of the flag and its (Atomics.wait's) final load of `upcall_pending`.
 */
function markUpcall(sh: Int32Array, upcall: number, xen: Int32Array, blocked: number): void {
  // 1 already: the vcpu has not collected since, so it will not sleep on a 0 it does not see.
  if (Atomics.exchange(sh, upcall, 1) !== 0) return;
  if (Atomics.load(xen, blocked) !== 0) Atomics.notify(sh, upcall);
}
