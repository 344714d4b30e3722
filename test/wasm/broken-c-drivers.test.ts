import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalSystem } from "../../src/system/single-thread.js";
import { Host } from "../../src/toolstack/host.js";
import { XEN_HEADERS } from "../_support/cc.js";
import { requireSystem } from "../_support/system.js";
import { buildScsifront, CLANG19, LLD19 } from "../_support/wasm.js";

/**
 * Deliberately broken builds of examples/c/scsifront.c (-DBREAK_<X>), each as a guest's kernel in
 * the single-thread system: the module is stopped (a trap, an access past its memory) or the
 * protocol checker reports what it did, which request and which rule; the emulator survives, and
 * a correct driver created afterwards still passes its self-test.
 */
const ok = requireSystem(CLANG19, LLD19, XEN_HEADERS);
let sys: LocalSystem;
let host: Host;
let n = 0;

beforeAll(async () => {
  if (!ok) return;
  const dir = mkdtempSync(join(tmpdir(), "pvscsi-wasm-broken-"));
  sys = await LocalSystem.start({
    hostConfig: { text: "[disk 1:0:0:0]\nsize = 8M\n", source: "dom0.conf", baseDir: dir },
  });
  host = new Host(sys, { stateTimeoutMs: 1500 });
});
afterAll(async () => {
  if (sys) await sys.run(host.shutdown());
});

/** Run one build as a guest until `done` matches its log (or a bounded number of passes); destroy it. */
async function runVariant(broken: string | undefined, done: RegExp): Promise<string> {
  const { path } = buildScsifront(broken);
  const name = `c${++n}`;
  await sys.run(
    host.create(
      `name = "${name}"\nmemory = 16\nkernel = "${path}"\nvscsi = [ '/dev/sda,0:0:0:0' ]\n`,
      `${name}.cfg`,
    ),
  );
  let log = "";
  for (let i = 0; i < 100 && !done.test(log); i++) {
    await sys.settle();
    log = (await sys.run(host.guestCommand(name, ["dmesg"]))).stdout;
  }
  await sys.run(host.destroy(name));
  return log;
}

describe.runIf(ok)("broken C drivers are stopped or reported, never crash the emulator", () => {
  it("a trap (unreachable) stops the module with the wasm stack", async () => {
    const log = await runVariant("TRAP", /kernel stopped/);
    expect(log).toMatch(/kernel stopped: dom\d+: the module trapped: unreachable/);
    expect(log).toMatch(/wasm/);
  });

  it("a write past the domain's memory stops the module", async () => {
    const log = await runVariant("OOB", /kernel stopped/);
    expect(log).toMatch(/kernel stopped: dom\d+: the module trapped: memory access out of bounds/);
  });

  it("reusing an rqid in flight is reported with the request", async () => {
    const log = await runVariant("RQID_REUSE", /protocol violation/);
    expect(log).toMatch(
      /protocol violation: rqid-in-flight: request at ring index 1 \(CDB\) reuses rqid 0, still in flight since index 0/,
    );
  });

  it("pushing past the ring is reported", async () => {
    const log = await runVariant("RING_OVERFLOW", /ring-overflow/);
    expect(log).toMatch(
      /protocol violation: ring-overflow: req_prod 17 is 17 requests ahead of rsp_prod 0, but the ring has 16 slots/,
    );
  });

  it("forgetting the event req_event asked for is reported", async () => {
    const log = await runVariant("NO_NOTIFY", /missing-notify/);
    expect(log).toMatch(
      /protocol violation: missing-notify: pushed requests 0\.\.0 past req_event 1 without an event/,
    );
  });

  it("ending a grant the backend still maps is reported (XSA-396 try-semantics)", async () => {
    const log = await runVariant("END_MAPPED", /end-while-mapped/);
    expect(log).toMatch(/protocol violation: end-while-mapped: ended grant ref 8 while dom0 still maps it/);
    expect(log).toContain("(broken) ended the ring grant the backend maps");
  });

  it("a read-only grant for data the device writes is reported, and the backend answers with an error", async () => {
    const log = await runVariant("GRANT_RO", /grant-not-usable/);
    expect(log).toMatch(
      /protocol violation: grant-not-usable: request rqid 0 \(0x12 segment 0\): gref \d+ is read-only, but the device writes into it/,
    );
    // scsiback cannot map it writable: the command fails with an error, not a crash.
    expect(log).toMatch(/FAIL: INQUIRY: rslt 0x[0-9a-f]+/);
  });

  it("after all of them, a correct driver still passes its self-test and the machine is clean", async () => {
    const log = await runVariant(undefined, /self-test passed|FAIL/);
    expect(log).toContain("self-test passed");
    expect(log).not.toContain("protocol violation");
    expect(host.list().map((d) => d.name)).toEqual(["Domain-0"]);
  });
});
