/**
 * Echo side of bench/evtchn.bench.ts: acting as dom0, wait for events in one mode and answer each
 * on the same channel, until `control[0]` is set (and a kick wakes the wait).
 */
import { parentPort, workerData } from "node:worker_threads";
import { pollEvents, waitForEvents, waitForEventsAsync } from "../src/evtchn/index.js";
import { DomainContext, type DomainHandle } from "../src/hypervisor/index.js";

export interface EchoWorkerData {
  readonly self: DomainHandle;
  readonly peers: readonly DomainHandle[];
  readonly mode: "blocking" | "async" | "poll";
  readonly port: number;
  readonly control: SharedArrayBuffer;
}

const data = workerData as EchoWorkerData;
const ctx = DomainContext.attach(data.self);
for (const p of data.peers) ctx.introducePeer(p);
const control = new Int32Array(data.control);
const out = new Int32Array(ctx.evtchn.maxPorts);

function answer(n: number): void {
  for (let i = 0; i < n; i++) if (out[i] === data.port) ctx.evtchn.send(data.port);
}

parentPort!.postMessage("ready");
if (data.mode === "blocking") {
  while (Atomics.load(control, 0) === 0) answer(waitForEvents(ctx.evtchn, out, 1000));
} else if (data.mode === "async") {
  while (Atomics.load(control, 0) === 0) answer(await waitForEventsAsync(ctx.evtchn, out, 1000));
} else {
  while (Atomics.load(control, 0) === 0) answer(pollEvents(ctx.evtchn, out));
}
