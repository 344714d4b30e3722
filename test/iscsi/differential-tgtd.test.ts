import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { directExec } from "../../src/guest/direct.js";
import type { ScsiRequest, ScsiResult } from "../../src/scsifront/scsi-host.js";
import { GuestScsiHost } from "../../src/scsifront/scsi-host.js";
import { IscsiInitiatorDevice } from "../../src/targets/iscsi-initiator-device.js";
import { Pair } from "../../src/testing/pair.js";
import { requireSystem } from "../_support/system.js";
import { startTgtd, type Tgtd } from "./_tgtd.js";

/**
 * Differential: one CDB script run straight at tgtd (through pvscsi's iSCSI initiator, no ring)
 * and through guest → scsifront → ring → grants → scsiback → iSCSI initiator → tgtd, on two LUNs
 * of one tgtd with identical images. Status, sense and data must match, except REPORT LUNS, which
 * scsiback answers from the vhost's translation table without feature-host (documented).
 */
const have = requireSystem({ pkg: "tgt", program: "tgtd" });
const PORT = 27000 + (process.pid % 2000);
let tgtd: Tgtd | undefined;

type Step = Omit<ScsiRequest, "channel" | "id" | "lun">;
const w10 = (lba: number, n: number, seed: number): Step => ({
  cdb: [0x2a, 0, 0, 0, lba >> 8, lba & 0xff, 0, 0, n, 0],
  dataOut: Uint8Array.from({ length: n * 512 }, (_, i) => (i * 31 + seed) & 0xff),
});
const r10 = (lba: number, n: number, alloc = n * 512): Step => ({
  cdb: [0x28, 0, 0, 0, lba >> 8, lba & 0xff, 0, 0, n, 0],
  dataInLength: alloc,
});
const SCRIPT: [string, Step][] = [
  ["TUR (power-on UA)", { cdb: [0, 0, 0, 0, 0, 0] }],
  ["TUR", { cdb: [0, 0, 0, 0, 0, 0] }],
  ["INQUIRY", { cdb: [0x12, 0, 0, 0, 96, 0], dataInLength: 96 }],
  ["INQUIRY VPD 0x00", { cdb: [0x12, 1, 0, 0, 64, 0], dataInLength: 64 }],
  ["INQUIRY VPD 0xB0", { cdb: [0x12, 1, 0xb0, 0, 64, 0], dataInLength: 64 }],
  ["INQUIRY EVPD=0 page 1 (05/24/00)", { cdb: [0x12, 0, 1, 0, 64, 0], dataInLength: 64 }],
  ["READ CAPACITY(10)", { cdb: [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], dataInLength: 8 }],
  ["READ CAPACITY(16)", { cdb: [0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0], dataInLength: 32 }],
  ["MODE SENSE(6) all pages", { cdb: [0x1a, 0, 0x3f, 0, 255, 0], dataInLength: 255 }],
  ["WRITE(10) 8 blocks", w10(16, 8, 1)],
  ["READ(10) 8 blocks", r10(16, 8)],
  ["WRITE(10) 64 blocks", w10(100, 64, 2)],
  ["READ(10) 64 blocks", r10(100, 64)],
  ["READ(10) beyond the end (05/21/00)", r10(0x3fff, 2)],
  ["unknown opcode 0xC0 (05/20/00)", { cdb: [0xc0, 0, 0, 0, 0, 0] }],
  ["REQUEST SENSE", { cdb: [0x03, 0, 0, 0, 18, 0], dataInLength: 18 }],
  ["SYNCHRONIZE CACHE(10)", { cdb: [0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0] }],
  ["VERIFY(10) no compare", { cdb: [0x2f, 0, 0, 0, 0, 16, 0, 0, 8, 0] }],
  ["READ(10) short allocation", r10(16, 1, 256)],
];

async function pumped(p: Pair, host: GuestScsiHost, s: Step): Promise<ScsiResult> {
  let out: ScsiResult | undefined;
  void host.execute({ channel: 0, id: 0, lun: 0, ...s }).then((r) => {
    out = r;
  });
  for (let i = 0; i < 3000 && out === undefined; i++) {
    p.pump();
    await new Promise((r) => setTimeout(r, 1));
  }
  if (!out) throw new Error("command did not complete");
  return out;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const view = (r: ScsiResult) => ({
  status: r.status,
  sense: hex(r.sense.subarray(0, 18)),
  data: hex(r.data),
});

describe.runIf(have)("differential: tgtd straight vs through the PV ring", () => {
  beforeAll(async () => {
    tgtd = await startTgtd({
      port: PORT,
      control: 1000 + (process.pid % 90),
      iqn: "iqn.2026-12.test:diff",
      luns: [
        { lun: 1, size: 8 * 1024 * 1024 },
        { lun: 2, size: 8 * 1024 * 1024 },
      ],
      maxSeconds: 300,
    });
  }, 30_000);
  afterAll(async () => {
    await tgtd?.stop();
  });

  it(`${SCRIPT.length} steps give identical status, sense and data`, async () => {
    const cfg = (lun: number) => ({
      portal: `127.0.0.1:${PORT}`,
      target: "iqn.2026-12.test:diff",
      lun,
      initiatorName: `iqn.2026-12.org.pvscsi:diff${lun}`,
    });
    const straight = await IscsiInitiatorDevice.open(cfg(1));
    const viaRing = await IscsiInitiatorDevice.open(cfg(2));
    try {
      const exec = directExec(straight);
      const p = new Pair();
      p.attach(0, 0, 0, viaRing);
      const host = new GuestScsiHost(0, p.front, p.guest);
      const diffs: string[] = [];
      for (const [name, step] of SCRIPT) {
        const a = view(await exec({ channel: 0, id: 0, lun: 0, ...step }));
        const b = view(await pumped(p, host, step));
        // The LUs differ only in their serial/NAA identity: mask VPD 0x80/0x83 is not scripted.
        if (JSON.stringify(a) !== JSON.stringify(b))
          diffs.push(`${name}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
      }
      expect(diffs).toEqual([]);
      // The documented difference: REPORT LUNS is the vhost's translation table, not tgtd's list.
      const rl = { cdb: [0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0], dataInLength: 256 };
      const ra = await exec({ channel: 0, id: 0, lun: 0, ...rl });
      const rb = await pumped(p, host, rl);
      expect(ra.data.length).toBe(8 + 3 * 8); // tgtd: LUN 0 (controller), 1, 2
      expect(rb.data.length).toBe(16); // the guest: its one LUN
    } finally {
      await straight.close();
      await viaRing.close();
    }
  }, 60_000);
});
