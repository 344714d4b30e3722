/**
 * A hostile (or merely hand-driven) frontend for backend tests: it writes raw vscsiif requests
 * with any field values and reads raw responses, over a real ring page in a FakeGuest's memory.
 * @module
 */
import { FrontRing } from "../ring/front-ring.js";
import { SharedRing } from "../ring/shared-ring.js";
import type { ScsiDevice } from "../scsi/device.js";
import { Vhost, type VhostOptions } from "../scsiback/vhost.js";
import { VscsiifRequest } from "../vscsiif/request.js";
import { VscsiifResponse } from "../vscsiif/response.js";
import { VSCSIIF_ENTRY_SIZE } from "../xen/vscsiif-layout.js";
import { FakeGuest } from "./fake-guest.js";

/** One vscsiif response as read off the ring (`struct vscsiif_response`). */
export interface RawResponse {
  /** The request id it answers. */
  rqid: number;
  /** `rslt`: host byte in bits 16-23, SCSI status in bits 0-7 (see `rsltHost`, `rsltStatus`). */
  rslt: number;
  senseLen: number;
  sense: number[];
  /** `residual_len`: bytes not transferred. */
  residual: number;
}

/**
 * A hand-driven frontend over a scsiback {@link Vhost}: it writes raw `vscsiif_request`s with any
 * field values (valid or hostile) to a real ring page and reads the raw responses back.
 */
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

  /** Attach `device` (its LUN `physLun`) at virtual `chn:tgt:lun`. */
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
