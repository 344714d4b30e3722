import type { EventDispatcher } from "../evtchn/dispatcher.js";

/** A driver the loop runs after dispatching events (scsiback, scsifront). */
export interface LoopDriver {
  /** Work that needs running without an event (budget left over; every ring in poll mode). */
  readonly hasPending: boolean;
  runPending(): number;
}

/** Options of {@link runKernelLoop}. */
export interface KernelLoopOptions {
  /** Never sleep: poll events and rings continuously (benchmarks); yields to the event loop now and then. */
  readonly pollMode?: boolean;
  /** Longest sleep before waking on its own (to run `tick`). */
  readonly idleWaitMs?: number;
  /** Called on every wake-up (e.g. retrying deferred grant ends). */
  readonly tick?: () => void;
  /** Stop when this returns true (checked on every wake-up; use `evtchn.kick()` to wake it). */
  readonly stopped: () => boolean;
}

/**
 * A worker's event loop around sans-IO cores: wait for this vcpu's events without blocking the
 * thread's own event loop (`waitAsync`, so async device I/O and control messages go on), dispatch
 * them, run the drivers, repeat. With work still pending it polls instead of sleeping, yielding
 * to the event loop between passes; in poll mode it never sleeps at all.
 */
export async function runKernelLoop(
  dispatcher: EventDispatcher,
  drivers: readonly LoopDriver[],
  options: KernelLoopOptions,
): Promise<void> {
  const idle = options.idleWaitMs ?? 1000;
  let spins = 0;
  while (!options.stopped()) {
    const busy = options.pollMode === true || drivers.some((d) => d.hasPending);
    let events: number;
    if (busy) {
      events = dispatcher.poll();
      // Let promise callbacks, file I/O and messages in between busy passes.
      if (++spins >= 64 || events === 0) {
        spins = 0;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } else {
      events = await dispatcher.waitAsync(idle);
    }
    let work = events;
    for (const d of drivers) work += d.runPending();
    options.tick?.();
    if (work === 0 && !busy) await Promise.resolve();
  }
}
