import type { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { GTF_reading, GTF_writing } from "../../src/grant/index.js";
import { Hypervisor } from "../../src/hypervisor/index.js";
import { spawnWorker } from "../../src/system/spawn-worker.js";
import { expectNoLeaks } from "../_support/domains.js";
import {
  C_ENDED,
  C_FLIPPED,
  C_REFUSED,
  C_SLOTS,
  C_STOP,
  type RaceWorkerData,
  type RaceWorkerToMainMessage,
} from "./fixtures/grant-race-protocol.js";

/**
 * Real threads racing on one guest's grants: dom0 mappers map, copy and unmap while the guest
 * revokes and re-grants (and, in one test, flips GTF_readonly under them). Invariants, not timings:
 * a mapper never sees its grant lose GTF_reading/GTF_writing while it holds it, revocation never
 * succeeds while a mapping is held, every status is one Xen gives, and nothing is left behind.
 */
describe("grant map, unmap and revocation racing across worker threads", () => {
  async function race(opts: {
    slots: number;
    mappers: number;
    iterations: number;
    flipper: boolean;
    /** Events (control counters) the mappers keep racing until they have happened. */
    require?: readonly number[];
  }) {
    const workerCount = 1 + (opts.flipper ? 1 : 0) + opts.mappers;
    const require = [C_ENDED, ...(opts.flipper ? [C_FLIPPED] : []), ...(opts.require ?? [])];
    const hv = new Hypervisor();
    const dom0 = hv.createDomain({ domid: 0, name: "dom0", frames: 8 });
    const guest = hv.createDomain({ name: "guest", frames: 16 });
    const g = hv.context(guest.domid);
    const control = new SharedArrayBuffer((C_SLOTS + opts.slots) * 4);
    const c = new Int32Array(control);
    for (let s = 0; s < opts.slots; s++) c[C_SLOTS + s] = g.grants.grantAccess(0, s, false);

    const start = (
      role: RaceWorkerData["role"],
      seed: number,
      self = role === "mapper" ? dom0 : guest,
    ): Worker =>
      spawnWorker(import.meta.url, "./fixtures/grant-race-worker", {
        workerData: {
          role,
          self,
          peers: [dom0, guest].filter((p) => p !== self),
          control,
          slots: opts.slots,
          workers: workerCount,
          require,
          iterations: opts.iterations,
          seed,
        } satisfies RaceWorkerData,
      });
    const result = (w: Worker): Promise<Record<string, number>> =>
      new Promise((resolve, reject) => {
        w.once("message", (msg: RaceWorkerToMainMessage) =>
          msg.kind === "done" ? resolve(msg.stats) : reject(new Error(msg.message)),
        );
        w.once("error", reject);
        w.once("exit", (code) => reject(new Error(`worker exited (${code}) without reporting`)));
      });

    const granter = start("granter", 7);
    const flipper = opts.flipper ? start("flipper", 11) : null;
    const mappers = Array.from({ length: opts.mappers }, (_, i) => start("mapper", 100 + i));
    const workers = [granter, ...(flipper ? [flipper] : []), ...mappers];
    let mapperStats: Array<Record<string, number>>;
    let granterStats: Record<string, number>;
    let flipperStats: Record<string, number>;
    // Listen from the start: a worker that finishes before we await it must not lose its report.
    const granterResult = result(granter);
    const flipperResult = flipper ? result(flipper) : Promise.resolve({});
    const mapperResults = mappers.map(result);
    // If one fails first, the others' later rejections are noise: the test has already failed.
    for (const r of [granterResult, flipperResult, ...mapperResults]) r.catch(() => {});
    try {
      mapperStats = await Promise.all(mapperResults);
      Atomics.store(c, C_STOP, 1);
      granterStats = await granterResult;
      flipperStats = await flipperResult;
    } finally {
      Atomics.store(c, C_STOP, 1);
      await Promise.all(workers.map((w) => w.terminate()));
    }

    const all: Record<string, number> = {};
    for (const s of [...mapperStats, granterStats, flipperStats]) {
      for (const [k, v] of Object.entries(s)) all[k] = (all[k] ?? 0) + v;
    }
    // Nothing a Xen mapper cannot see, and every invariant held.
    expect(Object.keys(all).filter((k) => k.startsWith("violation") || k.startsWith("unexpected"))).toEqual(
      [],
    );
    expect(Object.keys(all).filter((k) => k.startsWith("copyStatus"))).toEqual([]);
    // The race was real: maps and revocations both happened, and revocation was refused sometimes.
    expect((all.mappedRo ?? 0) + (all.mappedRw ?? 0)).toBeGreaterThan(0);
    expect(all.ended ?? 0).toBeGreaterThan(0);

    // No torn state: no pins, no mappings, and no entry still flagged in use.
    expect(hv.report(guest.domid).mappedGrants).toEqual([]);
    expect(hv.report(0).heldMappings).toEqual([]);
    for (let s = 0; s < opts.slots; s++) {
      const ref = c[C_SLOTS + s]!;
      expect(g.grants.flags(ref) & (GTF_reading | GTF_writing)).toBe(0);
      expect(g.grants.endAccess(ref)).toBe(true);
    }
    expectNoLeaks(hv);
    if (process.env.RACE_STATS) console.log(JSON.stringify(all));
    return all;
  }

  it("many slots: maps, copies and unmaps race with revocation and re-granting", async () => {
    const all = await race({ slots: 8, mappers: 3, iterations: 20_000, flipper: false });
    expect((all.copied ?? 0) + (all.copyRefused ?? 0)).toBeGreaterThan(0);
  });

  it("one slot, every mapper on it: revocation never succeeds while a mapper holds it", async () => {
    const all = await race({
      slots: 1,
      mappers: 3,
      iterations: 20_000,
      flipper: false,
      require: [C_REFUSED],
    });
    expect(all.endRefusedWhileMapped ?? 0).toBeGreaterThan(0);
  });

  it("a hostile guest flipping GTF_readonly cannot make a mapper hang, throw or lose a flag", async () => {
    const all = await race({ slots: 4, mappers: 2, iterations: 20_000, flipper: true });
    expect(all.flipped ?? 0).toBeGreaterThan(0);
  });
});
