import { queryVbdDisk } from "../../src/blkback/disk-query.js";
import { VbdRing, type VbdRingOptions } from "../../src/blkback/vbd-ring.js";
import type { BlkifAbi } from "../../src/blkif/constants.js";
import { BlkifRequest, blkifEntrySize } from "../../src/blkif/request.js";
import { BlkifResponse } from "../../src/blkif/response.js";
import { FrontRing } from "../../src/ring/front-ring.js";
import { SharedRing } from "../../src/ring/shared-ring.js";
import type { ScsiDevice } from "../../src/scsi/device.js";
import { Disk } from "../../src/targets/sbc/disk.js";
import { FakeGuest } from "../../src/testing/fake-guest.js";

export const INFO = {
  type: 0,
  vendor: "PVSCSI",
  product: "RAMDISK",
  revision: "0001",
  scsiLevel: 6,
  removable: false,
  serial: "R0",
  wwn: "6001405000000042",
};

/** One blkif response as read off the ring. */
export interface RawBlkResponse {
  id: number;
  operation: number;
  status: number;
}

/**
 * A hand-driven (possibly hostile) blkfront over a real blkback {@link VbdRing}: raw requests in
 * any layout, raw responses out, on a ring page in a FakeGuest's memory.
 */
export class RawBlkFront {
  readonly guest = new FakeGuest(512);
  readonly mapper = this.guest.mapper();
  readonly sring: SharedRing;
  readonly front: FrontRing;
  readonly req: BlkifRequest;
  readonly rsp: BlkifResponse;
  back!: VbdRing;
  notifies = 0;

  private constructor(readonly abi: BlkifAbi) {
    const frame = this.guest.allocFrame();
    this.sring = new SharedRing(this.guest.bytes.buffer, frame * 4096, 4096, blkifEntrySize(abi));
    this.front = FrontRing.init(this.sring);
    this.req = new BlkifRequest(abi);
    this.rsp = new BlkifResponse(abi);
  }

  /** A front and a blkback ring over `device` (a RAM disk of 2048 sectors by default). */
  static async create(
    options: Partial<VbdRingOptions> & { device?: ScsiDevice; readonly?: boolean } = {},
  ): Promise<RawBlkFront> {
    const f = new RawBlkFront(options.abi ?? "x86_64");
    const device = options.device ?? Disk.ram(INFO, 2048, 512, { thin: true });
    const disk = await queryVbdDisk(
      device,
      0,
      { id: 99, name: "blkback:test" },
      { readonly: options.readonly ?? false },
    );
    if (typeof disk === "string") throw new Error(disk);
    f.back = new VbdRing({
      frontendDomid: 1,
      handle: 51712,
      abi: f.abi,
      disk,
      grants: f.mapper,
      notifier: { notify: () => f.notifies++ },
      maxIndirectSegments: 256,
      persistent: false,
      ...options,
    });
    f.back.connect(f.sring);
    return f;
  }

  /** A frame granted to the backend (read-only when `ro`), filled with `fill`. */
  page(ro: boolean, fill = 0): { frame: number; ref: number } {
    const frame = this.guest.allocFrame();
    this.guest.frameBytes(frame).fill(fill);
    return { frame, ref: this.guest.grantAccess(frame, ro) };
  }

  queue(fill: (r: BlkifRequest) => void): void {
    this.req.clear();
    fill(this.req);
    this.req.writeTo(this.front);
  }

  kick(): void {
    this.front.pushRequests();
    for (let i = 0; i < 1000 && this.back.service(); i++) {
      /* budget ran out: again */
    }
  }

  responses(): RawBlkResponse[] {
    const out: RawBlkResponse[] = [];
    const rp = this.sring.rspProd;
    while (this.front.rspCons !== rp) {
      this.rsp.readFrom(this.front, this.front.rspCons);
      this.front.rspCons = (this.front.rspCons + 1) >>> 0;
      out.push({
        id: this.rsp.idHi * 2 ** 32 + this.rsp.idLo,
        operation: this.rsp.operation,
        status: this.rsp.status,
      });
    }
    return out;
  }

  /** Settle asynchronous device completions, then read responses. */
  async settle(): Promise<RawBlkResponse[]> {
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    return this.responses();
  }

  send(fill: (r: BlkifRequest) => void): RawBlkResponse[] {
    this.queue(fill);
    this.kick();
    return this.responses();
  }
}
