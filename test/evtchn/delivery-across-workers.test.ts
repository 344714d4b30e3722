import type { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { type DomainHandle, Hypervisor } from "../../src/hypervisor/index.js";
import { spawnWorker } from "../../src/system/spawn-worker.js";
import { expectNoLeaks } from "../_support/domains.js";
import {
  C_FIRST_COUNTER,
  C_GO,
  type EventWorkerData,
  type EventWorkerToMainMessage,
  type WaitMode,
} from "./fixtures/event-protocol.js";

/**
 * Events between real worker threads, in each of the three ways to wait. Invariants only: every
 * wake-up owed arrives (a lost one shows as a wait that outlasts a generous timeout while work is
 * published), and several sends before the receiver looks are one event.
 */
describe("event delivery across worker threads", () => {
  const TIMEOUT_MS = 10_000;

  function worker(data: Omit<EventWorkerData, "timeoutMs">): Worker {
    return spawnWorker(import.meta.url, "./fixtures/event-worker", {
      workerData: { ...data, timeoutMs: TIMEOUT_MS } satisfies EventWorkerData,
    });
  }

  function result(w: Worker): Promise<Record<string, number>> {
    return new Promise((resolve, reject) => {
      w.once("message", (msg: EventWorkerToMainMessage) =>
        msg.kind === "done" ? resolve(msg.stats) : reject(new Error(msg.message)),
      );
      w.once("error", reject);
      w.once("exit", (code) => reject(new Error(`worker exited (${code}) without reporting`)));
    });
  }

  async function all(workers: Worker[]): Promise<Array<Record<string, number>>> {
    try {
      return await Promise.all(workers.map(result));
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
  }

  /** dom0 and `guests` guests; one interdomain channel from each guest to dom0. */
  function setup(guests: number) {
    const hv = new Hypervisor();
    const dom0 = hv.createDomain({ domid: 0, name: "dom0", frames: 1 });
    const back = hv.context(0);
    const channels = Array.from({ length: guests }, (_, i) => {
      const handle = hv.createDomain({ name: `guest${i}`, frames: 1 });
      const front = hv.context(handle.domid);
      back.introducePeer(handle);
      const fport = front.evtchn.allocUnbound(0);
      const bport = back.evtchn.bindInterdomain(handle.domid, fport);
      expect(Math.min(fport, bport)).toBeGreaterThan(0);
      return { handle, front, fport, bport };
    });
    const peersOf = (h: DomainHandle) => [dom0, ...channels.map((c) => c.handle)].filter((p) => p !== h);
    const close = () => {
      for (const c of channels) {
        expect(c.front.evtchn.close(c.fport)).toBe(0);
        expect(back.evtchn.close(c.bport)).toBe(0);
      }
      expectNoLeaks(hv);
    };
    return { hv, dom0, back, channels, peersOf, close };
  }

  const base = { port: 0, ports: [], counters: [], counter: 0, peerCounter: 0, rounds: 0 };

  for (const [pingMode, pongMode] of [
    ["blocking", "blocking"],
    ["async", "async"],
    ["poll", "poll"],
    ["blocking", "async"],
  ] as Array<[WaitMode, WaitMode]>) {
    it(`ping-pong, ${pingMode} against ${pongMode}: no wake-up is ever lost`, async () => {
      const { dom0, channels, peersOf, close } = setup(1);
      const c = channels[0]!;
      const control = new SharedArrayBuffer(16);
      const rounds = pingMode === "poll" ? 500 : 5000;
      const stats = await all([
        worker({
          ...base,
          role: "ping",
          mode: pingMode,
          self: c.handle,
          peers: peersOf(c.handle),
          control,
          port: c.fport,
          counter: C_FIRST_COUNTER,
          peerCounter: C_FIRST_COUNTER + 1,
          rounds,
        }),
        worker({
          ...base,
          role: "pong",
          mode: pongMode,
          self: dom0,
          peers: peersOf(dom0),
          control,
          port: c.bport,
          counter: C_FIRST_COUNTER + 1,
          peerCounter: C_FIRST_COUNTER,
          rounds,
        }),
      ]);
      for (const s of stats)
        expect({ lost: s.lostWakeup ?? 0, failed: s.sendFailed ?? 0 }).toEqual({ lost: 0, failed: 0 });
      const counts = new Int32Array(control);
      expect([counts[C_FIRST_COUNTER], counts[C_FIRST_COUNTER + 1]]).toEqual([rounds, rounds]);
      close();
    });
  }

  for (const mode of ["blocking", "async", "poll"] as WaitMode[]) {
    it(`three senders flooding one ${mode} receiver: every final count arrives, events coalesce`, async () => {
      const { dom0, channels, peersOf, close } = setup(3);
      const control = new SharedArrayBuffer((C_FIRST_COUNTER + 3) * 4);
      const rounds = 20_000;
      const receiver = worker({
        ...base,
        role: "receive",
        mode,
        self: dom0,
        peers: peersOf(dom0),
        control,
        ports: channels.map((c) => c.bport),
        counters: channels.map((_, i) => C_FIRST_COUNTER + i),
        rounds,
      });
      const senders = channels.map((c, i) =>
        worker({
          ...base,
          role: "send",
          mode,
          self: c.handle,
          peers: peersOf(c.handle),
          control,
          port: c.fport,
          counter: C_FIRST_COUNTER + i,
          rounds,
        }),
      );
      const [r, ...s] = await all([receiver, ...senders]);
      expect({ lost: r!.lostWakeup ?? 0, bad: r!.badEventCount ?? 0, foreign: r!.foreignPort ?? 0 }).toEqual({
        lost: 0,
        bad: 0,
        foreign: 0,
      });
      for (const x of s) expect(x.sendFailed ?? 0).toBe(0);
      // Each event stands for at least one send (plus the one a bind sets pending).
      expect(r!.events).toBeLessThanOrEqual(3 * rounds + 3);
      close();
    });
  }

  it("a thousand sends while the receiver is not looking are one event", async () => {
    const { dom0, back, channels, peersOf, close } = setup(1);
    const c = channels[0]!;
    const control = new SharedArrayBuffer(8);
    // Drop the pending bit the bind set, so only the burst counts.
    back.evtchn.clearPending(c.bport);
    const receiver = worker({
      ...base,
      role: "burst-receive",
      mode: "poll",
      self: dom0,
      peers: peersOf(dom0),
      control,
    });
    for (let i = 0; i < 1000; i++) expect(c.front.evtchn.send(c.fport)).toBe(0);
    Atomics.store(new Int32Array(control), C_GO, 1);
    Atomics.notify(new Int32Array(control), C_GO);
    const [stats] = await all([receiver]);
    expect({ first: stats!.firstCollect, second: stats!.secondCollect ?? 0 }).toEqual({
      first: 1,
      second: 0,
    });
    close();
  });
});
