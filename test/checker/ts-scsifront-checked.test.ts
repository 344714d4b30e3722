import { describe, expect, it } from "vitest";
import { VscsiifFrontChecker } from "../../src/checker/index.js";
import { LocalSystem } from "../../src/system/single-thread.js";
import { controllerPaths, waitConnected, writeController } from "../../src/toolstack/vscsi-nodes.js";

/**
 * The protocol checker is driver-agnostic: here it watches pvscsi's own TypeScript scsifront
 * (single-thread system) through INQUIRY-free traffic: a TEST UNIT READY, 64-page writes and
 * reads through indirect segments and a burst of 16 commands, and finds nothing; two requests
 * written by hand with one rqid are reported.
 */
function rw10(op: number, lba: number, blocks: number): number[] {
  return [
    op,
    0,
    lba >>> 24,
    (lba >>> 16) & 255,
    (lba >>> 8) & 255,
    lba & 255,
    0,
    blocks >>> 8,
    blocks & 255,
    0,
  ];
}

describe("VscsiifFrontChecker on pvscsi's TypeScript scsifront", () => {
  it("sees no violation in normal traffic, and reports a hand-made rqid reuse", async () => {
    const sys = await LocalSystem.start({
      hostConfig: { text: "[disk 2:0:0:0]\nsize = 8M\n", source: "t.conf", baseDir: "/tmp" },
    });
    try {
      const g = await sys.createGuest("tsfront");
      const fe = g.handle.domid;
      const ctrl = {
        backendDomid: 0,
        frontendDomid: fe,
        devid: 0,
        idx: 0,
        featureHost: false,
        devs: [
          { id: 0, pdev: "2:0:0:0", pdevname: "/dev/sda", vdev: { host: 0, channel: 0, target: 0, lun: 0 } },
        ],
      };
      const { backend, frontend } = controllerPaths(ctrl);
      await sys.run(writeController(sys.toolstack, ctrl));
      await sys.run(waitConnected(sys.toolstack, backend, [0]));

      const ctx = g.kernel.ctx;
      const ref = Number(await sys.run(sys.toolstack.read(`${frontend}/ring-ref`)));
      const port = Number(await sys.run(sys.toolstack.read(`${frontend}/event-channel`)));
      const checker = new VscsiifFrontChecker({
        memory: ctx.memory,
        ringOffset: ctx.grants.frame(ref) * 4096,
        grantTable: ctx.view.grantTable,
        backendDomid: 0,
      });
      // Tell it about the frontend's notifications, and let it look after each pass of the frontend.
      const send = ctx.evtchn.send.bind(ctx.evtchn);
      ctx.evtchn.send = (p: number) => {
        if (p === port) checker.notified();
        return send(p);
      };
      const runPending = g.frontend.runPending.bind(g.frontend);
      g.frontend.runPending = () => {
        const n = runPending();
        checker.observe();
        return n;
      };

      const sda = g.frontend.scsi.resolve("/dev/sda");
      const data = Uint8Array.from({ length: 64 * 4096 }, (_, i) => (i * 13 + 5) & 0xff);
      await sys.run(g.frontend.scsi.execute(sda, { cdb: [0, 0, 0, 0, 0, 0] }));
      const w = await sys.run(g.frontend.scsi.execute(sda, { cdb: rw10(0x2a, 0, 512), dataOut: data }));
      expect([w.host, w.status]).toEqual([0, 0]);
      const r = await sys.run(
        g.frontend.scsi.execute(sda, { cdb: rw10(0x28, 0, 512), dataInLength: data.length }),
      );
      expect(Buffer.from(r.data).equals(Buffer.from(data))).toBe(true);
      await sys.run(
        Promise.all(
          Array.from({ length: 16 }, (_, i) =>
            g.frontend.scsi.execute(sda, { cdb: rw10(0x28, i * 8, 8), dataInLength: 4096 }),
          ),
        ),
      );
      checker.observe();
      expect(checker.requests).toBe(19);
      expect(checker.violations).toEqual([]);

      // By hand: two requests with rqid 9 pushed at once, as a broken driver would.
      const base = ctx.grants.frame(ref) * 4096;
      const ring = ctx.memory.subarray(base, base + 4096);
      const dv = new DataView(ring.buffer, ring.byteOffset, 4096);
      const prod = dv.getUint32(0, true);
      for (let k = 0; k < 2; k++) {
        const e = 64 + ((prod + k) % 16) * 252;
        ring.fill(0, e, e + 252);
        dv.setUint16(e, 9, true);
        ring[e + 2] = 1; // VSCSIIF_ACT_SCSI_CDB
        ring[e + 3] = 6;
      }
      dv.setUint32(0, prod + 2, true);
      checker.notified();
      checker.observe();
      expect(checker.violations.map((v) => v.rule)).toEqual(["rqid-in-flight"]);
      expect(checker.violations[0]!.message).toContain(`reuses rqid 9, still in flight since index ${prod}`);
    } finally {
      await sys.shutdown();
    }
  }, 60_000);
});
