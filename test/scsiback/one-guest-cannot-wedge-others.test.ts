import { afterEach, describe, expect, it } from "vitest";
import type { GuestScsi } from "../../src/guest/midlayer.js";
import {
  type Initiator,
  type ScsiDevice,
  type ScsiTask,
  type TmfResponse,
  TYPE_DISK,
} from "../../src/scsi/device.js";
import type { ScsifrontDriver } from "../../src/scsifront/frontend-driver.js";
import { LocalSystem } from "../../src/system/single-thread.js";
import { Disk } from "../../src/targets/sbc/disk.js";
import {
  controllerPaths,
  removeController,
  type VscsiDevNodes,
  waitConnected,
  writeController,
} from "../../src/toolstack/vscsi-nodes.js";

/**
 * Whatever one guest does to its own controller — a request scsiback's emulation must refuse, a
 * device that never answers — every other guest can still connect, move data and disconnect, and
 * each guest's teardown leaves dom0 holding nothing of it. Single thread: deterministic.
 */

const REPORT_LUNS_16 = [0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0];

/** A disk whose READs never complete (a wedged medium); everything else it answers (the scan works). */
class NeverReads implements ScsiDevice {
  readonly disk = Disk.ram(
    {
      type: TYPE_DISK,
      vendor: "PVSCSI",
      product: "NEVER",
      revision: "0001",
      scsiLevel: 5,
      removable: false,
      serial: "N0",
      wwn: "6001405000000abc",
    },
    64,
  );
  readonly info = this.disk.info;
  readonly held: ScsiTask[] = [];
  submit(task: ScsiTask): void {
    if (task.cdb[0] === 0x28) this.held.push(task);
    else this.disk.submit(task);
  }
  abortTask(_i: Initiator, _tag: number): TmfResponse | Promise<TmfResponse> {
    return new Promise<TmfResponse>(() => {}); // never resolves either
  }
  lunReset(_i: Initiator): TmfResponse | Promise<TmfResponse> {
    return new Promise<TmfResponse>(() => {});
  }
  addNexus(i: Initiator): void {
    this.disk.addNexus(i);
  }
  removeNexus(i: Initiator): void {
    this.disk.removeNexus(i);
  }
  async close(): Promise<void> {}
}

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

async function setup() {
  const never = new NeverReads();
  const sys = await LocalSystem.start({
    hostConfig: {
      text: "[disk 2:0:0:0]\nsize = 4M\n[disk 2:0:1:0]\nsize = 4M\n",
      source: "test.conf",
      baseDir: "/tmp",
    },
    devices: (pdev) => (pdev === "7:0:0:0" ? { device: never, physLun: 0 } : undefined),
  });
  cleanup.push(() => sys.shutdown());
  return { sys, never };
}

function controller(frontendDomid: number, pdev: string) {
  const devs: VscsiDevNodes[] = [
    { id: 0, pdev, pdevname: pdev, vdev: { host: 0, channel: 0, target: 0, lun: 0 } },
  ];
  return { backendDomid: 0, frontendDomid, devid: 0, idx: 0, featureHost: false, devs };
}

function host(fe: ScsifrontDriver<GuestScsi>) {
  const h = fe.controllers()[0]?.host;
  if (!h) throw new Error("no connected controller");
  return h;
}

/** A second guest attaches a disk, writes and reads it back, and detaches: the system still works. */
async function anotherGuestWorks(sys: LocalSystem, pdev: string) {
  const g = await sys.createGuest(`other-${pdev}`);
  const ctrl = controller(g.handle.domid, pdev);
  const { backend } = controllerPaths(ctrl);
  await sys.run(writeController(sys.toolstack, ctrl));
  await sys.run(waitConnected(sys.toolstack, backend, [0]));
  const sda = g.frontend.scsi.list()[0]!;
  const data = Uint8Array.from({ length: 4096 }, (_, i) => (i * 13 + 5) & 0xff);
  const w = await sys.run(
    g.frontend.scsi.execute(sda, { cdb: [0x2a, 0, 0, 0, 0, 8, 0, 0, 8, 0], dataOut: data }),
  );
  expect([w.host, w.status]).toEqual([0, 0]);
  const r = await sys.run(
    g.frontend.scsi.execute(sda, { cdb: [0x28, 0, 0, 0, 0, 8, 0, 0, 8, 0], dataInLength: 4096 }),
  );
  expect([r.host, r.status]).toEqual([0, 0]);
  expect(Buffer.from(r.data).equals(Buffer.from(data))).toBe(true);
  expect(await sys.run(removeController(sys.toolstack, ctrl))).toBe(true);
  await sys.settle();
  await sys.run(g.frontend.stop());
  await sys.run(sys.toolstack.release(g.handle.domid));
  expect(sys.destroyGuest(g.handle.domid)).toMatchObject({
    clean: true,
    mappedGrants: [],
    heldMappings: [],
    liveGrants: [],
    boundPorts: [],
  });
}

describe("one guest cannot wedge the others", () => {
  it("REPORT LUNS sent as data-out (read-only grant): refused 05/0E/03; others connect, do I/O, disconnect; nothing stays mapped", async () => {
    const { sys } = await setup();
    const held = sys.hv.report(0).heldMappings;
    const a = await sys.createGuest("hostile");
    const ctrl = controller(a.handle.domid, "2:0:0:0");
    await sys.run(writeController(sys.toolstack, ctrl));
    await sys.run(waitConnected(sys.toolstack, controllerPaths(ctrl).backend, [0]));

    // Exactly the request: REPORT LUNS, alloc 16, sc_data_direction DMA_TO_DEVICE, a read-only grant.
    const r = await sys.run(
      host(a.frontend).execute({
        channel: 0,
        id: 0,
        lun: 0,
        cdb: REPORT_LUNS_16,
        dataOut: new Uint8Array(16),
      }),
    );
    expect([r.host, r.status]).toEqual([0, 2]);
    expect([r.sense[2]! & 0x0f, r.sense[12], r.sense[13]]).toEqual([0x05, 0x0e, 0x03]);
    expect(sys.backend.report()[0]).toMatchObject({ ring: "connected", inFlight: 0 });

    await anotherGuestWorks(sys, "2:0:1:0");

    // The hostile guest itself disconnects cleanly too.
    expect(await sys.run(removeController(sys.toolstack, ctrl))).toBe(true);
    await sys.settle();
    await sys.run(a.frontend.stop());
    await sys.run(sys.toolstack.release(a.handle.domid));
    expect(sys.destroyGuest(a.handle.domid)).toMatchObject({
      clean: true,
      mappedGrants: [],
      heldMappings: [],
    });
    expect(sys.hv.report(0).heldMappings).toEqual(held);
    expect(sys.backend.report()).toEqual([]);
  });

  it("a device that never completes: its controller's teardown is forced, and others proceed meanwhile", async () => {
    const { sys, never } = await setup();
    const held = sys.hv.report(0).heldMappings;
    const a = await sys.createGuest("wedged");
    const ctrl = controller(a.handle.domid, "7:0:0:0");
    await sys.run(writeController(sys.toolstack, ctrl));
    await sys.run(waitConnected(sys.toolstack, controllerPaths(ctrl).backend, [0]));
    // A READ that the device will never answer: a data grant stays mapped by dom0 meanwhile.
    const pending = host(a.frontend).execute({
      channel: 0,
      id: 0,
      lun: 0,
      cdb: [0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0],
      dataInLength: 4096,
    });
    pending.catch(() => {});
    await sys.settle();
    expect(never.held).toHaveLength(1);
    expect(sys.backend.report()[0]!.inFlight).toBe(1);

    // The toolstack gives up waiting for Closed (a bounded wait) and deletes the nodes.
    await sys.run(removeController(sys.toolstack, ctrl, 300));
    await sys.settle();

    // Meanwhile and afterwards, another guest's controller connects, moves data and goes.
    await anotherGuestWorks(sys, "2:0:0:0");

    // The wedged controller was torn down: its request abandoned, its grants and ring unmapped.
    await sys.run(sys.backend.settled());
    expect(sys.backend.report()).toEqual([]);
    await sys.run(a.frontend.stop());
    await sys.run(sys.toolstack.release(a.handle.domid));
    expect(sys.destroyGuest(a.handle.domid)).toMatchObject({
      mappedGrants: [],
      heldMappings: [],
      boundPorts: [],
    });
    expect(sys.hv.report(0).heldMappings).toEqual(held);
  });
});
