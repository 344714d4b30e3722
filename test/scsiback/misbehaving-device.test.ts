import createDebug from "debug";
import { afterEach, describe, expect, it } from "vitest";
import type { ScsiTask } from "../../src/scsi/device.js";
import { RawFront } from "../../src/testing/index.js";
import { TestDisk } from "../_support/test-disk.js";

const TUR = Uint8Array.of(0, 0, 0, 0, 0, 0);

describe("a pluggable device that misbehaves", () => {
  it("throwing instead of completing: the guest gets HOST_ERROR and the vhost carries on", () => {
    const f = new RawFront();
    const bad = new TestDisk();
    bad.submit = () => {
      throw new Error("boom");
    };
    f.attach(0, 0, 0, bad);
    f.attach(0, 0, 1, new TestDisk());
    const [r] = f.send((q) => Object.assign(q, { rqid: 3 }).setCdb(TUR));
    expect(r).toMatchObject({ rqid: 3, rslt: 0x00070000 });
    expect(f.back.stats.rejected["device-error"]).toBe(1);
    const [ok] = f.send((q) => Object.assign(q, { rqid: 4, lun: 1 }).setCdb(TUR));
    expect(ok).toMatchObject({ rqid: 4, rslt: 0 });
    expect(f.back.inFlight).toBe(0);
  });

  it("completing a task twice: one response, the second completion ignored", () => {
    const f = new RawFront();
    const twice = new TestDisk();
    twice.submit = (t: ScsiTask) => {
      t.done(0, 0, 0);
      t.done(0, 0, 0);
    };
    f.attach(0, 0, 0, twice);
    expect(f.send((q) => Object.assign(q, { rqid: 1 }).setCdb(TUR))).toHaveLength(1);
    expect(f.send((q) => Object.assign(q, { rqid: 2 }).setCdb(TUR))).toHaveLength(1);
    expect(f.back.stats.responses).toBe(2);
  });

  it("throwing from a task-management function: 0x2003 (FAILED)", () => {
    const f = new RawFront();
    const d = new TestDisk();
    d.lunReset = () => {
      throw new Error("no");
    };
    f.attach(0, 0, 0, d);
    expect(f.send((q) => Object.assign(q, { rqid: 1, act: 3 }))[0]!.rslt).toBe(0x2003);
  });
});

describe("guest misbehaviour is logged once per cause", () => {
  const saved = createDebug.log;
  afterEach(() => {
    createDebug.log = saved;
    createDebug.disable();
  });

  it("a hundred bad requests of two kinds give two log lines, and a hundred responses", () => {
    const lines: string[] = [];
    createDebug.enable("pvscsi:scsiback");
    createDebug.log = (...args: unknown[]) => {
      lines.push(args.map(String).join(" "));
    };
    const f = new RawFront();
    f.attach(0, 0, 0, new TestDisk());
    for (let i = 0; i < 50; i++) {
      f.send((q) => Object.assign(q, { rqid: i, scDataDirection: 9 }));
      f.send((q) => Object.assign(q, { rqid: i, act: 77 }));
    }
    expect(f.back.stats.responses).toBe(100);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain("invalid parameter data_dir = 9");
    expect(lines[1]).toContain("invalid request (act 77)");
  });
});
