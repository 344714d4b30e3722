/**
 * A stand-in for an event channel between two threads, for tests until the real one exists: a
 * counter in shared memory per direction. `ring` bumps it and wakes waiters; `listen` runs a
 * callback, asynchronously, each time the counter moves.
 */
export class Doorbell {
  readonly cells: Int32Array;
  readonly index: number;
  private stopped = false;
  private keepAlive: ReturnType<typeof setInterval> | undefined;

  constructor(cells: Int32Array, index: number) {
    this.cells = cells;
    this.index = index;
  }

  /** Two doorbells' worth of shared memory. */
  static memory(): SharedArrayBuffer {
    return new SharedArrayBuffer(8);
  }

  ring(): void {
    Atomics.add(this.cells, this.index, 1);
    Atomics.notify(this.cells, this.index);
  }

  /** Call `onRing` after each ring, until {@link stop}. */
  listen(onRing: () => void): void {
    let seen = Atomics.load(this.cells, this.index);
    // A pending Atomics.waitAsync does not keep a thread's event loop alive; a timer does.
    this.keepAlive = setInterval(() => {}, 1 << 30);
    const loop = async (): Promise<void> => {
      while (!this.stopped) {
        const r = Atomics.waitAsync(this.cells, this.index, seen, 50);
        if (r.async) await r.value;
        const now = Atomics.load(this.cells, this.index);
        if (now !== seen) {
          seen = now;
          onRing();
        }
      }
    };
    void loop();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.keepAlive);
  }
}
