import type { TraceBuffer } from "./trace-buffer.js";

/**
 * This thread's recorder, or null when tracing is off. Cores test it once per event
 * (`const t = tracer; if (t !== null) t.record(…)`): tracing costs one load and a branch when off.
 */
export let tracer: TraceBuffer | null = null;

/** Install (or, with null, remove) this thread's recorder; returns the previous one. */
export function setTracer(t: TraceBuffer | null): TraceBuffer | null {
  const old = tracer;
  tracer = t;
  return old;
}
