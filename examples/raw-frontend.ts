/**
 * Example: a frontend of your own against scsiback, with no scsifront. The guest's memory and
 * grant table are a `FakeGuest` (from `pvscsi/testing`); the program builds the shared ring on a
 * granted page, grants a data page, writes a `vscsiif_request` for READ(10) into the ring by
 * field, lets the backend (`Vhost`) serve it from a RAM disk, and reads the `vscsiif_response`.
 *
 * Run it: `npx tsx examples/raw-frontend.ts`.
 */
import { Vhost } from "pvscsi/back";
import { FrontRing, SharedRing } from "pvscsi/ring";
import { Disk, RamStore, TYPE_DISK } from "pvscsi/targets";
import { assertCleanedUp, FakeGuest } from "pvscsi/testing";
import {
  DMA_FROM_DEVICE,
  rsltHost,
  rsltStatus,
  VSCSIIF_ACT_SCSI_CDB,
  VscsiifRequest,
  VscsiifResponse,
} from "pvscsi/vscsiif";
import { VSCSIIF_ENTRY_SIZE, XEN_PAGE_SIZE } from "pvscsi/xen";

const guest = new FakeGuest(64);

// The ring: one page of the guest's memory, initialised by the frontend (`SHARED_RING_INIT`,
// `FRONT_RING_INIT`). A real frontend would grant it and write `ring-ref` to xenstore.
const ringFrame = guest.allocFrame();
const sring = new SharedRing(
  guest.bytes.buffer,
  ringFrame * XEN_PAGE_SIZE,
  XEN_PAGE_SIZE,
  VSCSIIF_ENTRY_SIZE,
);
const front = FrontRing.init(sring);

// The backend: a vhost mapping the guest's grants, with a 1 MiB disk at virtual 0:0:0.
let notified = 0;
const back = new Vhost({
  frontendDomid: 1,
  devid: 0,
  initiator: { id: 1, name: "xen-pvscsi:dom1/vhost0" },
  featureHost: false,
  grants: guest.mapper(),
  notifier: { notify: () => notified++ },
});
back.connect(sring);
const disk = new Disk({
  info: {
    type: TYPE_DISK,
    vendor: "EXAMPLE",
    product: "RAM DISK",
    revision: "0001",
    scsiLevel: 6,
    removable: false,
    serial: "RAM0001",
    wwn: "6001405000000002",
  },
  store: new RamStore(1 << 20),
  blockSize: 512,
});
back.translations.add({ v: { chn: 0, tgt: 0, lun: 0 }, device: disk, physLun: 0, pdev: "example" });

// One request: READ(10) of LBA 0, one block, into a page the backend may write (not read-only).
const dataFrame = guest.allocFrame();
const ref = guest.grantAccess(dataFrame, false);
const req = new VscsiifRequest().clear();
const read10 = Uint8Array.of(0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0);
function sendRead10(rqid: number): void {
  req.clear();
  req.rqid = rqid;
  req.act = VSCSIIF_ACT_SCSI_CDB;
  req.setCdb(read10);
  req.scDataDirection = DMA_FROM_DEVICE;
  req.nrSegments = 1;
  req.setSeg(0, ref, 0, 512);
  req.writeTo(front);
  if (front.pushRequestsAndCheckNotify()) while (back.service()) {}
}

// The first command of a new I_T nexus meets UNIT ATTENTION (POWER ON, RESET); send it again.
const rsp = new VscsiifResponse();
for (const rqid of [1, 2]) {
  sendRead10(rqid);
  // Read the response once into private memory, then re-arm rsp_event
  // (`RING_FINAL_CHECK_FOR_RESPONSES`) so the backend notifies again for the next one.
  rsp.readFrom(front, front.rspCons);
  front.rspCons = (front.rspCons + 1) >>> 0;
  front.finalCheckForResponses();
  console.log(
    `rqid ${rsp.rqid}: host ${rsltHost(rsp.rslt)}, status ${rsltStatus(rsp.rslt)}, sense ${rsp.senseLen} bytes, residual ${rsp.residualLen}`,
  );
}
console.log(`backend notified the frontend ${notified} times`);

// Done with the data page: end its grant; nothing may be left mapped.
guest.endAccess(ref);
assertCleanedUp(guest);
console.log("clean: no grant live, nothing mapped");
