import type { EventChannels } from "./event-channels.js";

/*
 * The thin drivers around `EventChannels.collect`: three ways for a thread to learn which of its
 * ports fired. The two that wait sleep on the vcpu's `upcall_pending` word only while it is 0, as
 * a Xen guest blocks only with no upcall pending: `collect` clears the word before it scans (and
 * raises it again if it had to leave events behind), and a sender raises it after setting the
 * pending and selector bits, so "0" means nothing is left to collect, and an event or a `kick()`
 * that arrives at any point before or during the sleep ends it.
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
  if (Atomics.load(ev.waitArray, ev.waitIndex) === 0) Atomics.wait(ev.waitArray, ev.waitIndex, 0, timeoutMs);
  return ev.collect(out);
}

/**
 * Asynchronous (`Atomics.waitAsync`): as {@link waitForEvents}, but the thread's event loop keeps
 * running while it waits, for workers that also do file I/O. Allocates the promise waitAsync
 * makes and a keep-alive timer, once per sleep (not per event).
 */
export async function waitForEventsAsync(
  ev: EventChannels,
  out: Int32Array,
  timeoutMs = Number.POSITIVE_INFINITY,
): Promise<number> {
  if (Atomics.load(ev.waitArray, ev.waitIndex) === 0) {
    const r = Atomics.waitAsync(ev.waitArray, ev.waitIndex, 0, timeoutMs);
    if (r.async) {
      // A pending waitAsync does not keep Node's event loop alive: without a ref'd handle, a
      // worker with nothing else to do would exit in the middle of the wait.
      // An interval, not a timeout of the same length, which could fire just before V8 resolves.
      const keepAlive = setInterval(noop, MAX_TIMER_MS);
      try {
        await r.value;
      } finally {
        clearInterval(keepAlive);
      }
    }
  }
  return ev.collect(out);
}

/** setTimeout's largest delay. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function noop(): void {}
