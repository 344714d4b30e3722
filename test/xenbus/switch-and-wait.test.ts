import { describe, expect, it } from "vitest";
import { XenstoreError } from "../../src/xen/errors.js";
import { vscsiBackendPath, vscsiFrontendPath } from "../../src/xenbus/paths.js";
import { XenbusState } from "../../src/xenbus/state.js";
import { switchState } from "../../src/xenbus/switch-state.js";
import { waitForState, watchState } from "../../src/xenbus/wait-state.js";
import { Xenstored } from "../../src/xenstore/xenstored.js";

function turns(n = 5): Promise<void> {
  return new Promise((resolve) => {
    let i = 0;
    const step = () => (++i >= n ? resolve() : setImmediate(step));
    setImmediate(step);
  });
}

describe("switch-state and wait-for-the-other-end", () => {
  const be = vscsiBackendPath(0, 1, 0);
  const fe = vscsiFrontendPath(1, 0);

  async function setup() {
    const xsd = new Xenstored();
    const toolstack = xsd.client(0);
    await toolstack.write(`${be}/state`, String(XenbusState.Initialising));
    await toolstack.write(`${fe}/state`, String(XenbusState.Initialising));
    return { xsd, toolstack, backend: xsd.client(0), frontend: xsd.client(0) };
  }

  it("switchState writes the state node, and skips writing the same state again", async () => {
    const { xsd, toolstack, backend } = await setup();
    const events: string[] = [];
    await toolstack.watch(`${be}/state`, (p) => events.push(p));
    expect(await switchState(backend, be, XenbusState.InitWait)).toBe(true);
    expect(await switchState(backend, be, XenbusState.InitWait)).toBe(false);
    await turns();
    expect(await toolstack.read(`${be}/state`)).toBe("2");
    expect(events).toHaveLength(2); // registration + one change
    xsd.close();
  });

  it("switchState refuses to recreate a removed device (ENOENT)", async () => {
    const { xsd, toolstack, backend } = await setup();
    await toolstack.rm(be);
    const err = await switchState(backend, be, XenbusState.Closed).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(XenstoreError);
    expect((err as XenstoreError).errno).toBe("ENOENT");
    expect(await toolstack.tryRead(`${be}/state`)).toBeUndefined();
    xsd.close();
  });

  it("waitForState resolves when the other end reaches one of the states, or at once if it has", async () => {
    const { xsd, backend, frontend } = await setup();
    const waiting = waitForState(backend, fe, [XenbusState.Initialised, XenbusState.Connected]);
    await switchState(frontend, fe, XenbusState.InitWait);
    await switchState(frontend, fe, XenbusState.Initialised);
    expect(await waiting).toBe(XenbusState.Initialised);
    expect(await waitForState(backend, fe, [XenbusState.Initialised])).toBe(XenbusState.Initialised);
    await turns();
    expect(backend.watchCount).toBe(0);
    xsd.close();
  });

  it("waitForState stops on abort and removes its watch", async () => {
    const { xsd, backend } = await setup();
    const ac = new AbortController();
    const waiting = waitForState(backend, fe, [XenbusState.Connected], { signal: ac.signal });
    await turns();
    ac.abort(new Error("device unplugged"));
    await expect(waiting).rejects.toThrow("device unplugged");
    await turns();
    expect(backend.watchCount).toBe(0);
    xsd.close();
  });

  it("watchState reports each state of the other end in order, Unknown when the node goes", async () => {
    const { xsd, toolstack, backend, frontend } = await setup();
    const seen: number[] = [];
    const h = await watchState(backend, fe, (s) => seen.push(s));
    for (const s of [XenbusState.InitWait, XenbusState.Initialised, XenbusState.Connected]) {
      await switchState(frontend, fe, s);
      await turns();
    }
    await toolstack.rm(fe);
    await turns();
    await h.unwatch();
    expect(seen).toEqual([1, 2, 3, 4, 0]);
    xsd.close();
  });
});
