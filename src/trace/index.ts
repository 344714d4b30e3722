/**
 * Tracing: a per-thread binary recorder every core writes to when it is installed, and an
 * exporter to Chrome trace-event JSON for ui.perfetto.dev, with a structure check.
 * @module
 */
export {
  type ChromeTrace,
  type ChromeTraceEvent,
  type ChromeTraceOptions,
  checkChromeTrace,
  type TraceSummary,
  TraceTrack,
  toChromeTrace,
  tracePid,
} from "./chrome-trace.js";
export {
  TRACE_RECORD_WORDS,
  TraceBuffer,
  type TraceBufferOptions,
  type TraceClock,
  TraceKind,
  type TraceKindValue,
  type TraceRecord,
  wallClockMicros,
} from "./trace-buffer.js";
export { setTracer, tracer } from "./tracer.js";
