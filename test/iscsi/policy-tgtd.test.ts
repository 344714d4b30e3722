import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DataBuffer } from "../../src/scsi/data-buffer.js";
import {
  MUNGING_POLICIES,
  type MungingPolicy,
  PVOPS_POLICY,
  XENLINUX_POLICY,
} from "../../src/scsiback/policy.js";
import { GuestScsiHost, type ScsiRequest, type ScsiResult } from "../../src/scsifront/scsi-host.js";
import { IscsiInitiatorDevice } from "../../src/targets/iscsi-initiator-device.js";
import { Pair } from "../../src/testing/pair.js";
import { requireSystem } from "../_support/system.js";
import { ramDisk } from "../targets/_support/devices.js";
import { startTgtd, type Tgtd } from "./_tgtd.js";

/**
 * scsiback's munging policies, per vhost, in front of a real tgtd LUN (through dom0's iSCSI
 * initiator device): what the guest may send and what it sees of REPORT LUNS.
 */
const have = requireSystem({ pkg: "tgt", program: "tgtd" });
const PORT = 25000 + (process.pid % 2000);
let tgtd: Tgtd | undefined;

/** Keep the ring moving while the network answers (bounded). */
async function run(
  p: Pair,
  host: GuestScsiHost,
  req: Omit<ScsiRequest, "channel" | "id" | "lun">,
): Promise<ScsiResult> {
  let out: ScsiResult | undefined;
  void host.execute({ channel: 0, id: 0, lun: 0, ...req }).then((r) => {
    out = r;
  });
  for (let i = 0; i < 2000 && out === undefined; i++) {
    p.pump();
    await new Promise((r) => setTimeout(r, 1));
  }
  if (!out) throw new Error("command did not complete");
  return out;
}

async function guestOn(policy: MungingPolicy | undefined, featureHost: boolean) {
  const dev = await IscsiInitiatorDevice.open({
    portal: `127.0.0.1:${PORT}`,
    target: "iqn.2026-12.test:policy",
    lun: 1,
    initiatorName: "iqn.2026-12.org.pvscsi:dom0",
  });
  const p = new Pair({ featureHost, ...(policy ? { policy } : {}) });
  p.attach(0, 0, 0, dev);
  const host = new GuestScsiHost(0, p.front, p.guest);
  // Drain the new nexus's unit attention.
  for (let i = 0; i < 4; i++) if ((await run(p, host, { cdb: [0, 0, 0, 0, 0, 0] })).status === 0) break;
  return { dev, p, host };
}

const WRITE_SAME10 = [0x41, 0, 0, 0, 0, 9, 0, 0, 1, 0];
const REPORT_LUNS = [0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0];

describe.runIf(have)("munging policies in front of a tgtd LUN", () => {
  beforeAll(async () => {
    tgtd = await startTgtd({
      port: PORT,
      control: 900 + (process.pid % 90),
      iqn: "iqn.2026-12.test:policy",
      luns: [{ lun: 1, size: 4 * 1024 * 1024 }],
      maxSeconds: 300,
    });
  }, 30_000);
  afterAll(async () => {
    await tgtd?.stop();
  });

  it("xenlinux: a command off the whitelist is 05/20/00 without reaching the target; REPORT LUNS is the vhost's", async () => {
    const { dev, p, host } = await guestOn(XENLINUX_POLICY, false);
    try {
      const ws = await run(p, host, { cdb: WRITE_SAME10, dataOut: new Uint8Array(512) });
      expect([ws.status, ws.sense[2]! & 0xf, ws.sense[12], ws.sense[13]]).toEqual([2, 5, 0x20, 0]);
      const rd = await run(p, host, { cdb: [0x28, 0, 0, 0, 0, 9, 0, 0, 1, 0], dataInLength: 512 });
      expect(rd.status).toBe(0);
      const rl = await run(p, host, { cdb: REPORT_LUNS, dataInLength: 256 });
      expect([...rl.data.subarray(0, 16)]).toEqual([0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    } finally {
      await dev.close();
    }
  }, 30_000);

  it("pvops: the same WRITE SAME reaches tgtd and succeeds; REPORT LUNS is still the vhost's", async () => {
    const { dev, p, host } = await guestOn(PVOPS_POLICY, false);
    try {
      const ws = await run(p, host, { cdb: WRITE_SAME10, dataOut: new Uint8Array(512).fill(7) });
      expect(ws.status).toBe(0);
      const rl = await run(p, host, { cdb: REPORT_LUNS, dataInLength: 256 });
      expect(rl.data.length).toBe(16);
    } finally {
      await dev.close();
    }
  }, 30_000);

  it("raw with feature-host: REPORT LUNS is tgtd's own (its LUN 0 controller and LUN 1)", async () => {
    const { dev, p, host } = await guestOn(MUNGING_POLICIES.get("raw"), true);
    try {
      const rl = await run(p, host, { cdb: REPORT_LUNS, dataInLength: 256 });
      expect(rl.status).toBe(0);
      expect([...rl.data.subarray(0, 4)]).toEqual([0, 0, 0, 16]);
      expect(rl.data[17]).toBe(1);
    } finally {
      await dev.close();
    }
  }, 30_000);
});

describe("a policy's response filter", () => {
  it("rewrites what the device answered, per opcode, on one vhost only", async () => {
    const vendorX = PVOPS_POLICY.with("vendor-x", {
      18: {
        response: (task, c) => {
          if (c.status === 0 && c.transferred >= 16)
            (task.data as DataBuffer).write(8, new TextEncoder().encode("MUNGED  "));
          return c;
        },
      },
    });
    const p = new Pair({ policy: vendorX });
    p.attach(0, 0, 0, ramDisk());
    const host = new GuestScsiHost(0, p.front, p.guest);
    const r = await run(p, host, { cdb: [0x12, 0, 0, 0, 36, 0], dataInLength: 36 });
    expect(new TextDecoder().decode(r.data.subarray(8, 16))).toBe("MUNGED  ");
    const q = new Pair();
    q.attach(0, 0, 0, ramDisk());
    const plain = await run(q, new GuestScsiHost(0, q.front, q.guest), {
      cdb: [0x12, 0, 0, 0, 36, 0],
      dataInLength: 36,
    });
    expect(new TextDecoder().decode(plain.data.subarray(8, 16))).toBe("PVSCSI  ");
  });
});
