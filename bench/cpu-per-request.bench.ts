/**
 * CPU microseconds per request on the data path, in ONE thread with no waits: a scsifront
 * {@link Frontend} and a scsiback {@link Vhost} over a real hypervisor's grant table (map, unmap,
 * grant and end access with their locks and compare-and-swaps), notifications turned into flags.
 * Two loads: a null-device 4 KiB READ and a 128 KiB READ from a RAM disk, QD16. This is the
 * ceiling of one core; profile it with
 *
 *     node --cpu-prof --import tsx bench/cpu-per-request.bench.ts
 *
 * Usage: `npx tsx bench/cpu-per-request.bench.ts [seconds per load, default 2] [null|ram]`.
 */
import { GNTST_eagain } from "../src/grant/index.js";
import { SharedRing } from "../src/ring/index.js";
import type { ScsiDevice } from "../src/scsi/device.js";
import { type GrantMapper, Vhost } from "../src/scsiback/index.js";
import { FrontCommand, Frontend } from "../src/scsifront/index.js";
import { Disk, NULL_DEVICE_INFO, NullDevice, RamStore } from "../src/targets/index.js";
import { twoDomains } from "../src/testing/index.js";
import { DMA_FROM_DEVICE, VSCSIIF_ENTRY_SIZE } from "../src/vscsiif/index.js";

const seconds = Number(process.argv[2] ?? 2);
/** `null` or `ram` to run one load only (for a profile of it). */
const only = process.argv[3] ?? "";

function rig(device: ScsiDevice, length: number, qd: number) {
  const { back, front, guest } = twoDomains(2048, { maptrackEntries: 4096 });
  back.introducePeer(guest);
  let backSignalled = false;
  let frontSignalled = false;
  const ringFrame = front.frames.alloc();
  const sring = new SharedRing(
    front.memory.buffer,
    front.memory.byteOffset + ringFrame * 4096,
    4096,
    VSCSIIF_ENTRY_SIZE,
  );
  const fe = front.domid;
  const mapper = back.mapper;
  const grants: GrantMapper = {
    map(ref, readonly, out) {
      let h = mapper.map(fe, ref, readonly);
      for (let i = 0; i < 3 && h === GNTST_eagain; i++) h = mapper.map(fe, ref, readonly);
      if (h < 0) return h;
      out.mem = mapper.mappedMemory(h);
      out.base = mapper.mappedOffset(h);
      out.handle = h;
      return 0;
    },
    unmap: (h) => mapper.unmap(h),
    // As BackendDevice's port: GNTTABOP_map_grant_ref with a count (absent before the batch API).
    ...(typeof mapper.mapBatch === "function"
      ? {
          mapBatch(refs, from, count, readonly, handles, bases, out) {
            const failed = mapper.mapBatch(fe, refs, from, count, readonly, handles, bases);
            out.mem = mapper.granterMemory(fe) ?? out.mem;
            return failed;
          },
          unmapBatch: (handles: Int32Array, count: number) => mapper.unmapBatch(handles, count),
        }
      : {}),
  };
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
    initiator: { id: 1, name: "bench" },
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
  vhost.translations.add({ v: { chn: 0, tgt: 0, lun: 0 }, device, physLun: 0, pdev: "bench" });
  let done = 0;
  let bad = 0;
  const cmds: FrontCommand[] = [];
  const pages = Math.ceil(length / 4096);
  for (let i = 0; i < qd; i++) {
    const c = new FrontCommand(pages);
    c.setCdb([0x28, 0, 0, 0, (i * pages * 8) >> 8, (i * pages * 8) & 0xff, 0, 0, length >> 9, 0]);
    c.direction = DMA_FROM_DEVICE;
    c.length = length;
    c.frameCount = pages;
    for (let p = 0; p < pages; p++) c.frames[p] = front.frames.alloc();
    c.onComplete = (cmd) => {
      done++;
      // The first command after attach may meet the unit attention of a power-on; others must pass.
      if (cmd.status !== 0 && ++bad > 16) throw new Error(`status ${cmd.status} host ${cmd.host}`);
      frontend.submit(cmd);
    };
    cmds.push(c);
  }
  return {
    start() {
      for (const c of cmds) frontend.submit(c);
      frontend.flush();
    },
    /** Run until `n` requests completed; returns the count. */
    run(n: number): number {
      const stop = done + n;
      while (done < stop) {
        if (backSignalled) {
          backSignalled = false;
          if (vhost.service()) backSignalled = true;
        }
        if (frontSignalled) {
          frontSignalled = false;
          frontend.service();
          frontend.flush();
        }
        if (!backSignalled && !frontSignalled) {
          // Polling both ends: nobody asked for a notification, so look anyway.
          backSignalled = true;
          frontSignalled = true;
        }
      }
      return done;
    },
  };
}

function measure(name: string, device: ScsiDevice, length: number): void {
  const r = rig(device, length, 16);
  r.start();
  r.run(20_000); // warm up
  let n = 0;
  const t0 = process.cpuUsage();
  const w0 = performance.now();
  while (performance.now() - w0 < seconds * 1000) {
    r.run(2_000);
    n += 2_000;
  }
  const cpu = process.cpuUsage(t0);
  const us = (cpu.user + cpu.system) / n;
  const wall = (performance.now() - w0) / 1000;
  console.log(
    `${name.padEnd(28)} ${us.toFixed(2).padStart(7)} CPU µs/request  ${Math.round(n / wall)
      .toLocaleString("en-US")
      .padStart(9)} req/s  ${((n * length) / wall / 1e9).toFixed(2)} GB/s`,
  );
}

if (only !== "ram") measure("null 4 KiB READ, QD16", new NullDevice(NULL_DEVICE_INFO), 4096);
if (only !== "null")
  measure(
    "RAM 128 KiB READ, QD16",
    new Disk({ info: NULL_DEVICE_INFO, blockSize: 512, store: new RamStore(64 << 20), writeCache: false }),
    128 * 1024,
  );
