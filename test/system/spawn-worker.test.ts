import { once } from "node:events";
import { expect, it } from "vitest";
import { spawnWorker } from "../../src/system/spawn-worker.js";

it("starts a TypeScript worker that imports TypeScript sources", async () => {
  const w = spawnWorker(import.meta.url, "./fixtures/echo-worker", { workerData: 42 });
  const [msg] = await once(w, "message");
  expect(msg).toEqual({ echo: 42, ring: 16 });
  await w.terminate();
});
