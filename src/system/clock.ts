/**
 * The time source of the system's shells and of the toolstack's timeouts: real time by default,
 * a virtual clock under the deterministic simulator (`pvscsi/sim`), which decides when time
 * passes. Cores never see it: they have no timers.
 * @module
 */

/** A timer a {@link Clock} handed out (opaque). */
export type ClockTimer = unknown;

/** `now`, `setTimeout` and `clearTimeout`, and how a shell waits while nothing is ready. */
export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number;
  /** Call `fn` once, `ms` from now. */
  setTimeout(fn: () => void, ms: number): ClockTimer;
  clearTimeout(timer: ClockTimer): void;
  /**
   * Let `ms` pass while nothing in this thread is ready. Real time sleeps; a virtual clock moves
   * its time on (to its next timer if that is sooner than nothing) and fires what is due.
   */
  sleep(ms: number): Promise<void>;
}

/** Real time: `performance.now()` and Node's timers. */
export const realClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (t) => clearTimeout(t as ReturnType<typeof setTimeout>),
  sleep: (ms) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
};
