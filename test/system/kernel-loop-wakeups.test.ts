import type { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { Hypervisor } from "../../src/hypervisor/index.js";
import { HostThreads } from "../../src/system/poll-budget.js";
import { spawnWorker } from "../../src/system/spawn-worker.js";
import type { LoopPeerData, LoopPeerResult } from "./fixtures/loop-peer-worker.js";

/**
 * The kernel loop between two real workers: every send is answered after a random delay (some
 * long, so the other end goes to sleep), with blocking and asynchronous sleeps, with and without
 * the adaptive spin. The loops have no idle timeout, so a lost wake-up is a hang, which the
 * test's own timeout turns into a failure; counts must match exactly.
 */
const TIMEOUT_MS = 60_000;

function setup() {
  const hv = new Hypervisor();
  const dom0 = hv.createDomain({ domid: 0, name: "dom0", frames: 1 });
  const guest = hv.createDomain({ name: "guest", frames: 1 });
  const back = hv.context(0);
  const front = hv.context(guest.domid);
  const fport = front.evtchn.allocUnbound(0);
  const bport = back.evtchn.bindInterdomain(guest.domid, fport);
  back.evtchn.collect(new Int32Array(back.evtchn.maxPorts));
  return { dom0, guest, fport, bport };
}

function start(data: LoopPeerData): { worker: Worker; result: Promise<LoopPeerResult> } {
  const worker = spawnWorker(import.meta.url, "./fixtures/loop-peer-worker", { workerData: data });
  const result = new Promise<LoopPeerResult>((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`worker exited (${code}) without reporting`)));
  });
  return { worker, result };
}

async function pingPong(
  opts: Pick<LoopPeerData, "rounds" | "maxDelayUs" | "longEvery" | "gcFrom"> & {
    readonly block: readonly [boolean, boolean];
    readonly spinCores: number | null;
  },
): Promise<[LoopPeerResult, LoopPeerResult]> {
  const { dom0, guest, fport, bport } = setup();
  const host = opts.spinCores === null ? null : HostThreads.create(opts.spinCores);
  host?.started(false);
  host?.started(false);
  const common = {
    rounds: opts.rounds,
    maxDelayUs: opts.maxDelayUs,
    longEvery: opts.longEvery,
    gcFrom: opts.gcFrom,
  };
  const a = start({
    ...common,
    self: guest,
    peers: [dom0],
    port: fport,
    pinger: true,
    seed: 0x9e3779b9,
    block: opts.block[0],
    hostThreads: host?.buffer ?? null,
  });
  const b = start({
    ...common,
    self: dom0,
    peers: [guest],
    port: bport,
    pinger: false,
    seed: 0x7f4a7c15,
    block: opts.block[1],
    hostThreads: host?.buffer ?? null,
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      Promise.all([a.result, b.result]),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("a wake-up was lost: the ping-pong hung")), TIMEOUT_MS);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    await Promise.all([a.worker.terminate(), b.worker.terminate()]);
  }
}

describe("the kernel loop's wake-ups across workers", () => {
  const cases: Array<{ name: string; block: [boolean, boolean]; spinCores: number | null }> = [
    { name: "blocking against blocking, no spin", block: [true, true], spinCores: null },
    { name: "blocking against blocking, adaptive spin", block: [true, true], spinCores: 64 },
    { name: "blocking against waitAsync, adaptive spin", block: [true, false], spinCores: 64 },
    {
      name: "waitAsync against waitAsync, spin off (oversubscribed host)",
      block: [false, false],
      spinCores: 1,
    },
  ];
  for (const c of cases) {
    it(`${c.name}: every send arrives, none is lost`, { timeout: TIMEOUT_MS + 10_000 }, async () => {
      const rounds = 3000;
      const [ping, pong] = await pingPong({
        rounds,
        maxDelayUs: 30,
        longEvery: 16,
        gcFrom: 1,
        block: c.block,
        spinCores: c.spinCores,
      });
      expect(ping.received).toBe(rounds);
      expect(pong.received).toBe(rounds);
      expect(ping.sent).toBe(rounds);
      expect(pong.sent).toBe(rounds);
    });
  }

  it("a blocking loop allocates nothing per sleep: GCs stay bounded over many round trips, where waitAsync's promise per sleep shows", {
    timeout: 2 * TIMEOUT_MS,
  }, async () => {
    const rounds = 40_000;
    const common = { rounds, maxDelayUs: 0, longEvery: 0, gcFrom: 2000, spinCores: null };
    const [bPing, bPong] = await pingPong({ ...common, block: [true, true] });
    expect(bPing.received).toBe(rounds);
    expect(bPong.received).toBe(rounds);
    // Both ends sleep on nearly every round trip; a few GCs may come from the runtime itself.
    expect(bPing.gcs + bPong.gcs, `GCs over ${bPing.gcRounds} blocking round trips`).toBeLessThanOrEqual(2);
    const [aPing, aPong] = await pingPong({ ...common, block: [false, false] });
    expect(aPing.received).toBe(rounds);
    // The check can fail: the same run with a promise per sleep collects garbage.
    expect(aPing.gcs + aPong.gcs, "GCs with waitAsync").toBeGreaterThan(bPing.gcs + bPong.gcs + 4);
  });
});
