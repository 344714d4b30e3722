import { once } from "node:events";
import { expect, it } from "vitest";
import { GNTST_bad_domain } from "../../src/grant/index.js";
import { Hypervisor } from "../../src/hypervisor/index.js";
import { spawnWorker } from "../../src/system/spawn-worker.js";
import { expectNoLeaks } from "../_support/domains.js";
import type { MainToWorkerMessage, WorkerToMainMessage } from "./fixtures/late-peer-protocol.js";

it("a dom0 worker started first maps a guest created later, once told of it by control message", async () => {
  const hv = new Hypervisor();
  const dom0 = hv.createDomain({ domid: 0, name: "dom0", frames: 4 });
  const w = spawnWorker(import.meta.url, "./fixtures/late-peer-worker", { workerData: dom0 });
  try {
    const guest = hv.createDomain({ name: "late", frames: 4 });
    const g = hv.context(guest.domid);
    const frame = g.frames.alloc();
    g.page(frame).set([1, 2, 3, 4]);
    const ref = g.grants.grantAccess(0, frame, true);
    const ask = async (msg: MainToWorkerMessage): Promise<WorkerToMainMessage> => {
      w.postMessage(msg);
      return (await once(w, "message"))[0] as WorkerToMainMessage;
    };
    expect(await ask({ kind: "map", domid: guest.domid, ref })).toEqual({
      kind: "mapped",
      status: GNTST_bad_domain,
      firstBytes: [],
    });
    expect(await ask({ kind: "introduce", handle: guest })).toEqual({
      kind: "introduced",
      domid: guest.domid,
    });
    expect(await ask({ kind: "map", domid: guest.domid, ref })).toEqual({
      kind: "mapped",
      status: 0,
      firstBytes: [1, 2, 3, 4],
    });
    expect(g.grants.endAccess(ref)).toBe(true);
    expectNoLeaks(hv);
  } finally {
    await w.terminate();
  }
});
