/**
 * vscsiif requests pushed and consumed per second: in one thread (front and back alternating on
 * one page), and across two worker threads polling the ring. Each request is a full round trip:
 * encode, push, copy out once, decode, answer, push, copy the response out.
 */
import { Bench } from "tinybench";
import { BackRing, FrontRing, SharedRing } from "../src/ring/index.js";
import { spawnWorker } from "../src/system/spawn-worker.js";
import {
  VSCSIIF_ACT_SCSI_CDB,
  VSCSIIF_ENTRY_SIZE,
  VscsiifRequest,
  VscsiifResponse,
} from "../src/vscsiif/index.js";
import { printBench } from "./_report.js";

const PER_ONE_THREAD_OP = 16; // one full ring of requests
const PER_TWO_THREAD_OP = 100_000;

// One thread.
const page = new SharedArrayBuffer(4096);
const sring = new SharedRing(page, 0, 4096, VSCSIIF_ENTRY_SIZE);
const front = FrontRing.init(sring);
const back = BackRing.init(sring);
const req = new VscsiifRequest();
const rsp = new VscsiifResponse();
const cdb = Uint8Array.of(0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0);

function oneThreadRound(): void {
  for (let i = 0; i < PER_ONE_THREAD_OP; i++) {
    req.clear();
    req.rqid = i;
    req.act = VSCSIIF_ACT_SCSI_CDB;
    req.setCdb(cdb);
    req.scDataDirection = 3;
    req.writeTo(front);
  }
  front.pushRequestsAndCheckNotify();
  const rp = sring.reqProd;
  while (back.reqCons !== rp) {
    req.readFrom(back, back.reqCons);
    back.reqCons = (back.reqCons + 1) >>> 0;
    rsp.clear();
    rsp.rqid = req.rqid;
    rsp.writeTo(back);
  }
  back.pushResponsesAndCheckNotify();
  back.finalCheckForRequests();
  const sp = sring.rspProd;
  while (front.rspCons !== sp) {
    rsp.readFrom(front, front.rspCons);
    front.rspCons = (front.rspCons + 1) >>> 0;
  }
  front.finalCheckForResponses();
}

// Two threads, polling.
const page2 = new SharedArrayBuffer(4096);
const sring2 = new SharedRing(page2, 0, 4096, VSCSIIF_ENTRY_SIZE);
FrontRing.init(sring2);
const control = new SharedArrayBuffer(16);
const ctl = new Int32Array(control);
const workers = (["front", "back"] as const).map((role) =>
  spawnWorker(import.meta.url, "./_ring-worker", { workerData: { role, page: page2, control } }),
);
let batch = 0;
async function twoThreadBatch(): Promise<void> {
  batch++;
  Atomics.store(ctl, 1, PER_TWO_THREAD_OP);
  Atomics.store(ctl, 0, batch);
  Atomics.notify(ctl, 0);
  for (const slot of [2, 3]) {
    while (Atomics.load(ctl, slot) !== batch)
      await Atomics.waitAsync(ctl, slot, Atomics.load(ctl, slot)).value;
  }
}

const bench = new Bench({ time: 2000, warmupTime: 300 });
bench.add(`one thread: ${PER_ONE_THREAD_OP} requests round trip`, oneThreadRound);
bench.add(`two workers polling: ${PER_TWO_THREAD_OP} requests round trip`, twoThreadBatch);
await bench.run();
Atomics.store(ctl, 0, -1);
Atomics.notify(ctl, 0);
await Promise.all(workers.map((w) => w.terminate()));

printBench("vscsiif ring round trips", bench);
const [one, two] = bench.tasks.map((t) =>
  t.result.state === "completed" ? t.result.throughput.mean : Number.NaN,
);
const oneRps = one! * PER_ONE_THREAD_OP;
const twoRps = two! * PER_TWO_THREAD_OP;
console.log(`requests/s, one thread:          ${Math.round(oneRps).toLocaleString("en-US")}`);
console.log(`requests/s, two workers polling: ${Math.round(twoRps).toLocaleString("en-US")}`);
console.log(`ratio two-workers / one-thread:  ${(twoRps / oneRps).toFixed(2)}`);
