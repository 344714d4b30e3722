/**
 * Grant map+unmap rate and GNTTABOP_copy bandwidth, in one thread (the cost of the operations
 * themselves; the lock is never contended). One iteration maps and unmaps 154 grants, a full
 * SCSI request's worth for scsiback (128 data pages and 26 indirect pages), or copies 32 pages.
 * Ratios are against the allocating variant and against a plain typed-array copy, same run.
 */
import { PerformanceObserver } from "node:perf_hooks";
import { Bench } from "tinybench";
import { GrantCopyBatch } from "../src/grant/index.js";
import { Hypervisor } from "../src/hypervisor/index.js";
import { printBench } from "./_report.js";

const GRANTS = 154;
const PAGES = 32;

const hv = new Hypervisor();
hv.createDomain({ domid: 0, name: "dom0", frames: 256, maptrackEntries: 1024 });
const guest = hv.createDomain({ name: "guest", frames: 256 });
const back = hv.context(0);
const front = hv.context(guest.domid);
const g = guest.domid;
const refs = Array.from({ length: GRANTS }, (_, i) => front.grants.grantAccess(0, i, false));
const handles = new Int32Array(GRANTS);

const toOwn = new GrantCopyBatch(PAGES);
const toGrant = new GrantCopyBatch(PAGES);
const halves = new GrantCopyBatch(PAGES * 2);
for (let i = 0; i < PAGES; i++) {
  toOwn.pushFromGrant(g, refs[i]!, 0, 128 + i, 0, 4096);
  toGrant.pushToGrant(128 + i, 0, g, refs[i]!, 0, 4096);
  halves.pushFromGrant(g, refs[i]!, 0, 128 + i, 2048, 2048);
  halves.pushFromGrant(g, refs[i]!, 2048, 128 + i, 0, 2048);
}
const src = front.memory;
const dst = back.memory;

let sink = 0;
const bench = new Bench({ name: "grant", time: 1500 });
bench
  .add(`map+unmap x${GRANTS}`, () => {
    for (let i = 0; i < GRANTS; i++) handles[i] = back.mapper.map(g, refs[i]!, false);
    for (let i = 0; i < GRANTS; i++) back.mapper.unmap(handles[i]!);
  })
  .add(`map+unmap x${GRANTS}, one ref (pins stack)`, () => {
    for (let i = 0; i < GRANTS; i++) handles[i] = back.mapper.map(g, refs[0]!, true);
    for (let i = 0; i < GRANTS; i++) back.mapper.unmap(handles[i]!);
  })
  .add(`mapView+unmap x${GRANTS} (allocating)`, () => {
    for (let i = 0; i < GRANTS; i++) {
      const m = back.mapper.mapView(g, refs[i]!, false);
      if (m.ok) {
        sink += m.bytes[0]!;
        handles[i] = m.handle;
      }
    }
    for (let i = 0; i < GRANTS; i++) back.mapper.unmap(handles[i]!);
  })
  .add(`copy ${PAGES} x 4 KiB grant -> own`, () => {
    back.mapper.copy(toOwn);
  })
  .add(`copy ${PAGES} x 4 KiB own -> grant`, () => {
    back.mapper.copy(toGrant);
  })
  .add(`copy ${PAGES * 2} x 2 KiB grant -> own (word loop)`, () => {
    back.mapper.copy(halves);
  })
  .add(`baseline: Uint8Array.set ${PAGES} x 4 KiB`, () => {
    for (let i = 0; i < PAGES; i++) dst.set(src.subarray(i * 4096, (i + 1) * 4096), (128 + i) * 4096);
  });

await bench.run();
printBench("grant map/unmap and copy (one thread)", bench);

const mean = (name: string): number => {
  const r = bench.tasks.find((t) => t.name.startsWith(name))!.result;
  if (r.state !== "completed") throw new Error(`${name}: ${r.state}`);
  return r.latency.mean; // ms per iteration
};
const mapMs = mean("map+unmap x");
const oneRefMs = mean(`map+unmap x${GRANTS}, one ref`);
const viewMs = mean("mapView");
const copyInMs = mean(`copy ${PAGES} x 4 KiB grant`);
const copyOutMs = mean(`copy ${PAGES} x 4 KiB own`);
const halvesMs = mean(`copy ${PAGES * 2} x 2 KiB`);
const setMs = mean("baseline");
const bytes = PAGES * 4096;
console.table([
  {
    figure: "map+unmap pairs/s (distinct refs)",
    value: Math.round((GRANTS / mapMs) * 1000).toLocaleString("en-US"),
  },
  {
    figure: "map+unmap pairs/s (one ref)",
    value: Math.round((GRANTS / oneRefMs) * 1000).toLocaleString("en-US"),
  },
  { figure: "copy grant->own GB/s", value: (bytes / copyInMs / 1e6).toFixed(2) },
  { figure: "copy own->grant GB/s", value: (bytes / copyOutMs / 1e6).toFixed(2) },
  { figure: "copy 2 KiB segments GB/s", value: (bytes / halvesMs / 1e6).toFixed(2) },
  { figure: "Uint8Array.set GB/s", value: (bytes / setMs / 1e6).toFixed(2) },
  { figure: "ratio mapView / map time", value: (viewMs / mapMs).toFixed(2) },
  { figure: "ratio copy / Uint8Array.set time", value: (copyInMs / setMs).toFixed(2) },
]);
if (sink === -1) console.log(sink);

// The hot paths allocate nothing: run them for a while and count garbage collections.
let gcs = 0;
const obs = new PerformanceObserver((list) => {
  gcs += list.getEntries().length;
});
obs.observe({ entryTypes: ["gc"] });
for (let round = 0; round < 20_000; round++) {
  for (let i = 0; i < GRANTS; i++) handles[i] = back.mapper.map(g, refs[i]!, (i & 1) === 0);
  for (let i = 0; i < GRANTS; i++) back.mapper.unmap(handles[i]!);
  back.mapper.copy(halves);
}
await new Promise((resolve) => setTimeout(resolve, 100));
obs.disconnect();
console.log(`garbage collections during 20,000 rounds of ${GRANTS} map+unmap and a 64-segment copy: ${gcs}`);
for (const r of refs) front.grants.endAccess(r);
