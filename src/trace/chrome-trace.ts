import { type TraceBuffer, TraceKind, type TraceRecord } from "./trace-buffer.js";

/**
 * One event of Chrome's Trace Event Format, as ui.perfetto.dev reads it (`ph`: `X` slice, `i`
 * instant, `b`/`e` async begin/end, `C` counter, `M` metadata).
 */
export interface ChromeTraceEvent {
  name: string;
  cat?: string;
  ph: "X" | "i" | "b" | "e" | "C" | "M";
  /** Microseconds. */
  ts: number;
  dur?: number;
  pid: number;
  tid?: number;
  id?: string;
  s?: "t" | "p" | "g";
  bind_id?: string;
  flow_in?: boolean;
  flow_out?: boolean;
  args?: Record<string, unknown>;
}

/** A whole trace file: `{ traceEvents, displayTimeUnit }`. */
export interface ChromeTrace {
  traceEvents: ChromeTraceEvent[];
  displayTimeUnit: "ns" | "ms";
  /** What the exporter knew: records read, records lost to a full ring. */
  metadata: { recorder: string; records: number; dropped: number };
}

/** Thread ids of a domain's tracks (`tid`), one per role. */
export const TraceTrack = {
  scsifront: 1,
  scsiback: 2,
  device: 3,
  evtchn: 4,
  grants: 5,
  xenstore: 6,
} as const;

/** Options of {@link toChromeTrace}. */
export interface ChromeTraceOptions {
  /** Domain names for `process_name` (`dom1 (backup)`). */
  readonly names?: ReadonlyMap<number, string>;
}

/** The `pid` of a domain's process track (pid 0 is special to some viewers, so domid + 1). */
export const tracePid = (domid: number): number => domid + 1;

const hex = (n: number): string => `0x${n.toString(16)}`;
const XENBUS_STATES = [
  "Unknown",
  "Initialising",
  "InitWait",
  "Initialised",
  "Connected",
  "Closing",
  "Closed",
  "Reconfiguring",
  "Reconfigured",
];

interface Decoded {
  readonly r: TraceRecord;
  readonly src: TraceBuffer;
}

/**
 * Export recorders (one per thread; their clocks are one timeline) to Chrome trace-event JSON:
 * `pid` = domain, `tid` = role ({@link TraceTrack}); each request's whole life as an async
 * `b`/`e` pair; `X` slices for service passes and for each hop of a request (submit, dispatch,
 * respond, complete) joined by v2 flows (`bind_id`, `flow_out`, `flow_in`) keyed by
 * (domid, devid, rqid, generation); instants for notification decisions (with `new`, `old`,
 * `event`), upcalls, event sends, grant operations, xenstore writes (xenbus states named) and
 * watch firings; `C` counters for requests in flight (= ring slots in use), requests completed and
 * grants mapped. A request still in flight at export keeps its async begin without an end only if
 * nothing else is known; its flow is cut where the trace ends.
 */
export function toChromeTrace(
  recorders: readonly TraceBuffer[],
  options: ChromeTraceOptions = {},
): ChromeTrace {
  const all: Decoded[] = [];
  let dropped = 0;
  for (const src of recorders) {
    dropped += src.dropped;
    for (const r of src.records()) all.push({ r, src });
  }
  all.sort((x, y) => x.r.ts - y.r.ts);

  // Pass 1: give every hop of every request its generation, and learn which hops each flow has.
  const gen = new Map<string, number>();
  const hops = new Map<string, number>(); // flow id -> hop count
  const flowOf: Array<string | null> = new Array(all.length).fill(null);
  const frontKey = (dom: number, dev: number, rqid: number) => `${dom}/${dev}/${rqid}`;
  all.forEach(({ r }, i) => {
    let key: string | null = null;
    if (r.kind === TraceKind.RequestSubmit) {
      key = frontKey(r.a, r.b, r.c);
      gen.set(key, (gen.get(key) ?? 0) + 1);
    } else if (r.kind === TraceKind.RequestComplete) key = frontKey(r.a, r.b, r.c);
    else if (r.kind === TraceKind.DeviceBegin || r.kind === TraceKind.DeviceEnd)
      key = frontKey(r.b, r.c, r.d);
    if (key === null) return;
    const g = gen.get(key);
    if (g === undefined) return; // a hop of a request submitted before the trace began
    const id = `${key}#${g}`;
    flowOf[i] = id;
    hops.set(id, (hops.get(id) ?? 0) + 1);
  });

  const ev: ChromeTraceEvent[] = [];
  const pids = new Set<number>();
  const seen = new Map<string, number>(); // flow id -> hops emitted so far
  const serviceOpen = new Map<string, number>();
  const inFlight = new Map<string, number>();
  const completed = new Map<number, number>();
  const mapped = new Map<number, number>();
  const submitted = new Set<string>();
  const flowIds = new Map<string, string>();
  let nextFlow = 1;
  const flowHex = (id: string): string => {
    let h = flowIds.get(id);
    if (h === undefined) {
      h = hex(nextFlow++);
      flowIds.set(id, h);
    }
    return h;
  };
  const hop = (id: string | null, e: ChromeTraceEvent): void => {
    if (id !== null && (hops.get(id) ?? 0) > 1) {
      const n = (seen.get(id) ?? 0) + 1;
      seen.set(id, n);
      e.bind_id = flowHex(id);
      if (n > 1) e.flow_in = true;
      if (n < hops.get(id)!) e.flow_out = true;
    }
    ev.push(e);
  };
  const instant = (
    pid: number,
    tid: number,
    ts: number,
    name: string,
    cat: string,
    args?: Record<string, unknown>,
  ) => ev.push({ name, cat, ph: "i", s: "t", ts, pid, tid, ...(args ? { args } : {}) });

  all.forEach(({ r, src }, i) => {
    const ts = r.ts;
    switch (r.kind) {
      case TraceKind.RequestSubmit: {
        const pid = tracePid(r.a);
        pids.add(pid);
        const id = flowOf[i]!;
        submitted.add(id);
        const op = r.d < 0 ? (r.d === -1 ? "ABORT" : "RESET") : `op ${hex(r.d)}`;
        ev.push({
          name: `rqid ${r.c} ${op}`,
          cat: "request",
          ph: "b",
          ts,
          pid,
          tid: TraceTrack.scsifront,
          id: flowHex(id),
          args: { devid: r.b, rqid: r.c, bytes: r.e },
        });
        hop(id, {
          name: "submit",
          cat: "scsifront",
          ph: "X",
          ts,
          dur: 0,
          pid,
          tid: TraceTrack.scsifront,
          args: { devid: r.b, rqid: r.c },
        });
        const k = `${r.a}/${r.b}`;
        const n = (inFlight.get(k) ?? 0) + 1;
        inFlight.set(k, n);
        ev.push({ name: `in flight dev ${r.b}`, ph: "C", ts, pid, args: { requests: n } });
        return;
      }
      case TraceKind.RequestComplete: {
        const pid = tracePid(r.a);
        pids.add(pid);
        const id = flowOf[i];
        hop(id, {
          name: "complete",
          cat: "scsifront",
          ph: "X",
          ts,
          dur: 0,
          pid,
          tid: TraceTrack.scsifront,
          args: { devid: r.b, rqid: r.c, rslt: hex(r.d) },
        });
        if (id !== null && submitted.has(id)) {
          submitted.delete(id);
          ev.push({
            name: `rqid ${r.c}`,
            cat: "request",
            ph: "e",
            ts,
            pid,
            tid: TraceTrack.scsifront,
            id: flowHex(id),
            args: { rslt: hex(r.d) },
          });
          const k = `${r.a}/${r.b}`;
          const n = Math.max(0, (inFlight.get(k) ?? 1) - 1);
          inFlight.set(k, n);
          ev.push({ name: `in flight dev ${r.b}`, ph: "C", ts, pid, args: { requests: n } });
        }
        const c = (completed.get(pid) ?? 0) + 1;
        completed.set(pid, c);
        ev.push({ name: "requests completed", ph: "C", ts, pid, args: { requests: c } });
        return;
      }
      case TraceKind.ServiceBegin:
        serviceOpen.set(`${r.a}/${r.b}/${r.c}`, ts);
        return;
      case TraceKind.ServiceEnd: {
        const key = `${r.a}/${r.b}/${r.c}`;
        const begin = serviceOpen.get(key);
        serviceOpen.delete(key);
        if (begin === undefined) return;
        const pid = tracePid(r.a);
        pids.add(pid);
        ev.push({
          name: `service dom${r.b}/${r.c}`,
          cat: "scsiback",
          ph: "X",
          ts: begin,
          dur: ts - begin,
          pid,
          tid: TraceTrack.scsiback,
          args: { consumed: r.d },
        });
        return;
      }
      case TraceKind.DeviceBegin:
      case TraceKind.DeviceEnd: {
        const pid = tracePid(r.a);
        pids.add(pid);
        const begin = r.kind === TraceKind.DeviceBegin;
        hop(flowOf[i] ?? null, {
          name: begin ? `dispatch rqid ${r.d}` : `respond rqid ${r.d}`,
          cat: "scsiback",
          ph: "X",
          ts,
          dur: 0,
          pid,
          tid: TraceTrack.scsiback,
          args: begin
            ? { frontend: r.b, devid: r.c, rqid: r.d, opcode: hex(r.e) }
            : { frontend: r.b, devid: r.c, rqid: r.d, rslt: hex(r.e) },
        });
        return;
      }
      case TraceKind.NotifySent:
      case TraceKind.NotifySuppressed: {
        const pid = tracePid(r.a);
        pids.add(pid);
        const side = r.c === 0 ? "requests" : "responses";
        const sent = r.kind === TraceKind.NotifySent;
        const u = (x: number) => x >>> 0;
        instant(
          pid,
          r.c === 0 ? TraceTrack.scsifront : TraceTrack.scsiback,
          ts,
          `push ${side}: ${sent ? "notify" : "suppressed"}`,
          "notify",
          {
            devid: r.b,
            new: u(r.d),
            old: u(r.e),
            event: u(r.f),
            test: `(new - event) = ${u(r.d - r.f)} ${sent ? "<" : ">="} (new - old) = ${u(r.d - r.e)}`,
          },
        );
        return;
      }
      case TraceKind.Upcall:
        pids.add(tracePid(r.a));
        instant(tracePid(r.a), TraceTrack.evtchn, ts, `upcall port ${r.b}`, "evtchn", { port: r.b });
        return;
      case TraceKind.EventSend:
        pids.add(tracePid(r.a));
        instant(tracePid(r.a), TraceTrack.evtchn, ts, `send port ${r.b} → dom${r.c}:${r.d}`, "evtchn", {
          port: r.b,
          remote: r.c,
          remotePort: r.d,
        });
        return;
      case TraceKind.GrantAccess:
        pids.add(tracePid(r.a));
        instant(tracePid(r.a), TraceTrack.grants, ts, `grant ref ${r.b} → dom${r.c}`, "grant", {
          ref: r.b,
          peer: r.c,
          frame: r.d,
          readonly: r.e === 1,
        });
        return;
      case TraceKind.GrantEnd:
        pids.add(tracePid(r.a));
        instant(
          tracePid(r.a),
          TraceTrack.grants,
          ts,
          r.c === 1 ? `end ref ${r.b}` : `end ref ${r.b} refused: still mapped`,
          "grant",
          { ref: r.b, ended: r.c === 1 },
        );
        return;
      case TraceKind.GrantMap:
      case TraceKind.GrantUnmap: {
        const pid = tracePid(r.a);
        pids.add(pid);
        const isMap = r.kind === TraceKind.GrantMap;
        instant(pid, TraceTrack.grants, ts, `${isMap ? "map" : "unmap"} dom${r.b} ref ${r.c}`, "grant", {
          granter: r.b,
          ref: r.c,
          handle: r.d,
        });
        const n = Math.max(0, (mapped.get(pid) ?? 0) + (isMap ? 1 : -1));
        mapped.set(pid, n);
        ev.push({ name: "grants mapped", ph: "C", ts, pid, args: { grants: n } });
        return;
      }
      case TraceKind.XenstoreWrite: {
        const pid = tracePid(r.a);
        pids.add(pid);
        const path = src.string(r.b);
        const value = src.string(r.c);
        const state = path.endsWith("/state") ? XENBUS_STATES[Number(value)] : undefined;
        instant(
          pid,
          TraceTrack.xenstore,
          ts,
          state ? `xenbus ${state} (${value})` : `write ${path}`,
          state ? "xenbus" : "xenstore",
          { path, value },
        );
        return;
      }
      case TraceKind.WatchFire:
        pids.add(tracePid(r.a));
        instant(tracePid(r.a), TraceTrack.xenstore, ts, `watch ${src.string(r.b)}`, "xenstore", {
          path: src.string(r.b),
          token: src.string(r.c),
        });
        return;
    }
  });

  const meta: ChromeTraceEvent[] = [];
  for (const pid of [...pids].sort((x, y) => x - y)) {
    const domid = pid - 1;
    const name = options.names?.get(domid);
    meta.push({
      name: "process_name",
      ph: "M",
      ts: 0,
      pid,
      args: { name: name ? `dom${domid} (${name})` : `dom${domid}` },
    });
    meta.push({ name: "process_sort_index", ph: "M", ts: 0, pid, args: { sort_index: domid } });
    for (const [role, tid] of Object.entries(TraceTrack))
      meta.push({ name: "thread_name", ph: "M", ts: 0, pid, tid, args: { name: role } });
  }
  return {
    traceEvents: [...meta, ...ev],
    displayTimeUnit: "ns",
    metadata: { recorder: "pvscsi", records: all.length, dropped },
  };
}

/** What {@link checkChromeTrace} found; empty `problems` means the trace is well formed. */
export interface TraceSummary {
  readonly events: number;
  readonly slices: number;
  readonly flows: number;
  readonly requests: number;
  readonly counters: number;
  readonly processes: number;
  readonly problems: string[];
}

/**
 * Check a trace's structure (for tests, and for a user's own exporter): every flow has both ends
 * (a `flow_out` hop, a later `flow_in` hop, no hop after the last), every async `b` has its `e`,
 * `X` slices nest on each thread, counters' timestamps never go back, cumulative counters
 * ("requests completed") never decrease, and every pid has a `process_name`.
 */
export function checkChromeTrace(trace: ChromeTrace): TraceSummary {
  const problems: string[] = [];
  const events = trace.traceEvents;
  const named = new Set<number>();
  for (const e of events) if (e.ph === "M" && e.name === "process_name") named.add(e.pid);
  const pids = new Set<number>();
  const flows = new Map<string, { out: number; in: number; open: boolean }>();
  const asyncOpen = new Map<string, number>();
  let requests = 0;
  let slices = 0;
  let counters = 0;
  const stacks = new Map<string, Array<{ end: number; name: string }>>();
  const counterTs = new Map<string, number>();
  const counterVal = new Map<string, number>();
  const sorted = events
    .filter((e) => e.ph !== "M")
    .sort((x, y) => x.ts - y.ts || (y.dur ?? 0) - (x.dur ?? 0));
  for (const e of sorted) {
    pids.add(e.pid);
    if (e.ph === "X") {
      slices++;
      const key = `${e.pid}/${e.tid}`;
      let stack = stacks.get(key);
      if (!stack) {
        stack = [];
        stacks.set(key, stack);
      }
      while (
        stack.length > 0 &&
        stack[stack.length - 1]!.end <= e.ts &&
        !(stack[stack.length - 1]!.end === e.ts && e.dur === 0)
      )
        stack.pop();
      const end = e.ts + (e.dur ?? 0);
      const top = stack[stack.length - 1];
      if (top !== undefined && end > top.end)
        problems.push(`slice '${e.name}' at ${e.ts} on ${key} overlaps '${top.name}' without nesting`);
      stack.push({ end, name: e.name });
    }
    if (e.bind_id !== undefined) {
      let f = flows.get(e.bind_id);
      if (!f) {
        f = { out: 0, in: 0, open: false };
        flows.set(e.bind_id, f);
      }
      if (e.flow_in) {
        if (!f.open) problems.push(`flow ${e.bind_id} arrives at '${e.name}' without leaving anywhere`);
        f.in++;
        f.open = false;
      }
      if (e.flow_out) {
        f.out++;
        f.open = true;
      }
    }
    if (e.ph === "b") {
      requests++;
      asyncOpen.set(`${e.cat}/${e.id}`, (asyncOpen.get(`${e.cat}/${e.id}`) ?? 0) + 1);
    }
    if (e.ph === "e") {
      const k = `${e.cat}/${e.id}`;
      const n = asyncOpen.get(k) ?? 0;
      if (n === 0) problems.push(`async end ${k} without a begin`);
      else asyncOpen.set(k, n - 1);
    }
    if (e.ph === "C") {
      counters++;
      for (const [arg, v] of Object.entries(e.args ?? {})) {
        const k = `${e.pid}/${e.name}/${arg}`;
        const t = counterTs.get(k);
        if (t !== undefined && e.ts < t) problems.push(`counter ${k} goes back in time at ${e.ts}`);
        counterTs.set(k, e.ts);
        if (typeof v !== "number" || !Number.isFinite(v))
          problems.push(`counter ${k} has a non-number value`);
        else {
          const prev = counterVal.get(k);
          if (e.name === "requests completed" && prev !== undefined && v < prev)
            problems.push(`cumulative counter ${k} decreases (${prev} → ${v})`);
          counterVal.set(k, v);
        }
      }
    }
  }
  for (const [id, f] of flows) {
    if (f.open) problems.push(`flow ${id} leaves and never arrives`);
    if (f.out === 0 && f.in === 0) problems.push(`flow ${id} has neither end`);
  }
  for (const pid of pids) if (!named.has(pid)) problems.push(`pid ${pid} has no process_name`);
  return {
    events: events.length,
    slices,
    flows: flows.size,
    requests,
    counters,
    processes: pids.size,
    problems,
  };
}
