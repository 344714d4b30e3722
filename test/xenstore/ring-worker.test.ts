import { once } from "node:events";
import { expect, it } from "vitest";
import { spawnWorker } from "../../src/system/spawn-worker.js";
import { XenstoreRingPage } from "../../src/xenstore/ring-page.js";
import { Xenstored } from "../../src/xenstore/xenstored.js";
import { Doorbell } from "./_doorbell.js";

/**
 * A guest in a real worker thread reaches xenstored in the main thread through its ring page and
 * an Atomics-based doorbell standing in for the event channel.
 */
it("a guest worker talks to xenstored over its ring page", async () => {
  const xsd = new Xenstored();
  const dom0 = xsd.client(0);
  const fe = "/local/domain/5/device/vscsi/0";
  await dom0.mkdir("/local/domain/5");
  await dom0.setPerms("/local/domain/5", ["n5"]);
  await dom0.write(`${fe}/state`, "1");
  await dom0.write("/local/domain/0/secret", "dom0 only");

  const page = XenstoreRingPage.allocate();
  const bells = Doorbell.memory();
  const cells = new Int32Array(bells);
  const fromGuest = new Doorbell(cells, 0);
  const toGuest = new Doorbell(cells, 1);
  const ring = xsd.attachRing(5, page, () => toGuest.ring());
  fromGuest.listen(() => ring.onEvent());

  const worker = spawnWorker(import.meta.url, "./fixtures/guest-worker", {
    workerData: { page: page.buffer, bells },
  });
  const messages: { kind: string; log?: string[] }[] = [];
  const done = new Promise<string[]>((resolve, reject) => {
    worker.on("error", reject);
    worker.on("message", async (m: { kind: string; log?: string[] }) => {
      messages.push(m);
      if (m.kind === "initialised") {
        // The guest's transaction committed: the backend side answers by connecting.
        expect(await dom0.read(`${fe}/ring-ref`)).toBe("43");
        expect(await dom0.read(`${fe}/event-channel`)).toBe("20");
        await dom0.write(`${fe}/state`, "4");
      }
      if (m.kind === "done") resolve(m.log!);
    });
  });
  const log = await done;
  await once(worker, "exit");
  fromGuest.stop();
  expect(log[0]).toBe("state 1");
  expect(log[1]).toBe("dom0 secret EACCES");
  expect(log).toContain("event device/vscsi/0/state 4");
  expect(messages.map((m) => m.kind)).toEqual(["initialised", "done"]);
  ring.close();
  dom0.close();
  xsd.close();
  expect(xsd.db.stats()).toMatchObject({ connections: 0, watches: 0, transactions: 0 });
});
