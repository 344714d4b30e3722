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
 * Passes a polling loop makes between yields to the thread's event loop (for promise callbacks,
 * file I/O and control messages): a yield costs microseconds, a pass well under one; 512 passes
 * keep a yield every fraction of a millisecond (bench/pvscsi.bench.ts).
 */
export const POLL_PASSES_PER_YIELD = 512;

const yieldToEventLoop = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

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
  const poll = options.pollMode === true;
  const n = drivers.length;
  while (!options.stopped()) {
    if (poll) {
      for (let pass = 0; pass < POLL_PASSES_PER_YIELD; pass++) {
        dispatcher.poll();
        for (let i = 0; i < n; i++) drivers[i]!.runPending();
      }
      options.tick?.();
      await yieldToEventLoop();
      continue;
    }
    let pending = false;
    for (let i = 0; i < n; i++) if (drivers[i]!.hasPending) pending = true;
    if (pending) {
      // Work left over from the last pass (a budget ran out): run it, but let others in first.
      dispatcher.poll();
      await yieldToEventLoop();
    } else {
      await dispatcher.waitAsync(idle);
    }
    for (let i = 0; i < n; i++) drivers[i]!.runPending();
    options.tick?.();
  }
}
