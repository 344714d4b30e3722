import { describe, expect, it } from "vitest";
import { GTF_permit_access } from "../../src/grant/index.js";
import { SharedRing } from "../../src/ring/index.js";
import { type GrantMapper, Vhost } from "../../src/scsiback/index.js";
import { FrontCommand, Frontend } from "../../src/scsifront/index.js";
import { RawFront, twoDomains } from "../../src/testing/index.js";
import {
  DMA_FROM_DEVICE,
  DMA_NONE,
  DMA_TO_DEVICE,
  makeRslt,
  VSCSIIF_ENTRY_SIZE,
  VSCSIIF_SG_GRANT,
  XEN_VSCSIIF_RSLT_HOST_ERROR,
} from "../../src/vscsiif/index.js";
import { expectNoLeaks } from "../_support/domains.js";
import { TestDisk } from "../_support/test-disk.js";

/** scsifront and scsiback in one thread over a real hypervisor's grant tables, the backend mapping in batches. */
function rig() {
  const d = twoDomains(256);
  const { back, front, guest } = d;
  const fe = guest.domid;
  const mapper = back.mapper;
  const calls = { batches: 0, unmapBatches: 0 };
  const grants: GrantMapper = {
    map(ref, readonly, out) {
      const h = mapper.map(fe, ref, readonly);
      if (h < 0) return h;
      out.mem = mapper.mappedMemory(h);
      out.base = mapper.mappedOffset(h);
      out.handle = h;
      return 0;
    },
    unmap: (h) => mapper.unmap(h),
    mapBatch(refs, from, count, readonly, handles, bases, out) {
      calls.batches++;
      const failed = mapper.mapBatch(fe, refs, from, count, readonly, handles, bases);
      out.mem = mapper.granterMemory(fe) ?? out.mem;
      return failed;
    },
    unmapBatch(handles, count) {
      calls.unmapBatches++;
      return mapper.unmapBatch(handles, count);
    },
  };
  let backSignalled = false;
  let frontSignalled = false;
  const ringFrame = front.frames.alloc();
  const sring = new SharedRing(
    front.memory.buffer,
    front.memory.byteOffset + ringFrame * 4096,
    4096,
    VSCSIIF_ENTRY_SIZE,
  );
  const frontend = new Frontend({
    backendDomid: 0,
    memory: {
      bytes: front.memory,
      allocFrame: () => front.frames.alloc(),
      freeFrame: (f) => front.frames.free(f),
    },
    grants: {
      grantAccess: (f, ro) => front.grants.grantAccess(0, f, ro),
      endAccess: (r) => front.grants.endAccess(r),
    },
    notifier: {
      notify: () => {
        backSignalled = true;
      },
    },
  });
  const vhost = new Vhost({
    frontendDomid: fe,
    devid: 0,
    initiator: { id: 1, name: "test" },
    featureHost: false,
    grants,
    notifier: {
      notify: () => {
        frontSignalled = true;
      },
    },
  });
  frontend.connect(sring);
  vhost.connect(sring);
  frontend.setFeatureSgGrant(128);
  const disk = new TestDisk(4096);
  vhost.translations.add({ v: { chn: 0, tgt: 0, lun: 0 }, device: disk, physLun: 0, pdev: "test" });
  const pump = (): void => {
    for (let i = 0; i < 1000 && (backSignalled || frontSignalled); i++) {
      if (backSignalled) {
        backSignalled = false;
        if (vhost.service()) backSignalled = true;
      } else {
        frontSignalled = false;
        frontend.service();
      }
    }
  };
  const command = (op: 0x28 | 0x2a, pages: number, frames: number[]): FrontCommand => {
    const c = new FrontCommand(pages);
    c.setCdb([op, 0, 0, 0, 0, 0, 0, 0, pages * 8, 0]);
    c.direction = op === 0x2a ? DMA_TO_DEVICE : DMA_FROM_DEVICE;
    c.length = pages * 4096;
    c.frameCount = pages;
    frames.forEach((f, i) => {
      c.frames[i] = f;
    });
    return c;
  };
  return { ...d, frontend, vhost, disk, pump, command, calls, sring };
}

describe("scsiback maps a request's segments in one batch", () => {
  it("contiguous guest frames: one batch, one window per run, data round-trips; nothing left mapped", () => {
    const r = rig();
    // Two runs of adjacent frames (the guest's own memory; the data path allocates nothing there).
    const frames = [100, 101, 102, 103, 110, 111];
    const mem = r.front.memory;
    for (let i = 0; i < frames.length; i++) mem.fill(i + 1, frames[i]! * 4096, (frames[i]! + 1) * 4096);
    let windows = -1;
    const submit = r.disk.submit.bind(r.disk);
    r.disk.submit = (task) => {
      windows = task.data.count;
      submit(task);
    };
    const w = r.command(0x2a, 6, frames);
    expect(r.frontend.submit(w)).toBe("queued");
    r.frontend.flush();
    r.pump();
    expect([w.host, w.status]).toEqual([0, 0]);
    expect(windows).toBe(2);
    expect(r.calls.batches).toBe(1);
    for (let i = 0; i < 6; i++) expect(r.disk.store[i * 4096 + 17]).toBe(i + 1);
    expect(r.vhost.inFlight).toBe(0);
    expectNoLeaks(r.hv);
  });

  it("a bad ref in the middle of the batch: HOST_ERROR, the good ops unmapped, every grant ends", () => {
    const r = rig();
    const frames = [130, 131, 132, 133];
    const w = r.command(0x2a, 4, frames);
    expect(r.frontend.submit(w)).toBe("queued");
    // The hostile guest points the third page's grant outside its memory before the backend maps.
    const shadowRef = (() => {
      for (let ref = 8; ref < 64; ref++)
        if (r.front.grants.isAllocated(ref) && r.front.grants.frame(ref) === 132) return ref;
      throw new Error("no grant of frame 132");
    })();
    r.front.grants.writeEntry(shadowRef, GTF_permit_access, 0, 1 << 20);
    r.frontend.flush();
    r.pump();
    expect(w.rslt).toBe(makeRslt(XEN_VSCSIIF_RSLT_HOST_ERROR, 0));
    expect(r.vhost.stats.rejected["grant-map-failed"]).toBe(1);
    expect(r.frontend.state).toBe("connected"); // every grant ended: nothing left mapped
    expect(r.back.mapper.isMapped(0)).toBe(false);
    expectNoLeaks(r.hv);
  });
});

describe("a batch of no segments", () => {
  it("indirect pages holding no descriptors: the command runs with an empty data buffer", () => {
    const f = new RawFront();
    const disk = new TestDisk();
    f.attach(0, 0, 0, disk);
    let seen = -1;
    const submit = disk.submit.bind(disk);
    disk.submit = (task) => {
      seen = task.data.length * 1000 + task.data.count;
      submit(task);
    };
    const page = f.guest.grantAccess(f.guest.allocFrame(), true);
    const [r] = f.send((q) => {
      Object.assign(q, { rqid: 1, scDataDirection: DMA_NONE, nrSegments: VSCSIIF_SG_GRANT | 1 });
      q.setCdb(Uint8Array.of(0, 0, 0, 0, 0, 0));
      q.setSeg(0, page, 64, 0);
    });
    expect(seen).toBe(0);
    expect(r!.rslt & 0xff0000).toBe(0);
    expect(f.mapper.mapped()).toBe(0);
  });
});
