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

/**
 * Spins before an active grant entry's lock gives up (a few to tens of milliseconds): a map then
 * fails with `GNTST_eagain`, which Linux's backends retry (`gnttab_retry_eagain_gop`).
 */
export const GRANT_SPIN_LIMIT = 1 << 21;
/**
 * Spins before a domain's event lock gives up (a tenth of a second or more): control operations
 * (alloc, bind, close) are rare and their callers do not expect `-EAGAIN`, so wait far longer.
 */
export const EVENT_LOCK_SPIN_LIMIT = 1 << 25;

/** Take the lock at `a[index]`; false if it stayed held for `limit` tries. */
export function spinLock(a: Int32Array, index: number, limit: number): boolean {
  if (Atomics.compareExchange(a, index, 0, 1) === 0) return true;
  for (let i = 0; i < limit; i++) {
    // Test before test-and-set, so waiters read a shared line instead of bouncing it.
    if (Atomics.load(a, index) === 0 && Atomics.compareExchange(a, index, 0, 1) === 0) return true;
  }
  return false;
}

/** Release the lock at `a[index]`. */
export function spinUnlock(a: Int32Array, index: number): void {
  Atomics.store(a, index, 0);
}
