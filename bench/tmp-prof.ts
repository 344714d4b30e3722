import { Hypervisor } from "../src/domain/hypervisor.js";
import { SharedRing } from "../src/ring/shared-ring.js";
import { Vhost } from "../src/scsiback/vhost.js";
import { FrontCommand, Frontend } from "../src/scsifront/frontend.js";
import { NullDevice } from "../src/targets/null-device.js";
import { VSCSIIF_ENTRY_SIZE } from "../src/vscsiif/layout.js";

const hv = new Hypervisor();
const d0 = hv.createDomain({ domid: 0, name: "d0", frames: 256 });
const g = hv.createDomain({ name: "g", frames: 1024 });
const back = hv.context(0);
back.introducePeer(g);
const front = hv.context(g.domid);
front.introducePeer(d0);
const rf = front.frames.alloc();
const sring = new SharedRing(front.memory.buffer, rf * 4096, 4096, VSCSIIF_ENTRY_SIZE);
const fe = new Frontend({
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
  notifier: { notify() {} },
});
fe.connect(sring);
const mapper = back.mapper;
const dev = new NullDevice({
  type: 0,
  vendor: "N",
  product: "N",
  revision: "1",
  scsiLevel: 5,
  removable: false,
  serial: "1",
  wwn: "5000000000000001",
} as never);
const vh = new Vhost({
  frontendDomid: g.domid,
  devid: 0,
  initiator: { id: 1, name: "x" },
  featureHost: false,
  grants: {
    map(ref, ro, out) {
      const h = mapper.map(g.domid, ref, ro);
      if (h < 0) return h;
      out.mem = mapper.mappedMemory(h);
      out.base = mapper.mappedOffset(h);
      out.handle = h;
      return 0;
    },
    unmap: (h) => mapper.unmap(h),
  },
  notifier: { notify() {} },
});
vh.connect(sring);
vh.translations.add({ v: { chn: 0, tgt: 0, lun: 0 }, device: dev as never, physLun: 0, pdev: "x" });
let done = 0;
const cmds: FrontCommand[] = [];
for (let i = 0; i < 16; i++) {
  const c = new FrontCommand(1);
  c.setCdb([0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0]);
  c.direction = 2;
  c.length = 4096;
  c.frameCount = 1;
  c.frames[0] = front.frames.alloc();
  c.onComplete = (x) => {
    done++;
    fe.submit(x);
  };
  cmds.push(c);
}
for (const c of cmds) fe.submit(c);
fe.flush();
const N = Number(process.argv[2] ?? 2_000_000);
const t0 = performance.now();
while (done < N) {
  vh.service();
  fe.service();
  fe.flush();
}
const s = (performance.now() - t0) / 1000;
console.log(
  `${done} requests in ${s.toFixed(2)} s: ${Math.round(done / s).toLocaleString()} /s, ${((s * 1e9) / done).toFixed(0)} ns each (both sides, one thread)`,
);
