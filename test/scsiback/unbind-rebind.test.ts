import { describe, expect, it } from "vitest";
import { BackendKernel } from "../../src/system/backend-kernel.js";
import { LocalSystem } from "../../src/system/single-thread.js";
import {
  controllerPaths,
  removeController,
  waitConnected,
  writeController,
} from "../../src/toolstack/vscsi-nodes.js";

/**
 * scsiback unbound from a device (the module unloaded, sysfs `unbind`; what the simulator's
 * `backend-crash` does) and bound again: Linux `xenbus_dev_remove` drains, unmaps and publishes
 * Closed; scsifront (`scsifront_backend_changed`) disconnects and does not come back by itself;
 * the rebound driver probes the nodes still there; the toolstack re-creating the controller
 * brings the guest its LUN back, with its data.
 */

const DEV = {
  id: 0,
  pdev: "2:0:0:0",
  pdevname: "/dev/sda",
  vdev: { host: 0, channel: 0, target: 0, lun: 0 },
};

function rw10(op: number, lba: number, blocks: number): number[] {
  return [op, 0, 0, 0, 0, lba, 0, 0, blocks, 0];
}

describe("scsiback unbind and bind", () => {
  it("drains, lets go, publishes Closed; the guest disconnects; a re-created controller works", async () => {
    const sys = await LocalSystem.start({
      hostConfig: { text: "[disk 2:0:0:0]\nsize = 1M\n", source: "test.conf", baseDir: "/tmp" },
    });
    try {
      const g = await sys.createGuest("guest1");
      const fe = g.handle.domid;
      const ctrl = { backendDomid: 0, frontendDomid: fe, devid: 0, idx: 0, featureHost: false, devs: [DEV] };
      const { backend, frontend } = controllerPaths(ctrl);
      const xs = sys.toolstack;
      await sys.run(writeController(xs, ctrl));
      await sys.run(waitConnected(xs, backend, [0]));
      const held = sys.hv.report(0).heldMappings.length;
      const sda = () => g.frontend.scsi.resolve("/dev/sda");
      const data = Uint8Array.from({ length: 4096 }, (_, i) => (i * 13 + 1) & 0xff);
      const w = await sys.run(g.frontend.scsi.execute(sda(), { cdb: rw10(0x2a, 8, 8), dataOut: data }));
      expect([w.host, w.status]).toEqual([0, 0]);

      const k = sys.kernelOf(0);
      if (!(k instanceof BackendKernel)) throw new Error("dom0 runs no scsiback");
      expect(k.backend.unbind(fe, 7)).toBeNull();
      const t = k.backend.unbind(fe, 0);
      expect(t).not.toBeNull();
      await sys.run(t!);
      await sys.settle();
      expect(await sys.run(xs.read(`${backend}/state`))).toBe("6");
      // Nothing of the guest's mapped by dom0 but what it held before besides the ring (xenstore).
      expect(sys.hv.report(0).heldMappings.length).toBe(held - 1);
      expect(await sys.run(xs.read(`${frontend}/state`))).toBe("6");
      expect(g.frontend.scsi.list()).toEqual([]);
      // Unbound: its nodes' watch events do not probe it again.
      await sys.run(xs.write(`${backend}/online`, "1"));
      await sys.settle();
      expect(k.backend.report()).toEqual([]);

      // Rebound: it probes the nodes still there, and follows the frontend's Closed.
      k.backend.bind(fe, 0);
      await sys.settle();
      expect(k.backend.report()).toHaveLength(1);
      expect(await sys.run(xs.read(`${backend}/state`))).toBe("6");
      expect(await sys.run(xs.read(`${frontend}/state`))).toBe("6");
      expect(g.frontend.scsi.list()).toEqual([]); // scsifront does not reconnect from Closed

      // The toolstack re-creates the controller: the LUN comes back, with its data.
      await sys.run(removeController(xs, ctrl));
      await sys.run(writeController(xs, ctrl));
      await sys.run(waitConnected(xs, backend, [0]));
      const r = await sys.run(g.frontend.scsi.execute(sda(), { cdb: rw10(0x28, 8, 8), dataInLength: 4096 }));
      expect([r.host, r.status]).toEqual([0, 0]);
      expect(Buffer.from(r.data).equals(Buffer.from(data))).toBe(true);
    } finally {
      await sys.shutdown();
    }
  });
});
