import { availableParallelism } from "node:os";
import { invalidArgument } from "../xen/errors.js";

/**
 * How many kernel threads may spin in poll mode on a machine with `cores` cores
 * (`os.availableParallelism()` by default): one per core, minus one for the main thread
 * (the toolstack and xenstored) when that leaves at least one; so 1 on one or two cores, 3 on
 * four. A spinning thread never sleeps, so two of them on one core take turns by the
 * scheduler's time slice, and every ring round trip waits for one (`pvscsi up --poll` with one
 * guest on two cores: 3,684 IOPS against 90,391 event-driven). Kernels beyond the budget run
 * event-driven: they sleep on their event channel, and the ring protocol copes with one end
 * polling and the other sleeping (a polling end never re-arms its event index; a sleeping end
 * does, so its peer notifies it).
 */
export function defaultPollThreads(cores: number = availableParallelism()): number {
  return cores > 1 ? cores - 1 : 1;
}

/** Check a `pollThreads` option: a whole number of threads, 0 or more. */
export function checkPollThreads(n: number, where: string): number {
  if (!Number.isInteger(n) || n < 0) throw invalidArgument(where, "a whole number of threads, 0 or more", n);
  return n;
}

/**
 * The places in a poll budget: a kernel claims one at start (dom0's backend first, then each
 * domain in the order it is created) and gives it back when it stops, so a later domain may poll.
 */
export class PollBudget {
  private used = 0;

  constructor(readonly threads: number) {}

  /** Claim a place when `wanted` and one is free; returns whether the kernel polls. */
  claim(wanted: boolean): boolean {
    if (!wanted || this.used >= this.threads) return false;
    this.used++;
    return true;
  }

  /** Give a claimed place back. */
  release(): void {
    if (this.used > 0) this.used--;
  }
}
