import { describe, expect, it } from "vitest";
import type { ScsiDevice, ScsiTask } from "../../src/scsi/device.js";
import type { FrontCommand } from "../../src/scsifront/index.js";
import { NULL_DEVICE_INFO } from "../../src/targets/index.js";
import { Pair } from "../../src/testing/index.js";
import { DMA_NONE } from "../../src/vscsiif/index.js";

/** A device that answers every command GOOD at once and records `rsp_prod` as it sees each one. */
function recorder(p: Pair, seen: number[]): ScsiDevice {
  return {
    info: NULL_DEVICE_INFO,
    submit(task: ScsiTask) {
      seen.push(p.sring.rspProd);
      task.done(0, 0, 0);
    },
    abortTask: () => "complete",
    lunReset: () => "complete",
    addNexus() {},
    removeNexus() {},
    close: async () => {},
  };
}

function tur(p: Pair, n: number, done: FrontCommand[]): FrontCommand[] {
  const cmds: FrontCommand[] = [];
  for (let i = 0; i < n; i++) {
    const c = p.command([0, 0, 0], [0, 0, 0, 0, 0, 0], DMA_NONE);
    c.onComplete = (x) => done.push(x);
    cmds.push(c);
  }
  return cmds;
}

describe("overlap: both ends publish in adaptive batches within one pass", () => {
  it("the frontend pushes every few submits, notifying only when req_event asks", () => {
    const p = new Pair();
    const seen: number[] = [];
    p.attach(0, 0, 0, recorder(p, seen));
    const done: FrontCommand[] = [];
    const reqProds: number[] = [];
    for (const c of tur(p, 16, done)) {
      expect(p.front.submit(c)).toBe("queued");
      reqProds.push(p.sring.reqProd);
    }
    // 8 (req_event 1 lies in (0, 8]: notify; the batch halves), then 12 (no notify; it grows to 5);
    // 13..16 wait for flush.
    expect(reqProds).toEqual([0, 0, 0, 0, 0, 0, 0, 8, 8, 8, 8, 12, 12, 12, 12, 12]);
    expect(p.frontNotifies).toBe(1);
    expect(p.front.flush()).toBe(false); // req_event is still 1: the backend has not re-armed
    expect(p.sring.reqProd).toBe(16);
    p.pump();
    expect(done.length).toBe(16);
  });

  it("the backend pushes responses mid-pass: the first push notifies, later ones do not", () => {
    const p = new Pair();
    const seen: number[] = [];
    p.attach(0, 0, 0, recorder(p, seen));
    const done: FrontCommand[] = [];
    for (const c of tur(p, 16, done)) p.front.submit(c);
    p.front.flush();
    expect(p.back.service()).toBe(false); // one pass takes all 16
    // Responses 1..8 pushed before request 9 ran (rsp_event 1: notify, batch 8 → 4), 9..12 before
    // request 13 (no notify, batch → 5), 13..16 at the end of the pass (no notify).
    expect(seen).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 8, 8, 8, 8, 12, 12, 12, 12]);
    expect(p.sring.rspProd).toBe(16);
    expect(p.backNotifies).toBe(1);
    expect(p.back.stats.notifies).toBe(1);
    p.pump();
    expect(done.length).toBe(16);
  });

  it("a push notifies exactly when rsp_event lies in (old, new] (ring.h's check)", () => {
    const p = new Pair();
    const seen: number[] = [];
    p.attach(0, 0, 0, recorder(p, seen));
    const done: FrontCommand[] = [];
    for (const c of tur(p, 16, done)) p.front.submit(c);
    p.front.flush();
    p.sring.rspEvent = 12; // the frontend asks to hear of the 12th response
    p.back.service();
    // The push at 8 does not notify (the batch grows to its cap, 8); the push at 16 covers 12.
    expect(seen).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 8, 8, 8, 8, 8, 8, 8, 8]);
    expect(p.backNotifies).toBe(1);
  });

  it("a frontend whose rsp_event lies behind (a polling guest) is never notified", () => {
    const p = new Pair();
    p.attach(0, 0, 0, recorder(p, []));
    const done: FrontCommand[] = [];
    for (const c of tur(p, 16, done)) p.front.submit(c);
    p.front.flush();
    p.sring.rspEvent = 0; // behind everything: (0 - 0) < (new - old) fails for every push
    p.back.service();
    expect(p.sring.rspProd).toBe(16);
    expect(p.backNotifies).toBe(0);
  });
});
