import { describe, expect, it } from "vitest";
import type { GuestScsi } from "../../src/guest/midlayer.js";
import type { ScsifrontDriver } from "../../src/scsifront/frontend-driver.js";
import { LocalSystem } from "../../src/system/single-thread.js";
import { assertCleanedUp } from "../../src/testing/index.js";
import {
  addDevs,
  controllerPaths,
  removeController,
  removeDev,
  type VscsiDevNodes,
  waitConnected,
  writeController,
} from "../../src/toolstack/vscsi-nodes.js";

/**
 * Front, back and xenstore cores driven from one thread with no workers: the whole vscsiif.h
 * handshake, I/O with data integrity, hot-plug and unplug, and teardown with nothing left behind.
 */

async function setup() {
  const sys = await LocalSystem.start({
    hostConfig: {
      text: "[disk 2:0:0:0]\nsize = 8M\n[disk 2:0:1:0]\nsize = 8M\n[disk 2:0:1:1]\nsize = 8M\n",
      source: "test.conf",
      baseDir: "/tmp",
    },
  });
  // dom0's inventory is the system's; closing it is shutting the system down.
  const inv = { close: () => sys.shutdown() };
  return { sys, inv };
}

/** A controller of `frontendDomid` served by dom0, at devid 0 / vHOST 0, with `devs`. */
function controller(frontendDomid: number, devs: VscsiDevNodes[]) {
  return { backendDomid: 0, frontendDomid, devid: 0, idx: 0, featureHost: false, devs };
}

function host(fe: ScsifrontDriver<GuestScsi>) {
  const h = fe.controllers()[0]?.host;
  if (!h) throw new Error("no connected controller");
  return h;
}

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

describe("single thread: xenstore, scsiback and scsifront cores without workers", () => {
  it("connects, scans, moves data, hot-plugs, unplugs and tears down cleanly", async () => {
    const { sys, inv } = await setup();
    const g = await sys.createGuest("guest1");
    const fe = g.handle.domid;
    const ctrl = controller(fe, [
      { id: 0, pdev: "2:0:0:0", pdevname: "/dev/sda", vdev: { host: 0, channel: 0, target: 0, lun: 0 } },
      { id: 1, pdev: "2:0:1:0", pdevname: "/dev/sdb", vdev: { host: 0, channel: 0, target: 1, lun: 0 } },
    ]);
    const { backend, frontend } = controllerPaths(ctrl);
    await sys.run(writeController(sys.toolstack, ctrl));
    await sys.run(waitConnected(sys.toolstack, backend, [0, 1]));

    // The nodes and states of vscsiif.h's "Xenstore format in practice".
    const xs = sys.toolstack;
    expect(await sys.run(xs.read(`${backend}/state`))).toBe("4");
    expect(await sys.run(xs.read(`${backend}/feature-sg-grant`))).toBe("128");
    expect(await sys.run(xs.read(`${frontend}/state`))).toBe("4");
    expect(Number(await sys.run(xs.read(`${frontend}/ring-ref`)))).toBeGreaterThanOrEqual(8);
    // libxl's permissions: each end owns its directory and the other end may read it.
    expect(await sys.run(xs.getPerms(backend))).toEqual([
      { id: 0, perms: 0 },
      { id: fe, perms: 1 },
    ]);
    expect(await sys.run(xs.getPerms(frontend))).toEqual([
      { id: fe, perms: 0 },
      { id: 0, perms: 1 },
    ]);
    expect(await sys.run(xs.getPerms(`${backend}/vscsi-devs/dev-0/p-dev`))).toEqual([
      { id: 0, perms: 0 },
      { id: fe, perms: 1 },
    ]);
    expect(await sys.run(xs.read(`${frontend}/vscsi-devs/dev-1/state`))).toBe("4");
    expect(await sys.run(xs.read(`${backend}/vscsi-devs/dev-0/state`))).toBe("4");
    expect(g.frontend.scsi.lsscsi()).toMatch(
      /^\[0:0:0:0\]\s+disk\s+.*\/dev\/sda\n\[0:0:1:0\]\s+disk\s+.*\/dev\/sdb\n$/,
    );

    // I/O with data integrity, through grants: 64 KiB written and read back.
    const h = host(g.frontend);
    const sdb = g.frontend.scsi.resolve("/dev/sdb");
    const data = Uint8Array.from({ length: 65536 }, (_, i) => (i * 31 + 7) & 0xff);
    // The first command of a new I_T nexus meets 06/29/00, which the block layer retries.
    const w = await sys.run(g.frontend.scsi.execute(sdb, { cdb: rw10(0x2a, 100, 128), dataOut: data }));
    expect([w.host, w.status]).toEqual([0, 0]);
    const r = await sys.run(g.frontend.scsi.execute(sdb, { cdb: rw10(0x28, 100, 128), dataInLength: 65536 }));
    expect([r.host, r.status, r.residual]).toEqual([0, 0, 0]);
    expect(Buffer.from(r.data).equals(Buffer.from(data))).toBe(true);

    // Hot-plug a third LUN (state 7 flow), then unplug the first.
    await sys.run(
      addDevs(xs, backend, [
        { id: 2, pdev: "2:0:1:1", pdevname: "/dev/sdc", vdev: { host: 0, channel: 0, target: 1, lun: 1 } },
      ]),
    );
    expect(g.frontend.scsi.list().map((d) => `${d.id}:${d.lun}`)).toEqual(["0:0", "1:0", "1:1"]);
    await sys.run(removeDev(xs, backend, 0));
    expect(g.frontend.scsi.list().map((d) => `${d.id}:${d.lun}`)).toEqual(["1:0", "1:1"]);
    expect(await sys.run(xs.tryRead(`${backend}/vscsi-devs/dev-0/state`))).toBeUndefined();
    const gone = await sys.run(h.execute({ channel: 0, id: 0, lun: 0, cdb: [0, 0, 0, 0, 0, 0] }));
    expect(gone.host).toBe(1); // DID_NO_CONNECT: the guest reaches no device no longer attached

    // Remove the controller: the frontend closes, the backend drains and unmaps, nodes go.
    expect(await sys.run(removeController(xs, ctrl))).toBe(true);
    await sys.settle();
    expect(g.frontend.deviceCount).toBe(0);
    expect(g.frontend.scsi.list()).toEqual([]);
    await sys.run(g.frontend.stop());
    await sys.run(xs.release(fe));
    const report = sys.destroyGuest(fe);
    expect(report).toMatchObject({
      clean: true,
      mappedGrants: [],
      heldMappings: [],
      liveGrants: [],
      boundPorts: [],
    });
    expect(sys.hv.report(0).heldMappings).toEqual([]);
    assertCleanedUp(report);
    assertCleanedUp(sys);
    await inv.close();
  });

  it("a LUN whose p-dev does not exist is refused with state 6 and the others still connect", async () => {
    const { sys, inv } = await setup();
    const g = await sys.createGuest("guest2");
    const ctrl = controller(g.handle.domid, [
      { id: 0, pdev: "2:0:0:0", pdevname: "/dev/sda", vdev: { host: 0, channel: 0, target: 0, lun: 0 } },
      { id: 1, pdev: "9:9:9:9", pdevname: "9:9:9:9", vdev: { host: 0, channel: 0, target: 5, lun: 0 } },
    ]);
    const { backend } = controllerPaths(ctrl);
    await sys.run(writeController(sys.toolstack, ctrl));
    await expect(sys.run(waitConnected(sys.toolstack, backend, [0, 1]))).rejects.toThrow(
      /9:9:9:9: the backend refused the device: doesn't exist/,
    );
    expect(await sys.run(sys.toolstack.read(`${backend}/vscsi-devs/dev-1/state`))).toBe("6");
    expect(g.frontend.scsi.list()).toHaveLength(1);
    await inv.close();
  });

  it("a ring-ref the guest never granted: the backend records xenbus_dev_fatal's error and closes", async () => {
    const { sys, inv } = await setup();
    const g = await sys.createGuest("guest3");
    await sys.run(g.frontend.stop()); // this guest's "driver" is the test, writing its nodes by hand
    const fe = g.handle.domid;
    const ctrl = controller(fe, [
      { id: 0, pdev: "2:0:0:0", pdevname: "/dev/sda", vdev: { host: 0, channel: 0, target: 0, lun: 0 } },
    ]);
    const { backend, frontend } = controllerPaths(ctrl);
    const held = sys.hv.report(0).heldMappings;
    await sys.run(writeController(sys.toolstack, ctrl));
    const guestXs = g.kernel.xs;
    await sys.run(guestXs.write(`${frontend}/ring-ref`, "4000"));
    await sys.run(guestXs.write(`${frontend}/event-channel`, "1"));
    await sys.run(guestXs.write(`${frontend}/state`, "3"));
    await expect(sys.run(waitConnected(sys.toolstack, backend, [0]))).rejects.toThrow(
      `the backend closed: 1 mapping in shared page 4000 from domain ${fe}`,
    );
    expect(await sys.run(sys.toolstack.read(`${backend}/state`))).toBe("5");
    // Where xenbus_dev_error puts it, under the backend domain's home; nothing was mapped.
    expect(await sys.run(sys.toolstack.read(`/local/domain/0/error/backend/vscsi/${fe}/0/error`))).toMatch(
      /^1 /, // GNTST_general_error: the entry grants nothing
    );
    // Dom0 holds only what it held before: xenstored's map of the guest's xenstore page.
    expect(sys.hv.report(0).heldMappings).toEqual(held);
    await inv.close();
  });
});
