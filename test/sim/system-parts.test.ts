/**
 * The whole-system simulator's parts: the virtual clock (timers fire in due order, only when
 * told; a sleeping shell jumps to the next timer), the toolstack's `withTimeout` on it, and the
 * gated disk (completions held until released, in any order; ABORT TASK and LUN RESET release
 * what they name, as device.ts's contract says).
 */
import { describe, expect, it } from "vitest";
import type { ScsiTask } from "../../src/scsi/device.js";
import { GatedDisk } from "../../src/sim/gated-disk.js";
import { VirtualClock } from "../../src/sim/virtual-clock.js";
import { withTimeout } from "../../src/system/system.js";

describe("VirtualClock", () => {
  it("fires due timers earliest first, ties in creation order, never by itself", async () => {
    const c = new VirtualClock();
    const seen: string[] = [];
    c.setTimeout(() => seen.push("b"), 10);
    c.setTimeout(() => seen.push("a"), 5);
    c.setTimeout(() => seen.push("c"), 10);
    const gone = c.setTimeout(() => seen.push("x"), 1);
    c.clearTimeout(gone);
    c.advance(4);
    expect(c.fireDue()).toBe(0);
    c.advance(6);
    expect(c.fireDue()).toBe(3);
    expect(seen).toEqual(["a", "b", "c"]);
    c.setTimeout(() => seen.push("late"), 1000);
    await c.sleep(1);
    expect(c.now()).toBe(1010);
    expect(seen.at(-1)).toBe("late");
  });

  it("times libxl's waits out in virtual time only", async () => {
    const c = new VirtualClock();
    const never = new Promise<void>(() => undefined);
    const p = withTimeout(never, 10_000, "a backend", c).catch((e: Error) => e.message);
    await Promise.resolve();
    c.advance(9_999);
    c.fireDue();
    c.advance(1);
    c.fireDue();
    expect(await p).toMatch(/waited 10000 ms for a backend/);
    const ok = await withTimeout(Promise.resolve(5), 10, "x", c);
    expect(ok).toBe(5);
    expect(c.pending).toBe(0);
  });
});

function task(tag: number, cdb: number[], done: (s: number) => void): ScsiTask {
  return {
    cdb: Uint8Array.from(cdb),
    lun: 0,
    initiator: { id: 1, name: "i1" },
    tag,
    direction: 2,
    data: new Uint8Array(512),
    sense: new Uint8Array(96),
    done: (s: number) => done(s),
  } as unknown as ScsiTask;
}

describe("GatedDisk", () => {
  it("holds completions until released, in any order; ABORT and RESET release them", async () => {
    const d = new GatedDisk("d", 64);
    d.addNexus({ id: 1, name: "i1" });
    const got: number[] = [];
    const tur = [0, 0, 0, 0, 0, 0];
    for (let t = 1; t <= 4; t++) d.submit(task(t, tur, () => got.push(t)));
    expect(got).toEqual([]);
    expect(d.held.length).toBe(4);
    d.completeAt(2);
    expect(got).toEqual([3]);
    expect(await d.abortTask({ id: 1, name: "i1" }, 1)).toBe("complete");
    expect(got).toEqual([3, 1]);
    expect(await d.abortTask({ id: 1, name: "i1" }, 99)).toBe("not-found");
    await d.lunReset({ id: 1, name: "i1" });
    expect(got.sort()).toEqual([1, 2, 3, 4]);
    expect(d.held.length).toBe(0);
  });
});
