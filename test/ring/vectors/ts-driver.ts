import { BackRing } from "../../../src/ring/back-ring.js";
import { FrontRing } from "../../../src/ring/front-ring.js";
import { SharedRing } from "../../../src/ring/shared-ring.js";
import {
  VSCSIIF_ACT_SCSI_CDB,
  VSCSIIF_ENTRY_SIZE,
  VSCSIIF_SG_TABLESIZE,
  VscsiifRequest,
  VscsiifResponse,
} from "../../../src/vscsiif/index.js";

const PAGE = 4096;

/** Fill `r` from `rqid` with the formulas of ring-driver.c's fill_request. */
export function fillRequest(r: VscsiifRequest, rqid: number): void {
  r.clear();
  r.rqid = rqid;
  r.act = VSCSIIF_ACT_SCSI_CDB;
  r.cmdLen = 6 + (rqid % 11);
  for (let i = 0; i < r.cmdLen; i++) r.cmnd[i] = (rqid * 7 + i * 13) & 0xff;
  r.timeoutPerCommand = rqid * 3;
  r.channel = rqid % 3;
  r.id = rqid % 64;
  r.lun = rqid % 8;
  r.refRqid = rqid ^ 0x5a5a;
  r.scDataDirection = rqid % 4;
  r.nrSegments = rqid % (VSCSIIF_SG_TABLESIZE + 1);
  for (let i = 0; i < r.nrSegments; i++) {
    const offset = (i * 512) % PAGE;
    r.setSeg(i, rqid * 1000 + i, offset, PAGE - offset);
  }
}

/** Fill `r` from `rqid` with the formulas of ring-driver.c's fill_response. */
export function fillResponse(r: VscsiifResponse, rqid: number): void {
  r.clear();
  r.rqid = rqid;
  r.act = VSCSIIF_ACT_SCSI_CDB;
  const senseLen = rqid % 19;
  const sense = new Uint8Array(senseLen);
  for (let i = 0; i < senseLen; i++) sense[i] = (rqid + i * 5) & 0xff;
  r.setSense(sense, senseLen);
  r.rslt = ((rqid % 21) << 16) | ((rqid * 2) & 0xff);
  r.residualLen = rqid * 37;
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

/**
 * pvscsi's side of the vector protocol: the commands of ring-driver.c, executed with
 * `SharedRing`, `FrontRing`, `BackRing` and the vscsiif codecs over one SharedArrayBuffer page.
 */
export class TsRingDriver {
  readonly page = new SharedArrayBuffer(PAGE);
  readonly sring = new SharedRing(this.page, 0, PAGE, VSCSIIF_ENTRY_SIZE);
  front = FrontRing.attach(this.sring, 0);
  back = BackRing.attach(this.sring, 0);
  private readonly req = new VscsiifRequest();
  private readonly rsp = new VscsiifResponse();

  exec(line: string): string[] {
    const [cmd, arg1, arg2] = line.trim().split(/\s+/);
    const a = arg1 === undefined ? 0 : Number(arg1) >>> 0;
    const out: string[] = [];
    const { sring, front, back } = this;
    switch (cmd) {
      case "init":
        this.front = FrontRing.init(sring);
        this.back = BackRing.init(sring);
        break;
      case "start":
        sring.init();
        sring.reqProd = sring.rspProd = a;
        sring.reqEvent = sring.rspEvent = (a + 1) >>> 0;
        this.front = FrontRing.attach(sring, a);
        this.back = BackRing.attach(sring, a);
        break;
      case "freq":
        fillRequest(this.req, a);
        this.req.writeTo(front);
        break;
      case "fpush":
        front.pushRequests();
        break;
      case "fpushn":
        out.push(`notify ${front.pushRequestsAndCheckNotify() ? 1 : 0}`);
        break;
      case "bconsume": {
        let rc = back.reqCons;
        const rp = sring.reqProd;
        if (back.requestProdOverflow(rp)) {
          out.push("prod-overflow");
          break;
        }
        while (rc !== rp) {
          if (back.requestConsOverflow(rc)) {
            out.push("cons-overflow");
            break;
          }
          this.req.readFrom(back, rc);
          rc = (rc + 1) >>> 0;
          back.reqCons = rc;
          out.push(`req ${toHex(this.req.entry.bytes)}`);
        }
        break;
      }
      case "bresp":
        fillResponse(this.rsp, a);
        this.rsp.writeTo(back);
        break;
      case "bpush":
        back.pushResponses();
        break;
      case "bpushn":
        out.push(`notify ${back.pushResponsesAndCheckNotify() ? 1 : 0}`);
        break;
      case "fconsume": {
        let rc = front.rspCons;
        const rp = sring.rspProd;
        if (front.responseProdOverflow(rp)) {
          out.push("rsp-overflow");
          break;
        }
        while (rc !== rp) {
          this.rsp.readFrom(front, rc);
          rc = (rc + 1) >>> 0;
          front.rspCons = rc;
          out.push(`rsp ${toHex(this.rsp.entry.bytes)}`);
        }
        break;
      }
      case "bfinal":
        out.push(`work ${back.finalCheckForRequests()}`);
        break;
      case "ffinal":
        out.push(`work ${front.finalCheckForResponses()}`);
        break;
      case "fstate":
        out.push(
          `free ${front.freeRequests()} full ${front.full() ? 1 : 0} unconsumed ${front.unconsumedResponses()}`,
        );
        break;
      case "bstate":
        out.push(`unconsumed ${back.unconsumedRequests()}`);
        break;
      case "findices":
        out.push(`req_prod_pvt ${front.reqProdPvt} rsp_cons ${front.rspCons}`);
        break;
      case "bindices":
        out.push(`rsp_prod_pvt ${back.rspProdPvt} req_cons ${back.reqCons}`);
        break;
      case "sindices":
        out.push(
          `req_prod ${sring.reqProd} req_event ${sring.reqEvent} rsp_prod ${sring.rspProd} rsp_event ${sring.rspEvent}`,
        );
        break;
      case "poke": {
        const v = Number(arg2) >>> 0;
        if (arg1 === "req_prod") sring.reqProd = v;
        else if (arg1 === "req_event") sring.reqEvent = v;
        else if (arg1 === "rsp_prod") sring.rspProd = v;
        else if (arg1 === "rsp_event") sring.rspEvent = v;
        else out.push("error poke");
        break;
      }
      case "bcheck":
        out.push(
          `prod-overflow ${back.requestProdOverflow(a) ? 1 : 0} cons-overflow ${back.requestConsOverflow(a) ? 1 : 0}`,
        );
        break;
      case "fcheck":
        out.push(`rsp-overflow ${front.responseProdOverflow(a) ? 1 : 0}`);
        break;
      case "dump":
        out.push(`page ${toHex(sring.bytes)}`);
        break;
      case "load":
        sring.bytes.set(Buffer.from(arg1 ?? "", "hex").subarray(0, PAGE));
        break;
      default:
        out.push(`error unknown ${cmd}`);
    }
    return out;
  }
}
