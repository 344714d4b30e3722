/**
 * A hostile (or merely hand-driven) frontend for backend tests: it writes raw vscsiif requests
 * with any field values and reads raw responses, over a real ring page in a FakeGuest's memory.
 */
import { FrontRing } from "../../src/ring/front-ring.js";
import { SharedRing } from "../../src/ring/shared-ring.js";
import type { ScsiDevice } from "../../src/scsi/device.js";
import { Vhost, type VhostOptions } from "../../src/scsiback/vhost.js";
import { VscsiifRequest } from "../../src/vscsiif/request.js";
import { VscsiifResponse } from "../../src/vscsiif/response.js";
import { VSCSIIF_ENTRY_SIZE } from "../../src/xen/vscsiif-layout.js";
import { FakeGuest } from "./fake-xen.js";

export interface RawResponse {
  rqid: number;
  rslt: number;
  senseLen: number;
  sense: number[];
  residual: number;
}

export class RawFront {
  readonly guest = new FakeGuest(512);
  readonly mapper = this.guest.mapper();
  readonly sring: SharedRing;
  readonly front: FrontRing;
  readonly back: Vhost;
  readonly req = new VscsiifRequest();
  private readonly rsp = new VscsiifResponse();
  notifies = 0;

  constructor(options: Partial<VhostOptions> = {}) {
    const frame = this.guest.allocFrame();
    this.sring = new SharedRing(this.guest.bytes.buffer, frame * 4096, 4096, VSCSIIF_ENTRY_SIZE);
    this.front = FrontRing.init(this.sring);
    this.back = new Vhost({
      frontendDomid: 1,
      devid: 0,
      initiator: { id: 7, name: "xen-pvscsi:dom1/vhost0" },
      featureHost: false,
      grants: this.mapper,
      notifier: { notify: () => this.notifies++ },
      ...options,
    });
    this.back.connect(this.sring);
  }

  attach(chn: number, tgt: number, lun: number, device: ScsiDevice, physLun = 0): void {
    this.back.translations.add({ v: { chn, tgt, lun }, device, physLun, pdev: "raw" });
  }

  /** Queue a request built by `fill` on a zeroed request (act defaults to CDB). */
  queue(fill: (r: VscsiifRequest) => void): void {
    this.req.clear();
    this.req.act = 1;
    this.req.scDataDirection = 3;
    fill(this.req);
    this.req.writeTo(this.front);
  }

  /** Publish queued requests and let the backend run. */
  kick(): void {
    this.front.pushRequests();
    while (this.back.service()) {
      /* budget exhausted: call again */
    }
  }

  /** Every response the backend has produced since the last call. */
  responses(): RawResponse[] {
    const out: RawResponse[] = [];
    const rp = this.sring.rspProd;
    while (this.front.rspCons !== rp) {
      this.rsp.readFrom(this.front, this.front.rspCons);
      this.front.rspCons = (this.front.rspCons + 1) >>> 0;
      out.push({
        rqid: this.rsp.rqid,
        rslt: this.rsp.rslt,
        senseLen: this.rsp.senseLen,
        sense: Array.from(this.rsp.senseBuffer.subarray(0, this.rsp.senseLen)),
        residual: this.rsp.residualLen,
      });
    }
    return out;
  }

  /** One request in, its response(s) out. */
  send(fill: (r: VscsiifRequest) => void): RawResponse[] {
    this.queue(fill);
    this.kick();
    return this.responses();
  }
}
