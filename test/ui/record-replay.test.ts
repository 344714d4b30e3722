import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LiveView } from "../../src/ui/live-view.js";
import type { Snapshot } from "../../src/ui/observer.js";
import { parseRecording, serveLiveView, type UiServer } from "../../src/ui/server.js";

/**
 * Record a session in the live view (reads, a stalled backend, single steps, an ABORT) and replay
 * it on a fresh machine: the single-thread system runs the same core actions in the same order,
 * so the ring, the notifications and the step count come out the same.
 */
let server: UiServer;
beforeAll(async () => {
  server = await serveLiveView(await LiveView.start(), 0);
}, 60_000);
afterAll(async () => {
  await server?.close();
  await server?.view.close();
});

const post = (path: string, body: unknown) =>
  fetch(`${server.url}${path}`, {
    method: "POST",
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
const control = async (c: unknown): Promise<Snapshot> =>
  (await (await post("api/control", c)).json()) as Snapshot;
const essence = (s: Snapshot) => ({ steps: s.steps, ring: s.ring, notify: s.notifyCounts, grants: s.grants });

describe("record and replay", () => {
  it("replays a session step for step on a fresh machine", async () => {
    await control({ action: "stall", on: true });
    await control({ action: "reads", count: 24, depth: 16 });
    await control({ action: "step", count: 3 });
    const mid = await control({ action: "abort", rqid: 2 });
    expect(mid.log.at(-1)).toMatch(/ABORT of rqid 2/);
    await control({ action: "stall", on: false });
    const before = await control({ action: "step", count: 9 });
    const rec = (await (await fetch(`${server.url}api/recording`)).json()) as {
      entries: unknown[];
      steps: number;
    };
    expect(rec.entries).toHaveLength(4);
    expect(rec.steps).toBe(before.steps);

    const old = server.view;
    const after = await control({ action: "replay" });
    expect(server.view).not.toBe(old);
    expect(essence(after)).toEqual(essence(before));
    expect(after.log.at(-1)).toMatch(/replayed a recording: 4 controls/);

    // The same recording, as a file would bring it.
    const again = (await (await post("api/replay", rec)).json()) as Snapshot;
    expect(essence(again)).toEqual(essence(before));
  }, 60_000);

  it("refuses a recording that is not one", async () => {
    expect(parseRecording("{")).toBe("the recording is not JSON");
    expect(parseRecording('{"version":2,"entries":[]}')).toMatch(/not a pvscsi ui recording/);
    expect(
      parseRecording('{"version":1,"steps":3,"entries":[{"atStep":2,"control":{"action":"bogus"}}]}'),
    ).toMatch(/entry 0: unknown action/);
    expect(
      parseRecording(
        '{"version":1,"steps":3,"entries":[{"atStep":2,"control":{"action":"wrap"}},{"atStep":1,"control":{"action":"wrap"}}]}',
      ),
    ).toMatch(/entry 1: atStep/);
    const r = await post("api/replay", '{"version":1}');
    expect(r.status).toBe(400);
  });
});
