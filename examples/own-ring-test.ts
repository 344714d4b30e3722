/**
 * Example: test your own ring protocol with `pvscsi/testing`. A toy "add one" service (8-byte
 * requests and responses: an id and a number) runs over Xen's generic ring between a guest and
 * dom0 of a real in-memory hypervisor: the guest grants the ring page, dom0 maps the grant, they
 * exchange 600 requests (more than two laps of the 256-slot ring), and teardown must leave nothing
 * behind — `assertCleanedUp` throws a readable list otherwise.
 *
 * Run it: `npx tsx examples/own-ring-test.ts` (any test runner works the same way).
 */
import assert from "node:assert/strict";
import { BackRing, FrontRing, RingEntry, SharedRing } from "pvscsi/ring";
import { assertCleanedUp, twoDomains } from "pvscsi/testing";
import { XEN_PAGE_SIZE } from "pvscsi/xen";

const ENTRY = 8;
const { hv, guest, front, back } = twoDomains();

// Guest: a page for the ring, granted to dom0 (a real frontend writes the ref to xenstore).
const frame = front.frames.alloc();
const ref = front.grants.grantAccess(0, frame, false);
const frontRing = FrontRing.init(
  new SharedRing(front.memory.buffer, frame * XEN_PAGE_SIZE, XEN_PAGE_SIZE, ENTRY),
);

// dom0: map the guest's grant and attach the back end of the same ring.
const handle = back.mapper.map(guest.domid, ref, false);
assert.ok(handle >= 0, `map failed: ${handle}`);
const mem = back.mapper.mappedMemory(handle);
const backRing = BackRing.attach(
  new SharedRing(mem.buffer, mem.byteOffset + back.mapper.mappedOffset(handle), XEN_PAGE_SIZE, ENTRY),
  0,
);

const req = new RingEntry(ENTRY);
const rsp = new RingEntry(ENTRY);
const answers = new Map<number, number>();
for (let id = 0; id < 600; id++) {
  // Front: one request, published.
  const w = new DataView(req.buffer);
  w.setUint32(0, id, true);
  w.setUint32(4, id * 10, true);
  frontRing.putRequest(req);
  frontRing.pushRequests();
  // Back: consume every request (copied once into private memory), answer n + 1.
  while (backRing.unconsumedRequests() > 0) {
    backRing.copyRequest(backRing.reqCons, req);
    backRing.reqCons = (backRing.reqCons + 1) >>> 0;
    const r = new DataView(req.buffer);
    const out = new DataView(rsp.buffer);
    out.setUint32(0, r.getUint32(0, true), true);
    out.setUint32(4, r.getUint32(4, true) + 1, true);
    backRing.putResponse(rsp);
  }
  backRing.pushResponses();
  // Front: collect responses.
  while (frontRing.unconsumedResponses() > 0) {
    frontRing.copyResponse(frontRing.rspCons, rsp);
    frontRing.rspCons = (frontRing.rspCons + 1) >>> 0;
    const v = new DataView(rsp.buffer);
    answers.set(v.getUint32(0, true), v.getUint32(4, true));
  }
}
assert.equal(answers.size, 600);
for (const [id, n] of answers) assert.equal(n, id * 10 + 1);
console.log(`600 requests over a ${frontRing.size}-slot ring, all answered`);

// Teardown in a split driver's order: the backend unmaps, then the frontend ends access.
assert.throws(() => assertCleanedUp(hv), /still holds handle .* mapping dom1's ref/);
back.mapper.unmap(handle);
assert.equal(front.grants.endAccess(ref), true);
assertCleanedUp(hv);
console.log("clean: no grant mapped or live, no port bound");
