import type { EventChannels } from "./event-channels.js";

/*
 * The thin drivers around `EventChannels.collect`: three ways for a thread to learn which of its
 * ports fired. All three sleep on, or look at, the vcpu's `upcall_pending` word; `collect` clears
 * it before it scans, and a sender sets it after it has set the pending and selector bits, so a
 * wait that starts after a fruitless collect returns at once if an event arrived in between.
 */

/**
 * Non-blocking: the ports that fired since the last look, into `out`; 0 if none. For loops that
 * must never sleep, and for the single-thread deterministic mode.
 */
export function pollEvents(ev: EventChannels, out: Int32Array): number {
  return ev.collect(out);
}

/**
 * Blocking (`Atomics.wait`): return the fired ports at once if there are any, else sleep until an
 * event or `kick()` arrives or `timeoutMs` passes (returning 0). For worker loops that may block:
 * not the main thread of a program that must stay responsive.
 */
export function waitForEvents(
  ev: EventChannels,
  out: Int32Array,
  timeoutMs = Number.POSITIVE_INFINITY,
): number {
  const n = ev.collect(out);
  if (n !== 0) return n;
  Atomics.wait(ev.waitArray, ev.waitIndex, 0, timeoutMs);
  return ev.collect(out);
}

/**
 * Asynchronous (`Atomics.waitAsync`): as {@link waitForEvents}, but the thread's event loop keeps
 * running while it waits, for workers that also do file I/O. Allocates the promise waitAsync
 * makes, once per sleep (not per event).
 */
export async function waitForEventsAsync(
  ev: EventChannels,
  out: Int32Array,
  timeoutMs = Number.POSITIVE_INFINITY,
): Promise<number> {
  const n = ev.collect(out);
  if (n !== 0) return n;
  const r = Atomics.waitAsync(ev.waitArray, ev.waitIndex, 0, timeoutMs);
  if (r.async) await r.value;
  return ev.collect(out);
}
