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

/**
 * The warning for a poll-mode host that has fewer cores than its polling threads need: `null`
 * when `pollThreads` kernels can poll, dom0's backend and at least one guest, each on a core of
 * its own beside the main thread's (the toolstack and xenstored); else a sentence naming the
 * cores and threads and what happens instead. With the default budget that means fewer than 3
 * cores; with a `pollThreads` above the cores less one, the threads are oversubscribed.
 */
export function pollOversubscription(pollThreads: number, cores: number): string | null {
  if (pollThreads + 1 > cores) {
    return (
      `poll mode: ${plural(pollThreads, "kernel thread", "kernel threads")} may poll on ` +
      `${plural(cores, "core", "cores")}, beside the toolstack's thread: more threads than cores, so ` +
      `they take turns by time slice and every ring round trip waits for one`
    );
  }
  if (pollThreads >= 2) return null;
  return (
    `poll mode: ${plural(cores, "core", "cores")}, but dom0's backend and a guest polling need 2 kernel ` +
    `threads beside the toolstack's (3 threads); ${pollThreads === 0 ? "no kernel polls" : "only dom0's backend polls"}, ` +
    `and the other kernels wait adaptively on their event channels (a short spin when a core is free, then sleep)`
  );
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** Words of a {@link HostThreads} buffer. */
const HOST_W_KERNELS = 0;
const HOST_W_POLLING = 1;
const HOST_W_CORES = 2;
const HOST_WORDS = 4;

/**
 * How many kernel threads a host runs, and on how many cores, in a small SharedArrayBuffer every
 * kernel thread sees: the system counts kernels in and out; a kernel loop reads it before it
 * spins, and never spins while the host runs more kernel threads than it has cores (a spinning
 * thread then steals the core its peer needs).
 */
export class HostThreads {
  readonly buffer: SharedArrayBuffer;
  private readonly words: Int32Array;

  private constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.words = new Int32Array(buffer);
  }

  /** A new count for a host with `cores` cores (`os.availableParallelism()` by default). */
  static create(cores: number = availableParallelism()): HostThreads {
    if (!Number.isInteger(cores) || cores < 1)
      throw invalidArgument("cores", "a whole number, 1 or more", cores);
    const h = new HostThreads(new SharedArrayBuffer(HOST_WORDS * 4));
    Atomics.store(h.words, HOST_W_CORES, cores);
    return h;
  }

  /** The count made by {@link create}, in another thread. */
  static attach(buffer: SharedArrayBuffer): HostThreads {
    return new HostThreads(buffer);
  }

  /** The host's cores. */
  get cores(): number {
    return Atomics.load(this.words, HOST_W_CORES);
  }

  /** Kernel threads running (polling or not). */
  get kernels(): number {
    return Atomics.load(this.words, HOST_W_KERNELS);
  }

  /** Kernel threads that poll. */
  get polling(): number {
    return Atomics.load(this.words, HOST_W_POLLING);
  }

  /** A kernel thread started (`polls`: it spins all the time). */
  started(polls: boolean): void {
    Atomics.add(this.words, HOST_W_KERNELS, 1);
    if (polls) Atomics.add(this.words, HOST_W_POLLING, 1);
  }

  /** A kernel thread counted by {@link started} ended. */
  stopped(polls: boolean): void {
    Atomics.sub(this.words, HOST_W_KERNELS, 1);
    if (polls) Atomics.sub(this.words, HOST_W_POLLING, 1);
  }

  /** Whether the host runs more kernel threads than it has cores: then nobody spins before sleeping. */
  oversubscribed(): boolean {
    return Atomics.load(this.words, HOST_W_KERNELS) > Atomics.load(this.words, HOST_W_CORES);
  }
}

/** Where an adaptive spin starts, in ms (20 µs: about one cross-thread wake-up on a quiet machine). */
export const SPIN_START_MS = 0.02;
/** The longest spin before sleeping, in ms. */
export const SPIN_MAX_MS = 0.1;
/** Below this a spin is not worth its clock reads: the budget becomes 0. */
const SPIN_MIN_MS = 0.001;

/**
 * How long an event-driven kernel spins (polls its events) before it announces a sleep: spinning
 * costs a core but answers in well under a microsecond, where a sleep and its wake-up cost tens
 * (`Atomics.wait` round trip 16–27 µs p50 on the machine of the performance issue). The budget
 * starts at {@link SPIN_START_MS}; it grows when a spin finds work, or when a sleep ended soon
 * enough that a longer spin would have (a peer answering within {@link SPIN_MAX_MS}); it halves
 * when a spin found nothing and the sleep after it was long, down to 0, where it stays until
 * sleeps are short again. It is 0 whenever the host runs more kernel threads than cores.
 * Pure bookkeeping: the loop measures, this decides; nothing allocates.
 */
export class AdaptiveSpin {
  private budget = SPIN_START_MS;

  constructor(private readonly host: HostThreads | null) {}

  /** How long to spin now, in ms; 0 on an oversubscribed host. */
  now(): number {
    if (this.host?.oversubscribed()) return 0;
    return this.budget;
  }

  /** The spin found work after `spunMs`. */
  hit(spunMs: number): void {
    this.budget = Math.min(SPIN_MAX_MS, Math.max(this.budget, spunMs * 2, SPIN_START_MS));
  }

  /** The spin (of the budget, perhaps 0) found nothing, and the sleep after it lasted `sleptMs`. */
  missed(sleptMs: number): void {
    if (sleptMs <= SPIN_MAX_MS) {
      // A spin a little longer would have caught it.
      this.budget = Math.min(SPIN_MAX_MS, Math.max(this.budget, sleptMs * 1.5, SPIN_START_MS));
    } else {
      const b = this.budget / 2;
      this.budget = b < SPIN_MIN_MS ? 0 : b;
    }
  }
}
