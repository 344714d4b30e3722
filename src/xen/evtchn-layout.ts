/**
 * Where event-channel state lives, as word (Int32) indexes.
 *
 * The guest-visible part mirrors Xen's 2-level ABI (`shared_info.evtchn_pending[]`,
 * `evtchn_mask[]`, and per vcpu `vcpu_info.evtchn_upcall_pending` and `evtchn_pending_sel`), in a
 * domain's `sharedInfo` buffer. Bit `p % 32` of word `p / 32` is port `p`: on a little-endian host
 * that is the same bit Xen's `xen_ulong_t` bitmaps use. The selector is made of 32-bit words
 * (one bit per pending word) rather than Xen's one `xen_ulong_t`, because `Atomics` work on
 * 32-bit words; nothing outside pvscsi reads it.
 *
 * The hypervisor-private part (`struct evtchn`: state, remote end, notify vcpu) is a port table in
 * the domain's `xen` buffer.
 */

/** Ports per bitmap word. */
export const PORTS_PER_WORD = 32;
/** Pending words per selector word. */
export const WORDS_PER_SEL = 32;
/** Largest number of vcpus a domain may have (pvscsi's limit; Xen's legacy `shared_info` has 32). */
export const MAX_VCPUS = 32;

/** Per-vcpu block: one cache line, so two vcpus' words never share a line. */
export const VCPU_BLOCK_WORDS = 16;
/** Word, inside a vcpu block, of `evtchn_upcall_pending`: the word a waiting thread sleeps on. */
export const VCPU_W_UPCALL = 0;
/** First word, inside a vcpu block, of `evtchn_pending_sel`. */
export const VCPU_W_SEL = 1;

/** Words per port in the port table: the state word and the notify vcpu. */
export const PORT_ENTRY_WORDS = 2;
/** Word, inside a port entry, of the packed state (see {@link packPort}). */
export const PORT_W_STATE = 0;
/** Word, inside a port entry, of `notify_vcpu_id`. */
export const PORT_W_VCPU = 1;

/** Xen's `ECS_*` channel states, as stored in the port table: not in use. */
export const ECS_FREE = 0;
/** Waiting for the remote domain named in the entry to bind. */
export const ECS_UNBOUND = 1;
/** Connected to the remote domain and port named in the entry. */
export const ECS_INTERDOMAIN = 2;
/** Port 0: never allocated, reported closed (Xen's `evtchn_init` reserves it). */
export const ECS_RESERVED = 3;

const STATE_BITS = 2;
const DOMID_BITS = 15;
const DOMID_SHIFT = STATE_BITS;
const PORT_SHIFT = STATE_BITS + DOMID_BITS;
const STATE_MASK = (1 << STATE_BITS) - 1;
const DOMID_MASK = (1 << DOMID_BITS) - 1;
const REMOTE_PORT_MASK = (1 << 12) - 1;

/**
 * One port's state in one word, so that a sender reads state and remote end together: bits 0-1
 * the `ECS_*` state, bits 2-16 the remote domid (`unbound`: who may bind; `interdomain`: the
 * peer), bits 17-28 the remote port (`interdomain` only; ports are below 4096).
 */
export function packPort(state: number, remoteDomid: number, remotePort: number): number {
  return (
    state | ((remoteDomid & DOMID_MASK) << DOMID_SHIFT) | ((remotePort & REMOTE_PORT_MASK) << PORT_SHIFT)
  );
}

/** The `ECS_*` state of a packed port word. */
export function portState(word: number): number {
  return word & STATE_MASK;
}

/** The remote domid of a packed port word. */
export function portRemoteDomid(word: number): number {
  return (word >>> DOMID_SHIFT) & DOMID_MASK;
}

/** The remote port of a packed port word. */
export function portRemotePort(word: number): number {
  return (word >>> PORT_SHIFT) & REMOTE_PORT_MASK;
}

/** Word indexes of one domain's event-channel state, for `maxPorts` ports and `vcpus` vcpus. */
export interface EvtchnLayout {
  /** In `sharedInfo`: first word of `evtchn_pending[]`. */
  readonly pending: number;
  /** In `sharedInfo`: first word of `evtchn_mask[]`. */
  readonly mask: number;
  /** In `sharedInfo`: first vcpu block; vcpu `v`'s is at `vcpus + v * VCPU_BLOCK_WORDS`. */
  readonly vcpus: number;
  /** Selector words per vcpu. */
  readonly selWords: number;
  /** Words `sharedInfo` needs. */
  readonly sharedWords: number;
  /** Words the port table needs (placed in `xen` by the domain layout). */
  readonly portTableWords: number;
}

/** Lay out `maxPorts` ports (a multiple of 32, at most 4096) and `vcpus` vcpus. */
export function evtchnLayout(maxPorts: number, vcpus: number): EvtchnLayout {
  const bitmapWords = maxPorts / PORTS_PER_WORD;
  const selWords = Math.ceil(bitmapWords / WORDS_PER_SEL);
  const pending = 0;
  const mask = pending + bitmapWords;
  const vcpuStart = Math.ceil((mask + bitmapWords) / VCPU_BLOCK_WORDS) * VCPU_BLOCK_WORDS;
  return {
    pending,
    mask,
    vcpus: vcpuStart,
    selWords,
    sharedWords: vcpuStart + vcpus * VCPU_BLOCK_WORDS,
    portTableWords: maxPorts * PORT_ENTRY_WORDS,
  };
}
