import { describe, expect, it } from "vitest";
import { LocalSystem } from "../../src/system/single-thread.js";
import { assertCleanedUp } from "../../src/testing/index.js";
import {
  controllerPaths,
  removeController,
  removeNodes,
  waitConnected,
  writeController,
} from "../../src/toolstack/vscsi-nodes.js";
import { DomainView } from "../../src/xen/domain-view.js";
import { XenbusNode } from "../../src/xenbus/paths.js";
import { TestDisk } from "../_support/test-disk.js";

/**
 * The device half of Linux's scsifront resume (`scsifront_suspend`, `scsifront_resume`,
 * `scsifront_backend_changed` with `info->pause`), with the same kernel kept across a change of
 * backend, as after a migration: writes in flight on the old ring when the guest suspends are
 * completed with DID_RESET and retried by the guest's midlayer on a new ring (new page, new
 * port, indexes from 0) once the new backend is Connected; the LUNs are re-added without a new
 * scan (the midlayer keeps /dev/sda); every write lands once; the old ring's grant and port are
 * freed (the domain is left with nothing at teardown).
 */

const BLOCK = 512;
const BLOCKS = 8; // one write = 8 blocks = 4 KiB

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

/** The 4 KiB written at write `i`: every byte says which write and where. */
function payload(i: number, gen: number): Uint8Array {
  return Uint8Array.from({ length: BLOCK * BLOCKS }, (_, k) => (i * 37 + k * 7 + gen * 101) & 0xff);
}

describe("scsifront suspend/resume onto a new backend (the same kernel kept)", () => {
  it("in-flight writes get DID_RESET, are retried on a new ring from index 0, and all land once", async () => {
    const disk = new TestDisk(4096);
    const sys = await LocalSystem.start({
      devices: (pdev) => (pdev === "test:0" ? { device: disk, physLun: 0 } : undefined),
    });
    const g = await sys.createGuest("resumer");
    const fe = g.handle.domid;
    const xs = sys.toolstack;
    const ctrl = {
      backendDomid: 0,
      frontendDomid: fe,
      devid: 0,
      idx: 0,
      featureHost: false,
      devs: [{ id: 0, pdev: "test:0", pdevname: "test:0", vdev: { host: 0, channel: 0, target: 0, lun: 0 } }],
    };
    const { backend: oldBackend, frontend } = controllerPaths(ctrl);
    await sys.run(writeController(xs, ctrl));
    await sys.run(waitConnected(xs, oldBackend, [0]));
    const scsi = g.frontend.scsi;
    const sda = scsi.resolve("/dev/sda");
    const host = sda.host;

    // Writes 0..3 complete before the suspend.
    for (let i = 0; i < 4; i++) {
      const r = await sys.run(
        scsi.execute(sda, { cdb: rw10(0x2a, i * BLOCKS, BLOCKS), dataOut: payload(i, 0) }),
      );
      expect([r.host, r.status]).toEqual([0, 0]);
    }
    // What the guest holds when idle: its ring page's grant, its ports (xenstore's and this one).
    const idle = sys.hv.report(fe);
    expect(idle.liveGrants).toHaveLength(1);

    // Writes 4..9 reach the old backend, whose device holds them: in flight when the guest suspends.
    disk.hold = true;
    const completions = new Map<number, number>();
    const results: Array<Promise<{ host: number; status: number }>> = [];
    for (let i = 4; i < 10; i++) {
      results.push(
        scsi.execute(sda, { cdb: rw10(0x2a, i * BLOCKS, BLOCKS), dataOut: payload(i, 1) }).then((r) => {
          completions.set(i, (completions.get(i) ?? 0) + 1);
          return r;
        }),
      );
    }
    await sys.settle();
    expect(disk.held).toHaveLength(6);
    expect(host.frontend.inFlight).toBe(6);

    await sys.run(g.frontend.suspend());
    // Paused: a new command waits (HOST_BUSY) instead of reaching the ring.
    const late = scsi.execute(sda, { cdb: rw10(0x2a, 10 * BLOCKS, BLOCKS), dataOut: payload(10, 1) });
    await sys.settle();
    expect(host.queued).toBe(1);
    expect(host.frontend.inFlight).toBe(6);

    // Stop-and-copy: the image the target gets is the guest's memory now. The source then lets
    // go of its backend, which gives up the six (answering HOST_ERROR on the old ring, in the
    // source's copy of the memory: none of that is in the image, so it is put back).
    // (Only the old ring page is put back: the xenstore ring, also in memory, carries on here.)
    const oldRing = host.frontend.sharedRing!;
    const image = oldRing.bytes.slice();
    const answered = oldRing.rspProd;
    await sys.run(removeNodes(xs, oldBackend, "/local/domain/0"));
    await sys.settle();
    expect(sys.hv.report(0).heldMappings.filter((m) => m.granter === fe && m.ref >= 8)).toEqual([]);
    expect(oldRing.rspProd).toBe(answered + 6); // the source backend's six HOST_ERROR answers…
    oldRing.bytes.set(image); // …are not in the image
    expect(oldRing.rspProd).toBe(answered);

    // The toolstack gives the device a new backend (as a restore or a migration target does):
    // a fresh vhost, and the frontend's nodes rewritten to point at it, state Initialising.
    const newBackend = `/local/domain/0/backend/vscsi/${fe}/1`;
    await sys.run(
      xs.transaction(async (tx) => {
        await tx.mkdir(newBackend);
        await tx.setPerms(newBackend, ["n0", `r${fe}`]);
        await tx.write(`${newBackend}/${XenbusNode.frontend}`, frontend);
        await tx.write(`${newBackend}/${XenbusNode.frontendId}`, String(fe));
        await tx.write(`${newBackend}/${XenbusNode.online}`, "1");
        await tx.write(`${newBackend}/${XenbusNode.libxlCtrlIndex}`, "0");
        await tx.write(`${newBackend}/${XenbusNode.featureHost}`, "0");
        await tx.write(`${newBackend}/vscsi-devs/dev-0/p-dev`, "test:0");
        await tx.write(`${newBackend}/vscsi-devs/dev-0/p-devname`, "test:0");
        await tx.write(`${newBackend}/vscsi-devs/dev-0/v-dev`, "0:0:0:0");
        await tx.write(`${newBackend}/vscsi-devs/dev-0/state`, "1");
        await tx.write(`${newBackend}/${XenbusNode.state}`, "1");
        await tx.write(`${frontend}/${XenbusNode.backend}`, newBackend);
        await tx.write(`${frontend}/${XenbusNode.state}`, "1");
      }),
    );
    disk.hold = false;
    const inquiriesBefore = disk.seen.filter((op) => op === 0x12).length;

    await sys.run(g.frontend.resume());
    // finish_all: the six in flight were completed with DID_RESET and wait for the new ring.
    expect(g.frontend.resumeStats).toEqual({ resetCompletions: 6, resumes: 1 });
    expect(host.frontend.inFlight).toBe(0);
    const ring = host.frontend.ring!;
    expect(ring.sring).not.toBe(oldRing);
    expect(g.frontend.deferredGrants).toBe(0);

    await sys.run(waitConnected(xs, newBackend, [0]));
    const done = await sys.run(Promise.all([...results, late]));
    for (const r of done) expect([r.host, r.status]).toEqual([0, 0]);
    expect([...completions.values()]).toEqual([1, 1, 1, 1, 1, 1]);
    expect(scsi.resetRetries).toBe(6);
    // The new ring started at index 0: it has carried exactly the six retried writes and the one
    // that waited — and no INQUIRY: the LUN was re-added (READD_LUN), not scanned again;
    // /dev/sda is the same device.
    expect([ring.reqProdPvt, ring.rspCons, ring.sring.reqProd, ring.sring.rspProd]).toEqual([7, 7, 7, 7]);
    expect(disk.seen.filter((op) => op === 0x12).length).toBe(inquiriesBefore);
    expect(scsi.resolve("/dev/sda")).toBe(sda);
    expect(await sys.run(xs.read(`${frontend}/${XenbusNode.state}`))).toBe("4");
    expect(await sys.run(xs.read(`${frontend}/vscsi-devs/dev-0/state`))).toBe("4");

    // Every write is on the disk once, as written.
    for (let i = 0; i < 11; i++) {
      const want = payload(i, i < 4 ? 0 : 1);
      const got = disk.store.subarray(i * BLOCKS * BLOCK, (i + 1) * BLOCKS * BLOCK);
      expect(Buffer.from(got).equals(Buffer.from(want)), `write ${i}`).toBe(true);
    }

    expect(host.hostError).toBeNull();
    // The old ring's grant and port were given back: idle again, the guest holds as much as before.
    const after = sys.hv.report(fe);
    expect(after.liveGrants).toHaveLength(idle.liveGrants.length);
    expect(after.boundPorts).toHaveLength(idle.boundPorts.length);
    expect(await sys.run(xs.read(`${frontend}/${XenbusNode.ringRef}`))).toBe(
      String(after.liveGrants[0]!.ref),
    );

    // Teardown leaves the guest with no grant, mapping or port: the old ring's were freed.
    expect(await sys.run(removeController(xs, { backendDomid: 0, frontendDomid: fe, devid: 1 }))).toBe(true);
    await sys.run(removeNodes(xs, frontend, `/local/domain/${fe}`));
    await sys.settle();
    expect(g.frontend.deviceCount).toBe(0);
    await sys.run(g.frontend.stop());
    await sys.run(xs.release(fe));
    const report = sys.destroyGuest(fe);
    expect(report).toMatchObject({ mappedGrants: [], heldMappings: [], liveGrants: [], boundPorts: [] });
    assertCleanedUp(report);
    await sys.shutdown();
  }, 60_000);

  it("a kernel saved and resumed in a new domain: its writes in flight are reset, retried and land; names kept", async () => {
    const disk = new TestDisk(4096);
    const sys = await LocalSystem.start({
      devices: (pdev) => (pdev === "test:0" ? { device: disk, physLun: 0 } : undefined),
    });
    const xs = sys.toolstack;
    const devs = [
      { id: 0, pdev: "test:0", pdevname: "test:0", vdev: { host: 0, channel: 0, target: 0, lun: 0 } },
    ];
    const src = await sys.createGuest("saved");
    const c1 = {
      backendDomid: 0,
      frontendDomid: src.handle.domid,
      devid: 0,
      idx: 0,
      featureHost: false,
      devs,
    };
    await sys.run(writeController(xs, c1));
    await sys.run(waitConnected(xs, controllerPaths(c1).backend, [0]));
    const sda = src.frontend.scsi.resolve("/dev/sda");
    const first = await sys.run(
      src.frontend.scsi.execute(sda, { cdb: rw10(0x2a, 0, BLOCKS), dataOut: payload(0, 2) }),
    );
    expect([first.host, first.status]).toEqual([0, 0]);
    const names = src.frontend.scsi.lsscsi(true);

    // Six writes held by the device when the kernel stops; the kernel is written down.
    disk.hold = true;
    for (let i = 1; i < 7; i++)
      void src.frontend.scsi.execute(sda, { cdb: rw10(0x2a, i * BLOCKS, BLOCKS), dataOut: payload(i, 2) });
    await sys.settle();
    expect(disk.held).toHaveLength(6);
    await sys.run(src.frontend.suspend());
    const state = { scsifront: src.frontend.snapshot(), devices: src.frontend.scsi.saveDevices() };
    expect(state.scsifront.controllers[0]!.frontend.inFlight.map((c) => c.rqid)).toHaveLength(6);
    const memory = new Uint8Array(src.handle.memory).slice();
    const v = new DomainView(src.handle);
    const frameBitmap = v.kernel.slice(
      v.layout.frameBitmap,
      v.layout.frameBitmap + v.layout.frameBitmapWords,
    );

    // The source lets go of its devices, as libxl removes a dead domain's; the device's six
    // held writes are abandoned with it (never released).
    await sys.run(removeNodes(xs, controllerPaths(c1).backend, "/local/domain/0"));
    await sys.run(removeNodes(xs, controllerPaths(c1).frontend, `/local/domain/${src.handle.domid}`));
    await sys.settle();
    disk.held.length = 0;
    disk.hold = false;
    const inquiries = disk.seen.filter((op) => op === 0x12).length;

    // A new domain: the memory image, the frame bitmap, the kernel resumed from its state.
    const dst = await sys.createGuest("resumed", 4096, undefined, {
      memory,
      frameBitmap,
      from: { state, devids: [[0, 0]] },
    });
    const fe = dst.handle.domid;
    const c2 = { backendDomid: 0, frontendDomid: fe, devid: 0, idx: 0, featureHost: false, devs };
    await sys.run(writeController(xs, c2));
    await sys.run(dst.frontend.resume());
    await sys.run(waitConnected(xs, controllerPaths(c2).backend, [0]));
    await sys.settle();

    const scsi = dst.frontend.scsi;
    expect(dst.frontend.resumeStats).toEqual({ resetCompletions: 6, resumes: 1 });
    expect([scsi.resetRetries, scsi.carried, scsi.carriedCompletions, scsi.carriedFailures]).toEqual([
      6, 6, 6, 0,
    ]);
    // The same kernel: same devices, same names, no INQUIRY; the new ring carried the six only.
    expect(scsi.lsscsi(true)).toBe(names);
    expect(disk.seen.filter((op) => op === 0x12).length).toBe(inquiries);
    const ring = scsi.resolve("/dev/sda").host.frontend.ring!;
    expect([ring.reqProdPvt, ring.rspCons]).toEqual([6, 6]);
    for (let i = 0; i < 7; i++) {
      const got = disk.store.subarray(i * BLOCKS * BLOCK, (i + 1) * BLOCKS * BLOCK);
      expect(Buffer.from(got).equals(Buffer.from(payload(i, 2))), `write ${i}`).toBe(true);
    }

    // The resumed domain lets go at teardown: no grant, mapping or port is left.
    expect(await sys.run(removeController(xs, c2))).toBe(true);
    await sys.settle();
    await sys.run(dst.frontend.stop());
    await sys.run(xs.release(fe));
    const report = sys.destroyGuest(fe);
    expect(report).toMatchObject({ mappedGrants: [], heldMappings: [], liveGrants: [], boundPorts: [] });
    await sys.shutdown();
  }, 60_000);
});
