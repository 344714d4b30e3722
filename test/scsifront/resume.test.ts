import { describe, expect, it } from "vitest";
import { BackRing } from "../../src/ring/back-ring.js";
import { SharedRing } from "../../src/ring/shared-ring.js";
import { FrontCommand, Frontend, RESUME_RSLT } from "../../src/scsifront/frontend.js";
import { DID_RESET } from "../../src/scsifront/host-byte.js";
import { FakeGuest } from "../../src/testing/index.js";
import { VscsiifRequest } from "../../src/vscsiif/request.js";
import { VscsiifResponse } from "../../src/vscsiif/response.js";
import { VSCSIIF_ENTRY_SIZE } from "../../src/xen/vscsiif-layout.js";

/**
 * scsifront's resume after save/restore or migration, as Linux's `scsifront_resume` does it
 * (reference §3.10): real responses drained first, every rqid still allocated completed locally
 * with DID_RESET << 16 (0x00080000), sense 0, residual 0; then a new ring whose indexes start at
 * 0. The midlayer retries the reset commands there: no acknowledged write is lost, none completes
 * twice.
 */

const LBA_BYTES = 4096;

function ringOn(guest: FakeGuest) {
  const frame = guest.allocFrame();
  guest.bytes.fill(0, frame * 4096, frame * 4096 + 4096);
  return new SharedRing(guest.bytes.buffer, frame * 4096, 4096, VSCSIIF_ENTRY_SIZE);
}

/** A hand-driven backend over `sring` with a one-page-per-block "disk": it answers what it is told to. */
function backend(sring: SharedRing, guest: FakeGuest, disk: Map<number, Uint8Array>) {
  const back = BackRing.init(sring);
  const req = new VscsiifRequest();
  const rsp = new VscsiifResponse();
  const pending: Array<{ rqid: number; lba: number; ref: number }> = [];
  const grants = guest.mapper();
  return {
    back,
    pending,
    /** Take every new request (a WRITE(10) of one block). */
    take() {
      while (back.reqCons !== sring.reqProd) {
        req.readFrom(back, back.reqCons);
        back.reqCons = (back.reqCons + 1) >>> 0;
        const lba = (req.cmnd[2]! << 24) | (req.cmnd[3]! << 16) | (req.cmnd[4]! << 8) | req.cmnd[5]!;
        pending.push({ rqid: req.rqid, lba, ref: req.segGref(0) });
      }
    },
    /** Perform and answer the first `n` pending writes. */
    answer(n: number, perform = true) {
      for (const p of pending.splice(0, n)) {
        if (perform) {
          const m = { mem: new Uint8Array(0), base: 0, handle: 0 };
          expect(grants.map(p.ref, true, m)).toBe(0);
          disk.set(p.lba, m.mem.slice(m.base, m.base + LBA_BYTES));
          grants.unmap(m.handle);
        }
        rsp.clear();
        rsp.rqid = p.rqid;
        rsp.rslt = 0;
        rsp.writeTo(back);
      }
      back.pushResponses();
    },
  };
}

describe("scsifront resume (Linux scsifront_resume / scsifront_finish_all)", () => {
  it("drains real responses, resets the rest with DID_RESET, and the retried writes all land once", () => {
    const guest = new FakeGuest(256);
    const disk = new Map<number, Uint8Array>();
    const front = new Frontend({
      backendDomid: 0,
      memory: guest,
      grants: guest,
      notifier: { notify: () => {} },
    });
    const oldRing = ringOn(guest);
    front.connect(oldRing);
    const old = backend(oldRing, guest, disk);

    const completions = new Map<number, number[]>(); // lba -> rslt of each completion
    const acked = new Set<number>();
    const write = (lba: number) => {
      const c = new FrontCommand();
      c.setCdb([0x2a, 0, lba >>> 24, (lba >>> 16) & 255, (lba >>> 8) & 255, lba & 255, 0, 0, 1, 0]);
      c.direction = 1; // DMA_TO_DEVICE
      const f = guest.allocFrame();
      guest.bytes.fill(lba + 1, f * 4096, f * 4096 + 4096);
      c.frames[0] = f;
      c.frameCount = 1;
      c.length = LBA_BYTES;
      c.onComplete = (x) => {
        completions.set(lba, [...(completions.get(lba) ?? []), x.rslt]);
        if (x.rslt === 0) acked.add(lba);
        else {
          expect(x.host).toBe(DID_RESET);
          expect(x.residual).toBe(0);
          expect(x.senseLength).toBe(0);
          expect(x.sense.every((b) => b === 0)).toBe(true);
        }
      };
      return c;
    };
    const cmds = [10, 11, 12, 13, 14].map(write);
    for (const c of cmds) expect(front.submit(c)).toBe("queued");
    front.flush();
    old.take();
    // The old backend finished two writes (on the ring, not yet seen by the guest) when the
    // guest was suspended; three were still in flight.
    old.answer(2);
    expect(acked.size).toBe(0);

    const reset = front.finishAllForResume();
    expect(reset).toBe(3);
    expect([...acked].sort()).toEqual([10, 11]); // the real responses were drained first
    expect(completions.get(12)).toEqual([RESUME_RSLT]);
    expect(RESUME_RSLT).toBe(0x00080000);
    expect(front.inFlight).toBe(0);
    expect(front.state).toBe("disconnected");
    expect(guest.grants.size).toBe(0); // every data grant ended

    // New ring (new page), indexes from 0; the midlayer retries what was reset.
    const newRing = ringOn(guest);
    expect(newRing.reqProd).toBe(0);
    front.connect(newRing);
    const fresh = backend(newRing, guest, disk);
    const retried = cmds.filter((c) => completions.get(lbaOf(c))?.[0] === RESUME_RSLT);
    expect(retried.map((c) => c.rqid)).toEqual([-1, -1, -1]);
    for (const c of retried) expect(front.submit(c)).toBe("queued");
    expect(retried.map((c) => c.rqid)).toEqual([0, 1, 2]);
    front.flush();
    fresh.take();
    fresh.answer(3);
    front.service();
    // The old backend answering late on the old ring (its grants are gone) reaches no one.
    old.answer(1, false);
    front.service();

    expect([...acked].sort()).toEqual([10, 11, 12, 13, 14]);
    for (const lba of [10, 11]) expect(completions.get(lba)).toEqual([0]);
    for (const lba of [12, 13, 14]) expect(completions.get(lba)).toEqual([RESUME_RSLT, 0]);
    for (const lba of [10, 11, 12, 13, 14]) expect(disk.get(lba)?.every((b) => b === lba + 1)).toBe(true);
    expect(newRing.rspProd).toBe(3);
  });

  it("with nothing in flight it only gives up the ring", () => {
    const guest = new FakeGuest(64);
    const front = new Frontend({
      backendDomid: 0,
      memory: guest,
      grants: guest,
      notifier: { notify: () => {} },
    });
    front.connect(ringOn(guest));
    expect(front.finishAllForResume()).toBe(0);
    expect(front.state).toBe("disconnected");
    front.connect(ringOn(guest));
    expect(front.state).toBe("connected");
  });
});

function lbaOf(c: FrontCommand): number {
  return (c.cdb[2]! << 24) | (c.cdb[3]! << 16) | (c.cdb[4]! << 8) | c.cdb[5]!;
}
