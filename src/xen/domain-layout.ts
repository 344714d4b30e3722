import type { ResolvedDomainConfig } from "./domain-config.js";
import { DOMID_FIRST_RESERVED } from "./domid.js";
import { type EvtchnLayout, evtchnLayout } from "./evtchn-layout.js";
import { ACTIVE_ENTRY_WORDS, GRANT_ENTRY_V1_SIZE, MAPTRACK_ENTRY_WORDS } from "./grant-layout.js";
import { XEN_PAGE_SIZE } from "./page.js";

/*
 * Which SharedArrayBuffer holds what. Each domain has five, named for who may touch them:
 *
 *   memory      the guest's RAM: `frames` pages of 4096 bytes. Only the domain itself reads or
 *               writes it, except through grant map and copy.
 *   grantTable  `grant_entry_v1[grantEntries]`, Xen's layout: written by the guest, whose flags
 *               Xen (here: whoever maps) updates with compare-and-swap.
 *   sharedInfo  the event-channel half of `shared_info`/`vcpu_info`: pending and mask bitmaps,
 *               and per vcpu the upcall-pending word a waiting thread sleeps on.
 *   xen         hypervisor-private: the event lock, per vcpu the blocked flag and the count of
 *               control calls in transit, the active grant entries (pins, latched frame), the
 *               maptrack (this domain's mappings of others' grants), the port table.
 *   kernel      the guest kernel's own bookkeeping: which frames and which grant refs are in use.
 *
 * and one `registry`, shared by all: the state and generation of every domain id.
 */

/** Word, in `xen`, of the domain's event lock (Xen's `d->event_lock`): 0 free, 1 held. */
export const XEN_W_EVENT_LOCK = 0;
/** Words before the vcpu blocks in `xen` (a cache line, so the lock sits alone). */
export const XEN_HEADER_WORDS = 16;
/**
 * Words of one vcpu's hypervisor-private block in `xen` (Xen's `struct vcpu`, of which pvscsi
 * keeps only what waking needs): one cache line each, so a sender reading one vcpu's flag never
 * shares a line with another vcpu's sleeper.
 */
export const XEN_VCPU_WORDS = 16;
/**
 * Word, in a vcpu block, of Xen's `_VPF_blocked`: non-zero while the vcpu's thread is about to
 * sleep or sleeping on its `upcall_pending` word, so a sender knows a wake-up (`Atomics.notify`)
 * is needed; 0 while it runs, and then a send only sets bits (see `evtchn/wait.ts`).
 */
export const XEN_VCPU_W_BLOCKED = 0;
/**
 * Word, in a vcpu block, of control calls posted to the vcpu's thread and not yet answered
 * (pvscsi's own): a thread that blocks in `Atomics.wait` cannot receive a message, so the
 * sender counts the call here and kicks the vcpu; the thread blocks only while it is 0.
 */
export const XEN_VCPU_W_CALLS = 1;

/** Word indexes and sizes of one domain's buffers. */
export interface DomainLayout {
  /** Bytes of `memory`. */
  readonly memoryBytes: number;
  /** Bytes of `grantTable`. */
  readonly grantTableBytes: number;
  /** Bytes of `sharedInfo`. */
  readonly sharedInfoBytes: number;
  /** Bytes of `xen`. */
  readonly xenBytes: number;
  /** Bytes of `kernel`. */
  readonly kernelBytes: number;
  /** In `xen`: first vcpu block ({@link XEN_VCPU_WORDS} words each); vcpu `v`'s at `vcpuState + v * XEN_VCPU_WORDS`. */
  readonly vcpuState: number;
  /** In `xen`: first word of the active entries (one per grant ref). */
  readonly active: number;
  /** In `xen`: first word of the maptrack (one entry per mapping handle). */
  readonly maptrack: number;
  /** In `xen`: first word of the port table. */
  readonly ports: number;
  /** In `kernel`: first word of the frame bitmap (bit set: frame in use). */
  readonly frameBitmap: number;
  /** In `kernel`: first word of the grant-ref bitmap (bit set: ref in use or reserved). */
  readonly refBitmap: number;
  /** Words of the frame bitmap. */
  readonly frameBitmapWords: number;
  /** Words of the ref bitmap. */
  readonly refBitmapWords: number;
  /** Event-channel word indexes in `sharedInfo`. */
  readonly evtchn: EvtchnLayout;
}

/** Lay out a domain's buffers. */
export function domainLayout(c: ResolvedDomainConfig): DomainLayout {
  const evtchn = evtchnLayout(c.maxPorts, c.vcpus);
  const vcpuState = XEN_HEADER_WORDS;
  const active = vcpuState + c.vcpus * XEN_VCPU_WORDS;
  const maptrack = active + c.grantEntries * ACTIVE_ENTRY_WORDS;
  const ports = maptrack + c.maptrackEntries * MAPTRACK_ENTRY_WORDS;
  const xenWords = ports + evtchn.portTableWords;
  const frameBitmapWords = Math.ceil(c.frames / 32);
  const refBitmapWords = Math.ceil(c.grantEntries / 32);
  return {
    memoryBytes: c.frames * XEN_PAGE_SIZE,
    grantTableBytes: c.grantEntries * GRANT_ENTRY_V1_SIZE,
    sharedInfoBytes: evtchn.sharedWords * 4,
    xenBytes: xenWords * 4,
    kernelBytes: (frameBitmapWords + refBitmapWords) * 4,
    vcpuState,
    active,
    maptrack,
    ports,
    frameBitmap: 0,
    refBitmap: frameBitmapWords,
    frameBitmapWords,
    refBitmapWords,
    evtchn,
  };
}

/*
 * The registry: one word per domain id, `(generation << 2) | state`, then two header words. A
 * thread holding a view of domain d checks that d's word still equals the value it had when the
 * view was made: one load tells "alive, and the same incarnation" apart from "destroyed" and
 * "destroyed and re-created under the same id".
 */

/** Registry state: no domain has this id. */
export const DOM_FREE = 0;
/** Registry state: the domain exists. */
export const DOM_ALIVE = 1;
/** Registry state: the domain is being destroyed; to every other thread it is already gone. */
export const DOM_DYING = 2;
/** Word of the next generation number to hand out. */
export const REG_W_GENERATION = DOMID_FIRST_RESERVED;
/** Word of the domid allocation rover (the last id handed out without an explicit domid). */
export const REG_W_ROVER = DOMID_FIRST_RESERVED + 1;
/**
 * Word of a random id of the hypervisor. A SharedArrayBuffer received in two messages arrives as
 * two different objects over the same memory, so "same registry" is decided by this word.
 */
export const REG_W_ID = DOMID_FIRST_RESERVED + 2;
/** Words in the registry. */
export const REGISTRY_WORDS = DOMID_FIRST_RESERVED + 3;
/** Generations count up to this and wrap to 1. */
export const MAX_GENERATION = (1 << 29) - 1;

/** Registry word of a domain in `state` with `generation`. */
export function registryWord(generation: number, state: number): number {
  return (generation << 2) | state;
}

/** State part of a registry word. */
export function registryState(word: number): number {
  return word & 3;
}

/** Generation part of a registry word. */
export function registryGeneration(word: number): number {
  return word >>> 2;
}
