/**
 * One end of the two-thread ring benchmark: a frontend that pushes vscsiif requests and consumes
 * responses, or a backend that consumes requests and answers them — both polling the shared ring
 * (no event channel). Control (start a batch, batch done) goes through a small Int32Array.
 */
import { workerData } from "node:worker_threads";
import { BackRing, FrontRing, SharedRing } from "../src/ring/index.js";
import {
  VSCSIIF_ACT_SCSI_CDB,
  VSCSIIF_ENTRY_SIZE,
  VscsiifRequest,
  VscsiifResponse,
} from "../src/vscsiif/index.js";

interface Data {
  role: "front" | "back";
  page: SharedArrayBuffer;
  control: SharedArrayBuffer; // [0] batch sequence, [1] batch size, [2] front done seq, [3] back done seq
}
const { role, page, control } = workerData as Data;
const ctl = new Int32Array(control);
const sring = new SharedRing(page, 0, 4096, VSCSIIF_ENTRY_SIZE);
const req = new VscsiifRequest();
const rsp = new VscsiifResponse();
const cdb = Uint8Array.of(0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0);

let seq = 0;
for (;;) {
  Atomics.wait(ctl, 0, seq);
  seq = Atomics.load(ctl, 0);
  if (seq < 0) break;
  const n = Atomics.load(ctl, 1);
  if (role === "front") runFront(n);
  else runBack(n);
  Atomics.store(ctl, role === "front" ? 2 : 3, seq);
  Atomics.notify(ctl, role === "front" ? 2 : 3);
}

function runFront(n: number): void {
  const front = FrontRing.attach(sring, sring.reqProd);
  let sent = 0;
  let received = 0;
  while (received < n) {
    while (sent < n && !front.full()) {
      req.clear();
      req.rqid = sent & 15;
      req.act = VSCSIIF_ACT_SCSI_CDB;
      req.setCdb(cdb);
      req.scDataDirection = 3;
      req.writeTo(front);
      sent++;
    }
    front.pushRequests();
    const rp = sring.rspProd;
    while (front.rspCons !== rp) {
      rsp.readFrom(front, front.rspCons);
      front.rspCons = (front.rspCons + 1) >>> 0;
      received++;
    }
  }
}

function runBack(n: number): void {
  const back = BackRing.attach(sring, sring.rspProd);
  let done = 0;
  while (done < n) {
    const rp = sring.reqProd;
    let rc = back.reqCons;
    while (rc !== rp && !back.requestConsOverflow(rc)) {
      req.readFrom(back, rc);
      rc = (rc + 1) >>> 0;
      back.reqCons = rc;
      rsp.clear();
      rsp.rqid = req.rqid;
      rsp.rslt = 0;
      rsp.writeTo(back);
      done++;
    }
    back.pushResponses();
  }
}
