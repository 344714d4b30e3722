/**
 * Event send → wake-up latency across threads, for each way of waiting: the main thread (acting
 * as a guest) sends on an interdomain channel; an echo worker (acting as dom0) wakes and sends
 * back; the main thread waits the same way. One iteration is one round trip; one-way latency is
 * half of it. Also the single-thread cost of a send and of a collect. Ratios are against
 * Atomics.wait, measured in the same run.
 */
import type { Worker } from "node:worker_threads";
import { Bench } from "tinybench";
import { pollEvents, waitForEvents, waitForEventsAsync } from "../src/evtchn/index.js";
import { Hypervisor } from "../src/hypervisor/index.js";
import { spawnWorker } from "../src/system/spawn-worker.js";
import type { EchoWorkerData } from "./_evtchn-echo-worker.js";
import { printBench } from "./_report.js";

type Mode = EchoWorkerData["mode"];

const hv = new Hypervisor();
const dom0 = hv.createDomain({ domid: 0, name: "dom0", frames: 1 });
const guest = hv.createDomain({ name: "guest", frames: 1 });
const back = hv.context(0);
const front = hv.context(guest.domid);
const fport = front.evtchn.allocUnbound(0);
const bport = back.evtchn.bindInterdomain(guest.domid, fport);
// A second channel for the single-thread figures, which nobody else collects.
const lfport = front.evtchn.allocUnbound(0);
const lbport = back.evtchn.bindInterdomain(guest.domid, lfport);
const out = new Int32Array(front.evtchn.maxPorts);
back.evtchn.collect(out);

let worker: Worker | null = null;
let control = new Int32Array(new SharedArrayBuffer(4));

async function startEcho(mode: Mode): Promise<void> {
  control = new Int32Array(new SharedArrayBuffer(4));
  const w = spawnWorker(import.meta.url, "./_evtchn-echo-worker", {
    workerData: {
      self: dom0,
      peers: [guest],
      mode,
      port: bport,
      control: control.buffer,
    } satisfies EchoWorkerData,
  });
  await new Promise((resolve) => w.once("message", resolve));
  worker = w;
}

async function stopEcho(): Promise<void> {
  Atomics.store(control, 0, 1);
  back.evtchn.kick();
  const w = worker!;
  worker = null;
  await new Promise((resolve) => w.once("exit", resolve));
  while (pollEvents(front.evtchn, out) !== 0) {}
}

function firedFport(n: number): boolean {
  for (let i = 0; i < n; i++) if (out[i] === fport) return true;
  return false;
}

const bench = new Bench({ name: "evtchn", time: 1500 });
bench
  .add(
    "round trip, Atomics.wait",
    () => {
      front.evtchn.send(fport);
      while (!firedFport(waitForEvents(front.evtchn, out, 1000))) {}
    },
    // `async` given, so tinybench does not call the task to find out (it would wait for no echo).
    { async: false, beforeAll: () => startEcho("blocking"), afterAll: stopEcho },
  )
  .add(
    "round trip, Atomics.waitAsync",
    async () => {
      front.evtchn.send(fport);
      while (!firedFport(await waitForEventsAsync(front.evtchn, out, 1000))) {}
    },
    { async: true, beforeAll: () => startEcho("async"), afterAll: stopEcho },
  )
  .add(
    "round trip, polling",
    () => {
      front.evtchn.send(fport);
      while (!firedFport(pollEvents(front.evtchn, out))) {}
    },
    { async: false, beforeAll: () => startEcho("poll"), afterAll: stopEcho },
  )
  .add("one thread: send + collect", () => {
    front.evtchn.send(lfport);
    back.evtchn.collect(out);
  })
  .add("one thread: coalesced send (already pending)", () => {
    front.evtchn.send(lfport);
  });

await bench.run();
printBench("event channels", bench);

/** Latency of a round-trip task in ns: mean and median (a loaded machine's outliers move the mean). */
const latency = (name: string): { mean: number; p50: number } => {
  const r = bench.tasks.find((t) => t.name === name)!.result;
  if (r.state !== "completed") throw new Error(`${name}: ${r.state}`);
  return { mean: r.latency.mean * 1e6, p50: r.latency.p50 * 1e6 };
};
const rows: Array<[string, string]> = [
  ["Atomics.wait", "round trip, Atomics.wait"],
  ["Atomics.waitAsync", "round trip, Atomics.waitAsync"],
  ["polling", "round trip, polling"],
];
const base = latency(rows[0]![1]);
console.table(
  rows.map(([label, task]) => {
    const l = latency(task);
    return {
      "one-way latency": label,
      "median (µs)": (l.p50 / 2000).toFixed(2),
      "mean (µs)": (l.mean / 2000).toFixed(2),
      "median vs Atomics.wait": (l.p50 / base.p50).toFixed(2),
      "mean vs Atomics.wait": (l.mean / base.mean).toFixed(2),
    };
  }),
);
back.evtchn.collect(out);
for (const [f, b] of [
  [fport, bport],
  [lfport, lbport],
]) {
  front.evtchn.close(f!);
  back.evtchn.close(b!);
}
