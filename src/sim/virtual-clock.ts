/**
 * The simulator's time: a {@link Clock} whose milliseconds pass only when the scheduler says so.
 * Timers fire in (due time, creation) order, never by themselves, so a run under it is a
 * function of its seed alone.
 * @module
 */
import type { Clock, ClockTimer } from "../system/clock.js";

interface VirtualTimer {
  readonly id: number;
  readonly at: number;
  readonly fn: () => void;
}

/** Virtual milliseconds and the timers waiting on them. */
export class VirtualClock implements Clock {
  private t = 0;
  private seq = 0;
  private readonly timers = new Map<number, VirtualTimer>();
  /** Timers fired so far. */
  fired = 0;

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): ClockTimer {
    const id = ++this.seq;
    this.timers.set(id, { id, at: this.t + Math.max(0, Math.floor(ms)), fn });
    return id;
  }

  clearTimeout(timer: ClockTimer): void {
    if (typeof timer === "number") this.timers.delete(timer);
  }

  /** Timers not yet fired. */
  get pending(): number {
    return this.timers.size;
  }

  /** The earliest due time of a timer, or null when none waits. */
  nextDue(): number | null {
    let best: VirtualTimer | null = null;
    for (const v of this.timers.values()) if (best === null || v.at < best.at) best = v;
    return best === null ? null : best.at;
  }

  /** Whether a timer is due now. */
  due(): boolean {
    const n = this.nextDue();
    return n !== null && n <= this.t;
  }

  /** Let `ms` pass (no timer fires: see {@link fireDue}). */
  advance(ms: number): void {
    this.t += ms;
  }

  /** Jump to the next timer's due time (if later than now). */
  jumpToNext(): void {
    const n = this.nextDue();
    if (n !== null && n > this.t) this.t = n;
  }

  /** Fire every due timer, earliest first (ties: created first); returns how many fired. */
  fireDue(): number {
    let n = 0;
    for (;;) {
      let best: VirtualTimer | null = null;
      for (const v of this.timers.values())
        if (v.at <= this.t && (best === null || v.at < best.at || (v.at === best.at && v.id < best.id)))
          best = v;
      if (best === null) return n;
      this.timers.delete(best.id);
      this.fired++;
      n++;
      best.fn();
    }
  }

  /** Nothing else is ready: `ms` pass, or up to the next timer if that comes later, and due timers fire. */
  async sleep(ms: number): Promise<void> {
    this.t += Math.max(0, ms);
    if (!this.due()) this.jumpToNext();
    this.fireDue();
  }
}
