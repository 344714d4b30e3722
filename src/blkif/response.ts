import type { BackRing } from "../ring/back-ring.js";
import { RingEntry } from "../ring/entry.js";
import type { FrontRing } from "../ring/front-ring.js";
import { blkifResponseLayout } from "../xen/blkif-layout.js";
import "../xen/host-endian.js";
import type { BlkifAbi } from "./constants.js";
import { blkifEntrySize } from "./request.js";

const F = blkifResponseLayout.fields;

/**
 * One `struct blkif_response` in private memory: `id` (u64 at 0), `operation` (u8 at 8), `status`
 * (i16 at 10) — the same offsets in both ABIs (only the struct's tail padding differs, and a slot
 * is the size of the request anyway). The entry is a whole ring slot, so writing it zeroes the
 * rest of the slot.
 */
export class BlkifResponse {
  readonly entry: RingEntry;
  private readonly dv: DataView;

  constructor(abi: BlkifAbi = "x86_64") {
    this.entry = new RingEntry(blkifEntrySize(abi));
    this.dv = new DataView(this.entry.buffer);
  }

  /** Fill every field (and zero the rest of the slot). */
  set(idLo: number, idHi: number, operation: number, status: number): this {
    this.entry.clear();
    this.dv.setUint32(F.id.offset, idLo >>> 0, true);
    this.dv.setUint32(F.id.offset + 4, idHi >>> 0, true);
    this.dv.setUint8(F.operation.offset, operation);
    this.dv.setInt16(F.status.offset, status, true);
    return this;
  }

  /** `RING_COPY_RESPONSE(front, idx)` into this buffer. */
  readFrom(front: FrontRing, idx: number): this {
    front.copyResponse(idx, this.entry);
    return this;
  }

  /** Write into the next response slot and advance `rsp_prod_pvt`. */
  writeTo(back: BackRing): void {
    back.putResponse(this.entry);
  }

  get idLo(): number {
    return this.dv.getUint32(F.id.offset, true);
  }
  get idHi(): number {
    return this.dv.getUint32(F.id.offset + 4, true);
  }
  get operation(): number {
    return this.dv.getUint8(F.operation.offset);
  }
  get status(): number {
    return this.dv.getInt16(F.status.offset, true);
  }
}
