import { availableParallelism, loadavg } from "node:os";
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
/** Spins in a row that find nothing before the spin is switched off for a while. */
const SPIN_MISSES_TO_BACK_OFF = 4;
/** Sleeps without spinning after a back-off, at first; it doubles with each failed retry. */
const SPIN_FIRST_HOLDOFF = 16;
const SPIN_MAX_HOLDOFF = 4096;
/** How often the machine's load is looked at, in ms. */
const LOAD_SAMPLE_MS = 1000;

/**
 * How long an event-driven kernel spins (polls its events) before it announces a sleep: spinning
 * costs a core but answers in well under a microsecond, where a sleep and its wake-up cost tens
 * (`Atomics.wait` round trip 16–27 µs p50 on the machine of the performance issue).
 *
 * The budget starts at {@link SPIN_START_MS}. It grows when a spin finds work, or when a sleep
 * ended soon enough that a longer spin would have (a peer answering within {@link SPIN_MAX_MS});
 * it halves when a sleep was long. After {@link SPIN_MISSES_TO_BACK_OFF} spins in a row find
 * nothing it is switched off for a number of sleeps that doubles with each failed retry, since a
 * spin that keeps missing only takes a core from someone (the peer it waits for, on a busy
 * machine). It is 0 — no spin at all — whenever the host runs more kernel threads than cores,
 * or the machine's load average is above its cores (other jobs want the CPUs).
 * Pure bookkeeping: the loop measures, this decides; nothing allocates but the load sample, once
 * a second.
 */
export class AdaptiveSpin {
  private budget = SPIN_START_MS;
  private misses = 0;
  private holdoff = 0;
  private backoff = SPIN_FIRST_HOLDOFF;
  private loadCheckedAt = Number.NEGATIVE_INFINITY;
  private loaded = false;

  /**
   * @param host the host's kernel threads and cores (null: none counted, as in a test)
   * @param load the machine's 1-minute load average (`os.loadavg()[0]`); null: not looked at
   */
  constructor(
    private readonly host: HostThreads | null,
    private readonly load: (() => number) | null = host === null ? null : () => loadavg()[0]!,
  ) {}

  /** How long to spin now, in ms; 0 on an oversubscribed host or a loaded machine. */
  now(): number {
    if (this.holdoff > 0) return 0;
    const host = this.host;
    if (host !== null) {
      if (host.oversubscribed()) return 0;
      if (this.load !== null) {
        const t = performance.now();
        if (t - this.loadCheckedAt >= LOAD_SAMPLE_MS) {
          this.loadCheckedAt = t;
          this.loaded = this.load() > host.cores + 0.5;
        }
        if (this.loaded) return 0;
      }
    }
    return this.budget;
  }

  /** The spin found work after `spunMs`. */
  hit(spunMs: number): void {
    this.misses = 0;
    this.backoff = SPIN_FIRST_HOLDOFF;
    this.budget = Math.min(SPIN_MAX_MS, Math.max(this.budget, spunMs * 2, SPIN_START_MS));
  }

  /** A sleep of `sleptMs` ended, after a spin (of the budget, perhaps 0) that found nothing. */
  missed(sleptMs: number): void {
    if (this.holdoff > 0) {
      if (--this.holdoff === 0) this.budget = SPIN_START_MS;
      return;
    }
    if (++this.misses >= SPIN_MISSES_TO_BACK_OFF || this.budget === 0) {
      this.backOff();
    } else if (sleptMs <= SPIN_MAX_MS) {
      // A spin a little longer would have caught it.
      this.budget = Math.min(SPIN_MAX_MS, Math.max(this.budget, sleptMs * 1.5, SPIN_START_MS));
    } else {
      const b = this.budget / 2;
      if (b < SPIN_MIN_MS) this.backOff();
      else this.budget = b;
    }
  }

  private backOff(): void {
    this.misses = 0;
    this.budget = 0;
    this.holdoff = this.backoff;
    this.backoff = Math.min(this.backoff * 2, SPIN_MAX_HOLDOFF);
  }
}
