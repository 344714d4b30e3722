/**
 * Runs asynchronous tasks one at a time, in the order they were queued: how a xenbus device
 * handles the other end's state changes (Linux runs `otherend_changed` from one xenwatch thread,
 * so one device never handles two changes at once). A failing task is reported to `onError` and
 * does not stop the ones behind it.
 */
export class SerialQueue {
  private tail: Promise<void> = Promise.resolve();
  private pending = 0;

  constructor(private readonly onError: (e: unknown) => void) {}

  /** Queue `task`; the returned promise settles when it has run (never rejects). */
  run(task: () => Promise<void> | void): Promise<void> {
    this.pending++;
    const next = this.tail.then(task).then(
      () => {
        this.pending--;
      },
      (e: unknown) => {
        this.pending--;
        this.onError(e);
      },
    );
    this.tail = next;
    return next;
  }

  /** Tasks queued and not yet finished. */
  get size(): number {
    return this.pending;
  }

  /** Resolves when everything queued so far has run. */
  idle(): Promise<void> {
    return this.tail;
  }
}
