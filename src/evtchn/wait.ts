import type { EventChannels } from "./event-channels.js";

/*
 * The thin drivers around `EventChannels.collect`: three ways for a thread to learn which of its
 * ports fired. The two that wait sleep on the vcpu's `upcall_pending` word only while it is 0, as
 * a Xen guest blocks only with no upcall pending: `collect` clears the word before it scans (and
 * raises it again if it had to leave events behind), and a sender raises it after setting the
 * pending and selector bits, so "0" means nothing is left to collect.
 *
 * Waking costs a sender nothing while the vcpu runs. A thread about to sleep says so in the
 * vcpu's blocked flag (Xen's `_VPF_blocked`, in the hypervisor-private `xen` buffer, beside and
 * not inside `vcpu_info`), and a sender calls `Atomics.notify` only when it finds the flag set
 * (Xen's `vcpu_kick` wakes only a blocked vcpu). `Atomics.notify` is the expensive part of a
 * send — for a `waitAsync` sleeper V8 posts a task and writes an eventfd — so a busy peer, or
 * one spinning before it sleeps, is sent to with bit operations only.
 *
 * Why no wake-up is lost. Every access below is a sequentially consistent `Atomics` operation,
 * so they all fall in one total order S. The sleeper V does, in program order:
 *   (V1) store blocked := 1
 *   (V2) Atomics.wait(upcall, 0): atomically with enqueueing itself as a waiter, load upcall and
 *        sleep only if it is 0 (the final check)
 *   (V3) store blocked := 0, after waking
 * A sender S does (Xen's order is unchanged: pending bit, selector bit, then):
 *   (S1) exchange upcall := 1, and only if it was 0:
 *   (S2) load blocked; if non-zero, Atomics.notify(upcall)
 * Suppose V sleeps through S's event. Then V2's load saw 0, so V2 came before S1 in S (only V's
 * own collect clears upcall, and V does not collect between V1 and V3). Hence V1 < V2 < S1 < S2,
 * and S2 — which comes before V3, since V is still asleep — reads blocked = 1 and notifies. The
 * notify enters the same waiter-list critical section as V2: either V2's enqueue is already
 * there, so V is woken, or V2 comes later and its load follows S1, sees 1 and does not sleep.
 * Either way V does not sleep through the event: a contradiction. If S1 found upcall already 1,
 * no sender needs to wake anyone: V has not collected since that 1 was written, and V2 would read
 * it. Several senders may notify the same sleep; a spurious wake-up only costs a collect of 0.
 * V1 must come before the final check (a flag set after it could miss S2's load), which is why
 * the flag is a store and not something the sleep itself sets.
 *
 * `kick()` (stop, a control call in transit) follows the sender's S1–S2 without an event.
 */

/**
 * Non-blocking: the ports that fired since the last look, into `out`; 0 if none. For loops that
 * must never sleep, and for the single-thread deterministic mode.
 */
export function pollEvents(ev: EventChannels, out: Int32Array): number {
  // One load when idle: a polling loop then reads a shared line instead of writing to it.
  return Atomics.load(ev.waitArray, ev.waitIndex) === 0 ? 0 : ev.collect(out);
}

/**
 * Sleep on the vcpu's upcall word with `Atomics.wait` while it is 0, announcing the sleep in the
 * blocked flag first (see above), for at most `timeoutMs`. Collects nothing: the caller does.
 * Returns what `Atomics.wait` did. Allocates nothing. For worker loops that may block their thread.
 */
export function blockOnUpcall(
  ev: EventChannels,
  timeoutMs = Number.POSITIVE_INFINITY,
): "ok" | "not-equal" | "timed-out" {
  const blocked = ev.blockArray;
  Atomics.store(blocked, ev.blockIndex, 1);
  const r = Atomics.wait(ev.waitArray, ev.waitIndex, 0, timeoutMs);
  Atomics.store(blocked, ev.blockIndex, 0);
  return r;
}

/**
 * As {@link blockOnUpcall}, with `Atomics.waitAsync`: the thread's event loop runs meanwhile.
 * Resolves when the word is no longer 0 or `timeoutMs` passed. Allocates waitAsync's promise,
 * once per sleep; nothing keeps the event loop alive meanwhile (the caller holds a handle).
 */
export async function sleepOnUpcall(ev: EventChannels, timeoutMs = Number.POSITIVE_INFINITY): Promise<void> {
  const blocked = ev.blockArray;
  Atomics.store(blocked, ev.blockIndex, 1);
  try {
    const r = Atomics.waitAsync(ev.waitArray, ev.waitIndex, 0, timeoutMs);
    if (r.async) await r.value;
  } finally {
    Atomics.store(blocked, ev.blockIndex, 0);
  }
}

/**
 * Blocking (`Atomics.wait`): return the fired ports at once if an upcall is pending, else sleep
 * until an event or `kick()` arrives or `timeoutMs` passes. Returns how many ports fired (0 after
 * a timeout or a kick). For worker loops that may block: not the main thread of a program
 * that must stay responsive.
 */
export function waitForEvents(
  ev: EventChannels,
  out: Int32Array,
  timeoutMs = Number.POSITIVE_INFINITY,
): number {
  if (Atomics.load(ev.waitArray, ev.waitIndex) === 0) blockOnUpcall(ev, timeoutMs);
  return ev.collect(out);
}

/**
 * Asynchronous (`Atomics.waitAsync`): as {@link waitForEvents}, but the thread's event loop keeps
 * running while it waits, for workers that also do file I/O. Allocates the promise waitAsync
 * makes and a keep-alive timer, once per sleep (not per event); a loop that sleeps often holds
 * one keep-alive handle of its own and uses {@link sleepOnUpcall} instead.
 */
export async function waitForEventsAsync(
  ev: EventChannels,
  out: Int32Array,
  timeoutMs = Number.POSITIVE_INFINITY,
): Promise<number> {
  if (Atomics.load(ev.waitArray, ev.waitIndex) === 0) {
    // A pending waitAsync does not keep Node's event loop alive: without a ref'd handle, a
    // worker with nothing else to do would exit in the middle of the wait.
    // An interval, not a timeout of the same length, which could fire just before V8 resolves.
    const keepAlive = setInterval(noop, MAX_TIMER_MS);
    try {
      await sleepOnUpcall(ev, timeoutMs);
    } finally {
      clearInterval(keepAlive);
    }
  }
  return ev.collect(out);
}

/** setTimeout's largest delay. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

function noop(): void {}
