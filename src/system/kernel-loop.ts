import type { EventDispatcher } from "../evtchn/dispatcher.js";
import { blockOnUpcall, MAX_TIMER_MS, sleepOnUpcall } from "../evtchn/wait.js";
import type { AdaptiveSpin } from "./poll-budget.js";

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
  /**
   * Whether the loop may block its thread (`Atomics.wait`) now: asked after every pass that did
   * work and before every sleep, it must be false while anything needs the thread's own event
   * loop — a control call in transit (a blocked thread receives no message), promise work the
   * last pass released (a xenstore reply), file I/O or timers in progress. Absent: the loop never
   * blocks and sleeps with `waitAsync` (the main thread, which must stay responsive).
   */
  readonly mayBlock?: () => boolean;
  /**
   * A driver's work may release promise work (a guest's midlayer resolves a command's promise
   * from a response): after a pass that did work, let the event loop have a whole turn before
   * the thread blocks again. The steady state of a loop with it then allocates a turn per wake.
   */
  readonly turnAfterWork?: boolean;
  /** Spin before sleeping, this adaptively (absent: never spin, as on the main thread). */
  readonly spin?: AdaptiveSpin;
  /** Counted into, if given (for reports and tests). */
  readonly stats?: KernelLoopStats;
}

/** What a kernel loop did: how it slept, spun and let its event loop in. */
export class KernelLoopStats {
  /** Sleeps blocking the thread (`Atomics.wait`). */
  blocked = 0;
  /** Sleeps with `waitAsync`. */
  asyncSleeps = 0;
  /** Spins that found work, and that did not. */
  spinHits = 0;
  spinMisses = 0;
  /** Returns to the event loop (microtask or macrotask turns) other than sleeps. */
  yields = 0;
  /** Blocking sleeps that lasted the whole idle period. */
  timeouts = 0;
}

/**
 * Passes a polling loop makes between yields to the thread's event loop (for promise callbacks,
 * file I/O and control messages): a yield costs microseconds, a pass well under one; 512 passes
 * keep a yield every fraction of a millisecond (bench/pvscsi.bench.ts).
 */
export const POLL_PASSES_PER_YIELD = 512;

/**
 * Longest a loop that may block runs without letting its event loop in, in ms: a safety valve
 * for work `mayBlock` does not know of (a debug timer); amortised, it allocates nothing per pass.
 */
export const MAX_BLOCKING_RUN_MS = 20;

const yieldToEventLoop = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

/** What the synchronous part of the loop asks the asynchronous part to do. */
const STOP = 0;
/** Let promise work run (a microtask turn): a pass released some and the thread must not block. */
const YIELD_MICRO = 1;
/** Let the whole event loop run (messages, I/O, timers): a `setImmediate`. */
const YIELD_MACRO = 2;
/** Sleep with `waitAsync`: idle, but the thread must not block. */
const SLEEP_ASYNC = 3;

const RESOLVED = Promise.resolve();

/**
 * A worker's event loop around sans-IO cores: dispatch this vcpu's events, run the drivers,
 * repeat; with nothing to do, spin a little (adaptively, never on an oversubscribed host), then
 * sleep on the vcpu's upcall word, announcing it so senders know to wake it (`evtchn/wait.ts`).
 *
 * Where the thread may block (`mayBlock`), the steady state is one synchronous loop: dispatch,
 * run, spin, `Atomics.wait` — no promise, timer or other allocation per sleep, and no event-loop
 * turn per event. It returns to the event loop only when `mayBlock` says something needs it,
 * after an idle timeout, or after {@link MAX_BLOCKING_RUN_MS} awake without one. Where it may
 * not, it sleeps with `waitAsync` (one promise per sleep; the keep-alive handle is held once for
 * the whole loop, not set and cleared per sleep). In poll mode it never sleeps.
 */
export async function runKernelLoop(
  dispatcher: EventDispatcher,
  drivers: readonly LoopDriver[],
  options: KernelLoopOptions,
): Promise<void> {
  if (options.pollMode === true) return pollLoop(dispatcher, drivers, options);
  // A pending waitAsync does not keep Node's event loop alive: one ref'd handle for the loop's life.
  const keepAlive = setInterval(noop, MAX_TIMER_MS);
  const idle = options.idleWaitMs ?? 1000;
  const loop = new EventLoopCore(dispatcher, drivers, options, idle);
  const stats = options.stats ?? null;
  try {
    // Whoever started the loop goes on first (a kernel starts its drivers after building it).
    await yieldToEventLoop();
    loop.eventLoopRan();
    for (;;) {
      const next = loop.run();
      if (next === STOP) return;
      if (next === YIELD_MICRO) {
        if (stats) stats.yields++;
        await RESOLVED;
      } else if (next === YIELD_MACRO) {
        if (stats) stats.yields++;
        await yieldToEventLoop();
        loop.eventLoopRan();
      } else {
        if (stats) stats.asyncSleeps++;
        const t0 = performance.now();
        await sleepOnUpcall(dispatcher.ev, idle);
        loop.slept(performance.now() - t0);
        loop.eventLoopRan();
      }
    }
  } finally {
    clearInterval(keepAlive);
  }
}

/** The synchronous part of the event-driven loop, allocated once. */
class EventLoopCore {
  private readonly mayBlock: (() => boolean) | null;
  private readonly spin: AdaptiveSpin | null;
  private readonly tick: (() => void) | null;
  private readonly stats: KernelLoopStats | null;
  private readonly turnAfterWork: boolean;
  /** `mayBlock` said no since the event loop's last whole turn: have one before blocking. */
  private needTurn = true;
  /** When the event loop last had a turn, less the time spent blocked since (ms). */
  private lastTurn = performance.now();

  constructor(
    private readonly dispatcher: EventDispatcher,
    private readonly drivers: readonly LoopDriver[],
    private readonly options: KernelLoopOptions,
    private readonly idle: number,
  ) {
    this.mayBlock = options.mayBlock ?? null;
    this.spin = options.spin ?? null;
    this.tick = options.tick ?? null;
    this.stats = options.stats ?? null;
    this.turnAfterWork = options.turnAfterWork === true;
  }

  /** After a `waitAsync` sleep of `ms`: teach the spin budget. */
  slept(ms: number): void {
    this.spin?.missed(ms);
  }

  /** The event loop had a full turn. */
  eventLoopRan(): void {
    this.lastTurn = performance.now();
    this.needTurn = false;
  }

  /** Run passes, spins and blocking sleeps until the event loop is needed; say what for. */
  run(): number {
    const { dispatcher, drivers, mayBlock, spin } = this;
    const ev = dispatcher.ev;
    const upcall = ev.waitArray;
    const upcallIndex = ev.waitIndex;
    const n = drivers.length;
    for (;;) {
      if (this.options.stopped()) return STOP;
      let work = dispatcher.poll();
      let pending = false;
      for (let i = 0; i < n; i++) {
        const d = drivers[i]!;
        work += d.runPending();
        if (d.hasPending) pending = true;
      }
      this.tick?.();
      if (performance.now() - this.lastTurn > MAX_BLOCKING_RUN_MS) return YIELD_MACRO;
      if (work > 0 || pending) {
        if (mayBlock === null) return pending ? YIELD_MACRO : YIELD_MICRO;
        if (work > 0 && this.turnAfterWork) this.needTurn = true;
        if (mayBlock()) continue;
        // Promise work the pass released may take several hops before it asks for more (a next
        // xenstore request), and only a whole turn of the event loop runs them all: one must
        // come before the thread blocks again. A microtask turn does meanwhile.
        this.needTurn = true;
        return pending ? YIELD_MACRO : YIELD_MICRO;
      }
      // Idle. Spin a little first: a peer answering soon is seen in well under a microsecond.
      if (spin !== null) {
        const budget = spin.now();
        if (budget > 0) {
          const t0 = performance.now();
          const end = t0 + budget;
          let hit = false;
          for (let i = 1; ; i++) {
            if (Atomics.load(upcall, upcallIndex) !== 0) {
              hit = true;
              break;
            }
            if ((i & 31) === 0 && performance.now() >= end) break;
          }
          if (hit) {
            spin.hit(performance.now() - t0);
            if (this.stats) this.stats.spinHits++;
            continue;
          }
          if (this.stats) this.stats.spinMisses++;
        }
      }
      if (mayBlock === null || !mayBlock()) return SLEEP_ASYNC;
      if (this.needTurn) return YIELD_MACRO;
      if (this.stats) this.stats.blocked++;
      const t0 = performance.now();
      const r = blockOnUpcall(ev, this.idle);
      const slept = performance.now() - t0;
      spin?.missed(slept);
      // Time blocked is not time the event loop was kept waiting by this loop's work.
      this.lastTurn += slept;
      // Woken by nothing for a whole idle period: let the event loop in once (not the steady state).
      if (r === "timed-out") {
        if (this.stats) this.stats.timeouts++;
        return YIELD_MACRO;
      }
    }
  }
}

/** Poll mode: never sleep; yield to the event loop every {@link POLL_PASSES_PER_YIELD} passes. */
async function pollLoop(
  dispatcher: EventDispatcher,
  drivers: readonly LoopDriver[],
  options: KernelLoopOptions,
): Promise<void> {
  const n = drivers.length;
  while (!options.stopped()) {
    for (let pass = 0; pass < POLL_PASSES_PER_YIELD; pass++) {
      dispatcher.poll();
      for (let i = 0; i < n; i++) drivers[i]!.runPending();
    }
    options.tick?.();
    await yieldToEventLoop();
  }
}

function noop(): void {}
