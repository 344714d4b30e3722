import { describe, expect, it } from "vitest";
import type { ParamPolicy } from "../../src/iscsi/keys.js";
import { DEFAULT_POLICY } from "../../src/iscsi/keys.js";
import { TMF_ABORT_TASK, TMF_LOGICAL_UNIT_RESET } from "../../src/iscsi/target.js";
import { ramDisk } from "../targets/_support/devices.js";
import { Wire } from "./_wire.js";

const TUR = [0, 0, 0, 0, 0, 0];
const read10 = (lba: number, blocks: number) => [0x28, 0, 0, 0, lba >> 8, lba & 0xff, 0, 0, blocks, 0];
const write10 = (lba: number, blocks: number) => [0x2a, 0, 0, 0, lba >> 8, lba & 0xff, 0, 0, blocks, 0];
const pattern = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);

async function ready(w: Wire) {
  await w.login();
  // The first command of a session meets the power-on unit attention.
  const r = await w.run({ lun: 0, cdb: TUR });
  expect(r.status).toBe(2);
  expect([r.sense[2]! & 0xf, r.sense[12]]).toEqual([6, 0x29]);
  expect((await w.run({ lun: 0, cdb: TUR })).status).toBe(0);
}

describe("initiator and target machines against each other", () => {
  it("log in: the target assigns a TSIH and both sides agree on the parameters", async () => {
    const w = new Wire(ramDisk());
    await w.login();
    expect(w.initiator.sessionHandle).toBe(0x100);
    expect(w.target.phase).toBe("full-feature");
    expect(w.target.initiatorName).toBe("iqn.2026-12.test.pvscsi:initiator");
    expect(w.initiator.params.maxXmitDataSegmentLength).toBe(w.target.params.maxRecvDataSegmentLength);
    expect(w.target.params.maxXmitDataSegmentLength).toBe(w.initiator.params.maxRecvDataSegmentLength);
    for (const k of [
      "initialR2T",
      "immediateData",
      "maxBurstLength",
      "firstBurstLength",
      "headerDigest",
      "dataDigest",
    ] as const)
      expect(w.initiator.params[k]).toBe(w.target.params[k]);
  });

  it("a wrong target name fails login with 0x0203 and closes both ends", async () => {
    const w = new Wire(ramDisk(), { targetName: "iqn.2026-12.nowhere:x" });
    w.initiator.start();
    await w.settle();
    expect(w.initiator.failure).toMatch(/0x0203 \(target not found\)/);
    expect(w.closedBy.target).toMatch(/unknown target/);
    expect(w.initiator.phase).toBe("closed");
  });

  it("an ACL refuses an initiator with 0x0202", async () => {
    const w = new Wire(ramDisk());
    (w.target as unknown as { handler: { authorize: (n: string) => boolean } }).handler.authorize = (n) =>
      n.endsWith(":allowed");
    w.initiator.start();
    await w.settle();
    expect(w.initiator.failure).toMatch(/0x0202/);
  });

  it("discovery: SendTargets=All lists the target and its portal", async () => {
    const w = new Wire(ramDisk(), { targetName: undefined });
    await w.login();
    let got: unknown;
    w.initiator.sendTargets("All", (t) => {
      got = t;
    });
    await w.settle();
    expect(got).toEqual([{ name: "iqn.2026-12.test.pvscsi:disk", addresses: ["127.0.0.1:3260,1"] }]);
    // A discovery session carries no SCSI commands.
    const r = await w.run({ lun: 0, cdb: TUR });
    expect(r.error).toMatch(/rejected/);
  });

  const policies: [string, Partial<ParamPolicy>, Partial<ParamPolicy>][] = [
    ["defaults", {}, {}],
    [
      "InitialR2T=Yes, 512-byte segments, 4 KiB bursts",
      { initialR2T: true, maxRecvDataSegmentLength: 512 },
      { maxBurstLength: 4096, firstBurstLength: 1024, maxRecvDataSegmentLength: 512 },
    ],
    [
      "ImmediateData=No, unsolicited Data-Out only",
      { immediateData: false, initialR2T: false },
      { firstBurstLength: 8192 },
    ],
    ["CRC32C header and data digests", { headerDigest: ["CRC32C"], dataDigest: ["CRC32C"] }, {}],
  ];
  for (const [name, ip, tp] of policies) {
    it(`writes and reads back 64 KiB (${name})`, async () => {
      const w = new Wire(
        ramDisk(),
        { policy: { ...DEFAULT_POLICY, ...ip } },
        { policy: { ...DEFAULT_POLICY, ...tp } },
      );
      await ready(w);
      const data = pattern(65536, 3);
      const wr = await w.run({ lun: 0, cdb: write10(10, 128), dataOut: data });
      expect(wr).toMatchObject({ status: 0, residual: 0, response: 0 });
      const rd = await w.run({ lun: 0, cdb: read10(10, 128), inLength: 65536 });
      expect(rd.status).toBe(0);
      expect(Buffer.from(rd.data).equals(Buffer.from(data))).toBe(true);
      expect(w.target.tasksInFlight).toBe(0);
      expect(w.initiator.outstanding).toBe(0);
    });
  }

  it("CHECK CONDITION carries the sense and no data; a missing LUN is 05/25/00", async () => {
    const w = new Wire(ramDisk(64));
    await ready(w);
    const r = await w.run({ lun: 0, cdb: read10(63, 2), inLength: 1024 });
    expect(r.status).toBe(2);
    expect([r.sense[2]! & 0xf, r.sense[12], r.sense[13]]).toEqual([5, 0x21, 0]);
    expect(r.data.length).toBe(0);
    expect(r).toMatchObject({ residual: 1024, overflow: false });
    const n = await w.run({ lun: 7, cdb: TUR });
    expect([n.status, n.sense[12]]).toEqual([2, 0x25]);
  });

  it("residual underflow on a short read; a 32-byte CDB travels in an AHS", async () => {
    const w = new Wire(ramDisk());
    await ready(w);
    const r = await w.run({ lun: 0, cdb: read10(0, 1), inLength: 1024 });
    expect(r).toMatchObject({ status: 0, residual: 512, overflow: false });
    expect(r.data.length).toBe(512);
    const long = new Array(32).fill(0);
    long[0] = 0x7f; // variable-length CDB: the disk answers 05/20/00 (or 05/24/00), and the CDB arrived whole
    await w.run({ lun: 0, cdb: long });
    expect(w.executed.at(-1)!.cdb.length).toBe(32);
  });

  it("the CmdSN window: a window of 2 holds the rest, and all 20 commands complete in order", async () => {
    const w = new Wire(ramDisk(), {}, { window: 2 });
    await ready(w);
    const done: number[] = [];
    for (let i = 0; i < 20; i++)
      w.initiator.command({ lun: 0, cdb: read10(i, 1), inLength: 512 }, (r) =>
        done.push(r.status === 0 ? i : -1),
      );
    await w.settle();
    expect(done).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it("NOP both ways: the initiator's ping is echoed; the target's ping is answered silently", async () => {
    const w = new Wire(ramDisk());
    await w.login();
    let echo: Uint8Array | null = null;
    w.initiator.nop(Uint8Array.of(1, 2, 3), (e) => {
      echo = e;
    });
    await w.settle();
    expect([...(echo ?? [])]).toEqual([1, 2, 3]);
    w.target.ping();
    await w.settle();
    expect(w.closedBy).toEqual({});
    expect(w.toTarget.length + w.toInitiator.length).toBe(0);
  });

  it("ABORT TASK: the aborted command gets no status; a late completion is dropped; unknown tasks get 1", async () => {
    const w = new Wire(ramDisk());
    await ready(w);
    w.park = [];
    let result: unknown = null;
    const itt = w.initiator.command({ lun: 0, cdb: read10(0, 1), inLength: 512 }, (r) => {
      result = r;
    });
    await w.settle();
    expect(w.park.length).toBe(1);
    let rsp: number | null = null;
    w.initiator.taskManagement(TMF_ABORT_TASK, 0, itt, (r) => {
      rsp = r;
    });
    await w.settle();
    expect(rsp).toBe(0);
    expect(result).toMatchObject({ error: "aborted" });
    expect(w.tmfs[0]!.task).toBe(w.park[0]);
    w.target.complete(w.park[0]!, { status: 0, data: new Uint8Array(512) });
    await w.settle();
    expect(w.toInitiator.length).toBe(0);
    w.initiator.taskManagement(TMF_ABORT_TASK, 0, 0x4444, (r) => {
      rsp = r;
    });
    await w.settle();
    expect(rsp).toBe(1);
  });

  it("LOGICAL UNIT RESET aborts every task of the LUN", async () => {
    const w = new Wire(ramDisk());
    await ready(w);
    w.park = [];
    const results: unknown[] = [];
    for (let i = 0; i < 3; i++) w.initiator.command({ lun: 0, cdb: TUR }, (r) => results.push(r.error));
    await w.settle();
    let rsp: number | null = null;
    w.initiator.taskManagement(TMF_LOGICAL_UNIT_RESET, 0, 0, (r) => {
      rsp = r;
    });
    await w.settle();
    expect(rsp).toBe(0);
    expect(results).toEqual(["aborted", "aborted", "aborted"]);
    expect(w.tmfs[0]!.aborted.length).toBe(3);
  });

  it("logout closes both ends; commands after it fail without a status", async () => {
    const w = new Wire(ramDisk());
    await w.login();
    let rsp: number | null = null;
    w.initiator.logout((r) => {
      rsp = r;
    });
    await w.settle();
    expect(rsp).toBe(0);
    expect(w.closedBy).toEqual({ initiator: "logged out", target: "logout" });
    const r = await w.run({ lun: 0, cdb: TUR });
    expect(r.error).toBe("session closed");
  });

  it("connection loss fails every outstanding command", async () => {
    const w = new Wire(ramDisk());
    await ready(w);
    w.park = [];
    const errs: unknown[] = [];
    w.initiator.command({ lun: 0, cdb: TUR }, (r) => errs.push(r.error));
    await w.settle();
    w.initiator.closed("connection reset");
    expect(errs).toEqual(["connection reset"]);
  });
});
