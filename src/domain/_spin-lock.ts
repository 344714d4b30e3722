/**
 * A word-sized spin lock in shared memory: 0 free, 1 held. Used where Xen takes a short spin
 * lock around a few loads and stores (an active grant entry, a domain's event lock) and where two
 * words in different buffers must change together, which no lock-free compare-and-swap can do.
 *
 * Acquiring spins a bounded number of times and then gives up, so that a thread cannot hang on a
 * lock whose holder died (a worker terminated mid-operation): callers turn a failure into
 * `GNTST_eagain` / `-EAGAIN`, Xen's "operation not done; try again". The bound is far above a
 * critical section's length (tens of loads and stores), so in practice only a preempted or dead
 * holder exhausts it. Nothing here blocks the thread (`Atomics.wait` would break the single-thread
 * deterministic mode), and nothing allocates.
 *
 * Ordering: acquiring is a sequentially consistent compare-and-swap and releasing a sequentially
 * consistent store, so everything the previous holder wrote is visible to the next.
 */

/** Spins before giving up: with a few nanoseconds per load, a few milliseconds. */
export const SPIN_LIMIT = 1 << 21;

/** Take the lock at `a[index]`; false if it stayed held for {@link SPIN_LIMIT} tries. */
export function spinLock(a: Int32Array, index: number): boolean {
  if (Atomics.compareExchange(a, index, 0, 1) === 0) return true;
  for (let i = 0; i < SPIN_LIMIT; i++) {
    // Test before test-and-set, so waiters read a shared line instead of bouncing it.
    if (Atomics.load(a, index) === 0 && Atomics.compareExchange(a, index, 0, 1) === 0) return true;
  }
  return false;
}

/** Release the lock at `a[index]`. */
export function spinUnlock(a: Int32Array, index: number): void {
  Atomics.store(a, index, 0);
}
