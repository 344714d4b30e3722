import { connect, createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { directExec } from "../../src/guest/direct.js";
import type { ScsiExec } from "../../src/guest/sg.js";
import type { Initiator } from "../../src/scsi/device.js";
import { IscsiInitiatorDevice } from "../../src/targets/iscsi-initiator-device.js";
import { requireSystem } from "../_support/system.js";
import { startTgtd, type Tgtd } from "./_tgtd.js";

/**
 * dom0's iSCSI initiator device against a real tgtd on 127.0.0.1: identity from INQUIRY/VPD,
 * data both ways, sense, task management, per-vHBA initiator names under tgtd's ACL, and a
 * reconnect after the connection is cut (through a proxy the test controls).
 */
const have = requireSystem({ pkg: "tgt", program: "tgtd" }, { pkg: "tgt", program: "tgtadm" });
const BASE = "iqn.2026-12.org.pvscsi:dom0";
const PORT = 23000 + (process.pid % 2000);
let tgtd: Tgtd | undefined;

/** A TCP proxy to tgtd whose connections the test can cut. */
let proxy: Server | undefined;
const live = new Set<Socket>();
let proxyPort = 0;

const A: Initiator = { id: 1, name: "xen-pvscsi:dom1/vhost0" };
const B: Initiator = { id: 2, name: "xen-pvscsi:dom2/vhost0" };
const TUR = [0, 0, 0, 0, 0, 0];

/** The first TUR's result, after which unit attentions are drained (bounded, as libiscsi's connect loop). */
async function readyExec(exec: ScsiExec) {
  const first = await exec({ channel: 0, id: 0, lun: 0, cdb: TUR });
  let r = first;
  for (let i = 0; i < 5 && r.status === 2 && (r.sense[2]! & 0xf) === 6; i++)
    r = await exec({ channel: 0, id: 0, lun: 0, cdb: TUR });
  return first;
}

describe.runIf(have)("the iSCSI initiator device against tgtd", () => {
  beforeAll(async () => {
    tgtd = await startTgtd({
      port: PORT,
      control: 300 + (process.pid % 600),
      iqn: "iqn.2026-12.test:tgtd-disk",
      luns: [{ lun: 1, size: 8 * 1024 * 1024 }],
      allow: [BASE, `${BASE}:xen-pvscsi:dom1.vhost0`],
      maxSeconds: 300,
    });
    proxy = createServer((c) => {
      const up = connect({ host: "127.0.0.1", port: PORT });
      live.add(c);
      live.add(up);
      c.pipe(up);
      up.pipe(c);
      const end = () => {
        c.destroy();
        up.destroy();
        live.delete(c);
        live.delete(up);
      };
      c.on("error", end);
      up.on("error", end);
      c.on("close", end);
      up.on("close", end);
    });
    await new Promise<void>((r) => proxy!.listen(0, "127.0.0.1", () => r()));
    proxyPort = (proxy.address() as { port: number }).port;
  }, 30_000);

  afterAll(async () => {
    for (const s of live) s.destroy();
    await new Promise((r) => proxy?.close(r));
    await tgtd?.stop();
  });

  const open = (extra: object = {}) =>
    IscsiInitiatorDevice.open({
      portal: `127.0.0.1:${proxyPort}`,
      target: "iqn.2026-12.test:tgtd-disk",
      lun: 1,
      initiatorName: BASE,
      ...extra,
    });

  it("takes its identity from the LU: INQUIRY, serial, NAA", async () => {
    const dev = await open();
    try {
      expect(dev.info).toMatchObject({
        type: 0,
        vendor: "IET",
        product: "VIRTUAL-DISK",
        scsiLevel: 5,
        removable: false,
      });
      expect(dev.info.wwn).toMatch(/^[0-9a-f]{16}$/);
    } finally {
      await dev.close();
    }
  });

  it("moves data both ways, returns tgtd's sense, and resets the LU by task management", async () => {
    const dev = await open();
    try {
      const exec = directExec(dev, { initiator: A });
      const first = await readyExec(exec);
      expect([first.status, first.sense[2]! & 0xf, first.sense[12]]).toEqual([2, 6, 0x29]);
      const data = Uint8Array.from({ length: 65536 }, (_, i) => (i * 13) & 0xff);
      const w = await exec({
        channel: 0,
        id: 0,
        lun: 0,
        cdb: [0x2a, 0, 0, 0, 0, 8, 0, 0, 128, 0],
        dataOut: data,
      });
      expect(w.status).toBe(0);
      const r = await exec({
        channel: 0,
        id: 0,
        lun: 0,
        cdb: [0x28, 0, 0, 0, 0, 8, 0, 0, 128, 0],
        dataInLength: 65536,
      });
      expect(r.status).toBe(0);
      expect(Buffer.from(r.data).equals(Buffer.from(data))).toBe(true);
      const bad = await exec({
        channel: 0,
        id: 0,
        lun: 0,
        cdb: [0x28, 0, 0, 0x01, 0, 0, 0, 0, 1, 0],
        dataInLength: 512,
      });
      expect([bad.status, bad.sense[2]! & 0xf, bad.sense[12]]).toEqual([2, 5, 0x21]);
      expect(await dev.lunReset(A)).toBe("complete");
      const after = await exec({ channel: 0, id: 0, lun: 0, cdb: TUR });
      expect([after.status, after.sense[12]]).toEqual([2, 0x29]);
      expect(await dev.abortTask(A, 12345)).toBe("not-found");
    } finally {
      await dev.close();
    }
  }, 30_000);

  it("per-vHBA initiator names: tgtd's ACL admits dom1's vHBA and refuses dom2's", async () => {
    const dev = await open({ perNexusInitiator: true });
    try {
      const a = directExec(dev, { initiator: A });
      const b = directExec(dev, { initiator: B });
      await readyExec(a);
      const okA = await a({ channel: 0, id: 0, lun: 0, cdb: TUR });
      expect(okA.status).toBe(0);
      const refused = await b({ channel: 0, id: 0, lun: 0, cdb: TUR });
      expect([refused.status, refused.sense[2]! & 0xf, refused.sense[12], refused.sense[13]]).toEqual([
        2, 2, 4, 1,
      ]);
      const sessions = await tgtd!.tgtadm("--lld", "iscsi", "--op", "show", "--mode", "target");
      expect(sessions).toContain(`${BASE}:xen-pvscsi:dom1.vhost0`);
    } finally {
      await dev.close();
    }
  }, 30_000);

  it("a cut connection: in-flight commands end ABORTED COMMAND, the next logs in again and meets 06/29/00", async () => {
    const dev = await open();
    try {
      const exec = directExec(dev, { initiator: A });
      await readyExec(exec);
      expect((await exec({ channel: 0, id: 0, lun: 0, cdb: TUR })).status).toBe(0);
      for (const s of live) s.destroy();
      await new Promise((r) => setTimeout(r, 50));
      const ua = await exec({ channel: 0, id: 0, lun: 0, cdb: TUR });
      expect([ua.status, ua.sense[2]! & 0xf, ua.sense[12]]).toEqual([2, 6, 0x29]);
      expect((await exec({ channel: 0, id: 0, lun: 0, cdb: TUR })).status).toBe(0);
      expect(dev.reconnects).toBe(1);
    } finally {
      await dev.close();
    }
  }, 30_000);

  it("a target that does not exist fails open with the login status", async () => {
    await expect(
      IscsiInitiatorDevice.open({
        portal: `127.0.0.1:${proxyPort}`,
        target: "iqn.2026-12.test:nope",
        lun: 1,
        initiatorName: BASE,
      }),
    ).rejects.toThrow(/0x0203 \(target not found\)/);
  });
});
