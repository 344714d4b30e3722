/**
 * Tape backups in the simulator: pvscsi's SSC drive behind scsiback, a backup job per guest
 * (records, filemark, rewind, read back, verify) under resets, aborts, device errors and
 * hot-unplug. Shows that a clean run verifies backups, that faults only cost rewinds (every
 * invariant holds), that a job which ignores unit attentions is caught misreading, and that the
 * simulated drive reports the unit attention it owes.
 */
import { describe, expect, it } from "vitest";
import { DataBuffer } from "../../src/scsi/data-buffer.js";
import type { ScsiTask } from "../../src/scsi/device.js";
import { runSim } from "../../src/sim/run.js";
import { SCENARIOS, type Scenario } from "../../src/sim/scenario.js";
import { completable } from "../../src/sim/sim-disk.js";
import { SimTape } from "../../src/sim/sim-tape.js";

const tape = SCENARIOS["tape-backup"]!;

function task(cdb: number[], tag: number, done: (status: number, sense: Uint8Array) => void): ScsiTask {
  const sense = new Uint8Array(96);
  return {
    cdb: Uint8Array.from(cdb),
    lun: 0,
    initiator: { id: 1, name: "test" },
    tag,
    direction: 3,
    data: DataBuffer.of(new Uint8Array(0), false),
    sense,
    done: (status) => done(status, sense),
  };
}

describe("tape-backup", () => {
  it("without faults, every guest verifies backups; the only rewind is for the power-on unit attention", () => {
    const s: Scenario = { ...tape, faults: [], faultRate: 0 };
    for (let seed = 1; seed <= 10; seed++) {
      const r = runSim(s, seed, { trace: false });
      expect(r.violation, `seed ${seed}`).toBeNull();
      expect(r.stats.tapeBackups).toBeGreaterThanOrEqual(2 * s.guests);
      expect(r.stats.tapeRestarts).toBe(s.guests);
    }
  });

  it("under resets, aborts, device errors, hot-unplug and revoked grants, every invariant holds and backups still verify", () => {
    let backups = 0;
    let restarts = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const r = runSim(tape, seed, { trace: false });
      expect(r.violation, `seed ${seed}: ${JSON.stringify(r.violation)}`).toBeNull();
      backups += r.stats.tapeBackups;
      restarts += r.stats.tapeRestarts;
    }
    expect(backups).toBeGreaterThan(20);
    expect(restarts).toBeGreaterThan(20 * tape.guests); // faults did cost positions
  });

  it("a backup job that retries in place after a unit attention is caught misreading (tape-order)", () => {
    const s: Scenario = {
      ...tape,
      faults: ["abort-storm"],
      mutation: { workload: "tape-ignores-unit-attention" },
    };
    let caught: number | null = null;
    for (let seed = 1; seed <= 10 && caught === null; seed++) {
      const r = runSim(s, seed, { trace: false });
      if (r.violation !== null) {
        expect(r.violation.invariant).toBe("tape-order");
        caught = seed;
      }
    }
    expect(caught).not.toBeNull();
  });

  it("the same seed gives the same trace", () => {
    const a = runSim(tape, 7);
    const b = runSim(tape, 7);
    expect(a.traceDigest).toBe(b.traceDigest);
    expect(a.trace.length).toBeGreaterThan(100);
  });
});

describe("SimTape", () => {
  it("reports the power-on unit attention, and after a LUN reset owes (and reports) another; a rewinding drive is back at BOP", () => {
    const t = new SimTape("t0", { rewindOnReset: true });
    const seen: string[] = [];
    const run = (cdb: number[], tag: number) => {
      t.submit(task(cdb, tag, (st, sense) => seen.push(`${st}:${sense[2]! & 15}/${sense[12]}`)));
      t.completeAt(0);
    };
    run([0, 0, 0, 0, 0, 0], 1); // TEST UNIT READY: 06/29
    run([0, 0, 0, 0, 0, 0], 2); // ready
    run([0x10, 0, 0, 0, 2, 0], 3); // WRITE FILEMARKS 2: position 2
    expect(t.drive.position).toBe(2);
    expect(t.lunReset({ id: 1, name: "test" })).toBe("complete");
    expect(t.uaOwed.has(1)).toBe(true);
    expect(t.drive.position).toBe(0);
    run([0, 0, 0, 0, 0, 0], 4); // 06/29 again
    expect(seen).toEqual(["2:6/41", "0:0/0", "0:0/0", "2:6/41"]);
    expect(t.uaOwed.has(1)).toBe(false);
    expect(t.uaMissed).toEqual([]);
    expect(t.answers.get(4)?.status).toBe(2);
  });

  it("records a drive that answers without the unit attention it owes (the unit-attention invariant's source)", () => {
    const t = new SimTape("t2", { rewindOnReset: false });
    const run = (tag: number) => {
      t.submit(task([0, 0, 0, 0, 0, 0], tag, () => {}));
      t.completeAt(0);
    };
    run(1); // the power-on UA, owed and reported
    expect(t.uaMissed).toEqual([]);
    t.uaOwed.add(1); // as if a reset happened that the drive did not register
    run(2);
    expect(t.uaMissed).toHaveLength(1);
    expect(t.uaMissed[0]).toMatch(/tag 2 .*answered status 0/);
  });

  it("a hung command ends only by ABORT TASK (TASK ABORTED), a failed one with MEDIUM ERROR", () => {
    const t = new SimTape("t1", { rewindOnReset: false });
    const seen: string[] = [];
    t.submit(task([0x01, 0, 0, 0, 0, 0], 9, (st, sense) => seen.push(`${st}:${sense[2]! & 15}`)));
    t.queue[0]!.hung = true;
    expect(completable(t)).toBe(0);
    expect(t.abortTask({ id: 1, name: "test" }, 9)).toBe("complete");
    t.submit(task([0x01, 0, 0, 0, 0, 0], 10, (st, sense) => seen.push(`${st}:${sense[2]! & 15}`)));
    t.queue[0]!.fail = true;
    t.completeAt(0);
    expect(seen).toEqual(["64:0", "2:3"]);
  });
});
