/**
 * One end of the naive JS ring of the goal table's references: a SharedArrayBuffer with a
 * request and a response producer index and 16 slots each, between two workers, with none of
 * pvscsi's layers (no vscsiif encoding, grants, event channels or SCSI). `spin` polls the
 * indices; `wait` sleeps in Atomics.wait on the index it waits for and the producer calls
 * Atomics.notify after every publish (no suppression). The front keeps `depth` requests in
 * flight for `seconds` and posts {requests, seconds}. Plain JS: workers start without tsx.
 */
import { parentPort, workerData } from "node:worker_threads";

const { role, sab, variant, seconds, depth } = workerData;
const REQ_PROD = 0;
const RSP_PROD = 1;
const STOP = 2;
const READY = 3;
const SLOTS = 16;
const REQ_BASE = 16; // 16 slots × 8 words: a request id and 7 words of "request"
const RSP_BASE = REQ_BASE + SLOTS * 8; // 16 slots × 4 words
const ctl = new Int32Array(sab);
const wait = variant === "wait";

if (role === "back") {
  let rc = 0;
  Atomics.store(ctl, READY, 1);
  Atomics.notify(ctl, READY);
  for (;;) {
    let rp = Atomics.load(ctl, REQ_PROD);
    while (rp === rc) {
      if (Atomics.load(ctl, STOP) !== 0) process.exit(0);
      if (wait) Atomics.wait(ctl, REQ_PROD, rc, 100);
      rp = Atomics.load(ctl, REQ_PROD);
    }
    let sum = 0;
    while (rc !== rp) {
      const s = REQ_BASE + (rc & (SLOTS - 1)) * 8;
      for (let i = 1; i < 8; i++) sum += ctl[s + i];
      const r = RSP_BASE + (rc & (SLOTS - 1)) * 4;
      ctl[r] = ctl[s];
      ctl[r + 1] = 0;
      ctl[r + 2] = sum & 0xff;
      ctl[r + 3] = 0;
      rc = (rc + 1) | 0;
    }
    Atomics.store(ctl, RSP_PROD, rc);
    if (wait) Atomics.notify(ctl, RSP_PROD);
  }
} else {
  let prod = 0;
  let cons = 0;
  let done = 0;
  while (Atomics.load(ctl, READY) === 0) Atomics.wait(ctl, READY, 0, 10);
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  let timing = true;
  let nextCheck = 256;
  while (timing || cons !== prod) {
    if (timing) {
      while (prod - cons < depth) {
        const s = REQ_BASE + (prod & (SLOTS - 1)) * 8;
        ctl[s] = prod & 0xffff;
        for (let i = 1; i < 8; i++) ctl[s + i] = i;
        prod = (prod + 1) | 0;
      }
      Atomics.store(ctl, REQ_PROD, prod);
      if (wait) Atomics.notify(ctl, REQ_PROD);
    }
    let rp = Atomics.load(ctl, RSP_PROD);
    while (rp === cons) {
      if (wait) Atomics.wait(ctl, RSP_PROD, cons, 100);
      rp = Atomics.load(ctl, RSP_PROD);
    }
    while (cons !== rp) {
      if (ctl[RSP_BASE + (cons & (SLOTS - 1)) * 4] !== (cons & 0xffff))
        throw new Error("ring: wrong response");
      cons = (cons + 1) | 0;
      done++;
    }
    if (timing && done >= nextCheck) {
      nextCheck = done + 256;
      if (performance.now() >= deadline) timing = false;
    }
  }
  const elapsed = (performance.now() - t0) / 1000;
  Atomics.store(ctl, STOP, 1);
  Atomics.notify(ctl, REQ_PROD);
  parentPort.postMessage({ requests: done, seconds: elapsed });
}
