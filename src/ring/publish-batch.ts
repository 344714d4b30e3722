import { invalidArgument } from "../xen/errors.js";

/** Entries a producer starts publishing in (the experiment: every 8 gave 1.4–1.6×). */
export const PUBLISH_BATCH_START = 8;
/** Smallest batch: below it the shared index's cache line bounces on every entry. */
export const PUBLISH_BATCH_MIN = 4;

/**
 * How many entries a ring producer lets accumulate privately before it publishes them with
 * `RING_PUSH_{REQUESTS,RESPONSES}_AND_CHECK_NOTIFY` — chosen adaptively, so the consumer starts on
 * the first entries while the producer writes the next ones: the two threads overlap instead of
 * alternating whole batches.
 *
 * The signal is the notify decision of each push, the only thing a producer learns of its
 * consumer (ring.h shares no consumer index):
 * - a push that must notify found the consumer's event armed: it had caught up and was waiting
 *   for us, idle. It should have had these entries sooner, so the batch halves towards `min`.
 * - a push that need not notify found the consumer still busy with earlier entries (or polling,
 *   which never arms its event): handing it work sooner gains nothing, so the batch grows by one
 *   towards `max`, saving pushes (each one a store to the cache line the consumer reads).
 *
 * `max` is half the ring: a producer that fills the whole ring before publishing leaves its
 * consumer nothing to overlap with, which is what a once-per-pass publish did. Notification
 * suppression stays exactly ring.h's: every push is a push-and-check, and the caller sends the
 * event it asks for. Pure arithmetic: nothing here touches the ring or allocates.
 */
export class PublishBatch {
  /** Largest batch. */
  readonly max: number;
  /** Smallest batch. */
  readonly min: number;
  private k: number;

  /** A policy for a ring of `ringSize` entries: batches in `[min, ringSize / 2]`, starting at `start`. */
  constructor(ringSize: number, start = PUBLISH_BATCH_START, min = PUBLISH_BATCH_MIN) {
    if (!Number.isInteger(ringSize) || ringSize < 1)
      throw invalidArgument("ringSize", "a positive integer", ringSize);
    this.max = Math.max(1, ringSize >>> 1);
    this.min = Math.max(1, Math.min(min, this.max));
    this.k = Math.max(this.min, Math.min(start, this.max));
  }

  /** Entries to accumulate before the next push. */
  get size(): number {
    return this.k;
  }

  /** Whether `unpushed` private entries call for a push now. */
  due(unpushed: number): boolean {
    return unpushed >= this.k;
  }

  /** Adapt after a push that did (`notified`) or did not have to notify the consumer. */
  pushed(notified: boolean): void {
    if (notified) this.k = Math.max(this.min, this.k >>> 1);
    else if (this.k < this.max) this.k++;
  }
}
