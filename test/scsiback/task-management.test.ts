import { describe, expect, it } from "vitest";
import { RawFront } from "../../src/testing/index.js";
import { VSCSIIF_ACT_SCSI_ABORT, VSCSIIF_ACT_SCSI_RESET } from "../../src/vscsiif/constants.js";
import { TestDisk } from "../_support/test-disk.js";

const TUR = Uint8Array.of(0, 0, 0, 0, 0, 0);

describe("ABORT and RESET", () => {
  it("ABORT of a command in flight: the victim is answered (HOST_ABORT, TASK ABORTED), then 0x2002", () => {
    const f = new RawFront();
    const disk = new TestDisk();
    f.attach(0, 0, 0, disk);
    disk.hold = true;
    f.queue((q) => Object.assign(q, { rqid: 5 }).setCdb(TUR));
    f.kick();
    expect(f.responses()).toEqual([]);
    const rs = f.send((q) => Object.assign(q, { rqid: 6, act: VSCSIIF_ACT_SCSI_ABORT, refRqid: 5 }));
    expect(rs.map((r) => [r.rqid, r.rslt])).toEqual([
      [5, 0x00050040],
      [6, 0x2002],
    ]);
    expect(f.back.inFlight).toBe(0);
  });

  it("ABORT of an rqid not in flight → 0x2003 (FAILED)", () => {
    const f = new RawFront();
    f.attach(0, 0, 0, new TestDisk());
    const [r] = f.send((q) => Object.assign(q, { rqid: 1, act: VSCSIIF_ACT_SCSI_ABORT, refRqid: 9 }));
    expect(r!.rslt).toBe(0x2003);
  });

  it("RESET (a LUN reset) aborts what is in flight and answers 0x2002", () => {
    const f = new RawFront();
    const disk = new TestDisk();
    f.attach(0, 0, 0, disk);
    disk.hold = true;
    for (const rqid of [1, 2]) f.queue((q) => Object.assign(q, { rqid }).setCdb(TUR));
    f.kick();
    const rs = f.send((q) => Object.assign(q, { rqid: 3, act: VSCSIIF_ACT_SCSI_RESET }));
    expect(rs.map((r) => [r.rqid, r.rslt])).toEqual([
      [1, 0x00050040],
      [2, 0x00050040],
      [3, 0x2002],
    ]);
    expect(disk.resets).toBe(1);
  });

  it("an asynchronous TMR stops consumption until it is answered, then consumption resumes", async () => {
    const f = new RawFront();
    const disk = new TestDisk();
    let resolve!: (v: "complete") => void;
    disk.lunReset = () =>
      new Promise<"complete">((r) => {
        resolve = r;
      }) as unknown as "complete";
    f.attach(0, 0, 0, disk);
    f.queue((q) => Object.assign(q, { rqid: 1, act: VSCSIIF_ACT_SCSI_RESET }));
    f.queue((q) => Object.assign(q, { rqid: 2 }).setCdb(TUR));
    f.kick();
    expect(f.responses()).toEqual([]);
    expect(disk.seen).toEqual([]);
    resolve("complete");
    await Promise.resolve();
    f.kick();
    expect(f.responses().map((r) => [r.rqid, r.rslt])).toEqual([
      [1, 0x2002],
      [2, 0],
    ]);
  });
});

describe("hot-unplug with a command in flight", () => {
  it("the in-flight command completes normally; later ones get HOST_NO_CONNECT", () => {
    const f = new RawFront();
    const disk = new TestDisk();
    f.attach(0, 0, 0, disk);
    disk.hold = true;
    f.queue((q) => Object.assign(q, { rqid: 1 }).setCdb(TUR));
    f.kick();
    f.back.translations.remove(0, 0, 0);
    const [late] = f.send((q) => Object.assign(q, { rqid: 2 }).setCdb(TUR));
    expect(late).toMatchObject({ rqid: 2, rslt: 0x00010000 });
    disk.release();
    expect(f.responses()).toMatchObject([{ rqid: 1, rslt: 0 }]);
  });

  it("a drain waits for the last completion", () => {
    const f = new RawFront();
    const disk = new TestDisk();
    f.attach(0, 0, 0, disk);
    disk.hold = true;
    f.queue((q) => Object.assign(q, { rqid: 1 }).setCdb(TUR));
    f.kick();
    let drained = false;
    f.back.onDrained = () => {
      drained = true;
    };
    expect(f.back.beginDrain()).toBe(false);
    expect(() => f.back.disconnect()).toThrow(/1 requests unanswered/);
    disk.release();
    expect(drained).toBe(true);
    f.back.disconnect();
    expect(f.back.state).toBe("disconnected");
  });
});
