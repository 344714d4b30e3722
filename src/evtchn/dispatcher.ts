import { TraceKind } from "../trace/trace-buffer.js";
import { tracer } from "../trace/tracer.js";
import { invalidArgument } from "../xen/errors.js";
import type { EventChannels } from "./event-channels.js";
import { pollEvents, waitForEvents, waitForEventsAsync } from "./wait.js";

/** Called with the port that fired. Registered once per port, so dispatching allocates nothing. */
export type EventHandler = (port: number) => void;

/**
 * An event loop's dispatch table: one handler per port, called once per collected event (several
 * sends coalesced into one). The three drivers differ only in how they wait: {@link poll} never
 * does, {@link wait} blocks the thread, {@link waitAsync} yields to its event loop.
 *
 * @example
 * const d = new EventDispatcher(ctx.evtchn);
 * d.on(port, () => backRing.work());
 * while (running) d.wait(1000);
 */
export class EventDispatcher {
  readonly ev: EventChannels;
  /** Events collected for ports with no handler (they are consumed, as an unbound irq's would be). */
  unhandled = 0;
  private readonly handlers: Array<EventHandler | null>;
  private readonly fired: Int32Array;

  constructor(ev: EventChannels) {
    this.ev = ev;
    this.handlers = new Array<EventHandler | null>(ev.maxPorts).fill(null);
    this.fired = new Int32Array(ev.maxPorts);
  }

  /** Call `handler` for every event on `port` (replacing any earlier one). */
  on(port: number, handler: EventHandler): void {
    if (!Number.isInteger(port) || port < 1 || port >= this.ev.maxPorts) {
      throw invalidArgument("port", `an integer in [1, ${this.ev.maxPorts - 1}]`, port);
    }
    this.handlers[port] = handler;
  }

  /** Stop handling `port`. */
  off(port: number): void {
    if (Number.isInteger(port) && port >= 0 && port < this.ev.maxPorts) this.handlers[port] = null;
  }

  /** Dispatch what has fired, without waiting. Returns how many events were dispatched. */
  poll(): number {
    return this.run(pollEvents(this.ev, this.fired));
  }

  /** Dispatch what has fired, blocking up to `timeoutMs` for something to. */
  wait(timeoutMs = Number.POSITIVE_INFINITY): number {
    return this.run(waitForEvents(this.ev, this.fired, timeoutMs));
  }

  /** Dispatch what has fired, yielding to the event loop up to `timeoutMs` for something to. */
  async waitAsync(timeoutMs = Number.POSITIVE_INFINITY): Promise<number> {
    return this.run(await waitForEventsAsync(this.ev, this.fired, timeoutMs));
  }

  private run(n: number): number {
    const fired = this.fired;
    const t = tracer;
    for (let i = 0; i < n; i++) {
      const port = fired[i]!;
      if (t !== null) t.record(TraceKind.Upcall, this.ev.self.domid, port);
      const h = this.handlers[port];
      if (h) h(port);
      else this.unhandled++;
    }
    return n;
  }
}
