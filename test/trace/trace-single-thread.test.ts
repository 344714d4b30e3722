import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalSystem } from "../../src/system/single-thread.js";
import { Host } from "../../src/toolstack/host.js";
import { checkChromeTrace, toChromeTrace } from "../../src/trace/chrome-trace.js";
import { TraceBuffer, TraceKind } from "../../src/trace/trace-buffer.js";
import { setTracer } from "../../src/trace/tracer.js";

/**
 * A traced run of the whole machine in one thread: create a guest, move data with dd, destroy
 * it; the recorder holds every hop of every request, and the export is a well-formed Perfetto
 * trace (flows with both ends, nesting slices, sane counters).
 */
let dir: string;
let sys: LocalSystem;
let host: Host;
const trace = TraceBuffer.create({ records: 1 << 16 });
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "pvscsi-trace-"));
  setTracer(trace);
  sys = await LocalSystem.start({
    hostConfig: { text: "[disk 1:0:0:0]\nsize = 8M\n", source: "dom0.conf", baseDir: dir },
  });
  host = new Host(sys);
});
afterAll(async () => {
  setTracer(null);
  if (sys) await sys.run(host.shutdown());
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("tracing the single-thread system", () => {
  it("records every request's hops and exports a well-formed Chrome trace", async () => {
    const vm = (await sys.run(host.create(`name = "vm1"\nvscsi = [ '/dev/sda,0:0:0:0' ]\n`, "vm1.cfg")))
      .domid;
    const w = await sys.run(
      host.guestCommand("vm1", ["dd", "of=/dev/sda", "if=pattern:3", "bs=64k", "count=8"]),
    );
    expect(w.exitCode).toBe(0);
    expect((await sys.run(host.destroy("vm1"))).clean).toBe(true);

    const recs = trace.records();
    const count = (k: number) => recs.filter((r) => r.kind === k).length;
    const submits = count(TraceKind.RequestSubmit);
    expect(submits).toBeGreaterThanOrEqual(8);
    expect(count(TraceKind.RequestComplete)).toBe(submits);
    expect(count(TraceKind.DeviceEnd)).toBe(submits);
    expect(count(TraceKind.GrantMap)).toBe(count(TraceKind.GrantUnmap));
    expect(count(TraceKind.NotifySent) + count(TraceKind.NotifySuppressed)).toBeGreaterThan(0);
    const states = recs
      .filter((r) => r.kind === TraceKind.XenstoreWrite && trace.string(r.b).endsWith(`/vscsi/0/state`))
      .map((r) => trace.string(r.c));
    expect(states).toContain("4");

    const json = toChromeTrace([trace], { names: new Map([[vm, "vm1"]]) });
    const summary = checkChromeTrace(JSON.parse(JSON.stringify(json)));
    expect(summary.problems).toEqual([]);
    expect(summary.requests).toBe(submits);
    expect(summary.flows).toBe(submits);
    expect(
      json.traceEvents.some((e) => e.ph === "M" && (e.args as { name: string }).name === `dom${vm} (vm1)`),
    ).toBe(true);
  });

  it("catches a malformed trace", () => {
    const bad = checkChromeTrace({
      displayTimeUnit: "ns",
      metadata: { recorder: "x", records: 0, dropped: 0 },
      traceEvents: [
        { name: "a", ph: "X", ts: 0, dur: 10, pid: 1, tid: 1, bind_id: "0x1", flow_out: true },
        { name: "b", ph: "X", ts: 5, dur: 10, pid: 1, tid: 1 },
        { name: "c", ph: "e", cat: "request", id: "0x9", ts: 6, pid: 1 },
        { name: "n", ph: "C", ts: 7, pid: 1, args: { requests: 2 } },
        { name: "requests completed", ph: "C", ts: 8, pid: 1, args: { requests: 3 } },
        { name: "requests completed", ph: "C", ts: 9, pid: 1, args: { requests: 2 } },
      ],
    });
    expect(bad.problems.join("\n")).toMatch(/overlaps/);
    expect(bad.problems.join("\n")).toMatch(/never arrives/);
    expect(bad.problems.join("\n")).toMatch(/without a begin/);
    expect(bad.problems.join("\n")).toMatch(/decreases/);
    expect(bad.problems.join("\n")).toMatch(/no process_name/);
  });
});
