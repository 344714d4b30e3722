import type { BackRing } from "../ring/back-ring.js";
import { RingEntry } from "../ring/entry.js";
import type { FrontRing } from "../ring/front-ring.js";
import { invalidArgument } from "../xen/errors.js";
import { VSCSIIF_SENSE_BUFFERSIZE } from "./constants.js";
import "../xen/host-endian.js";
import { vscsiifResponseLayout as L, VSCSIIF_ENTRY_SIZE } from "../xen/vscsiif-layout.js";

const F = L.fields;
const H_RQID = F.rqid.offset >> 1;
const B_ACT = F.act.offset;
const B_SENSE_LEN = F.sense_len.offset;
const W_RSLT = F.rslt.offset >> 2;
const W_RESIDUAL = F.residual_len.offset >> 2;

/**
 * A `struct vscsiif_response` in private memory. The backend {@link clear}s it, sets the fields
 * and writes all 252 bytes with {@link writeTo}: `reserved` and the sense bytes past `sense_len`
 * are zero, so a response never carries bytes of an earlier one (the XSA-216 class of leak). The
 * frontend copies a response out once with {@link readFrom} and decodes from the copy.
 */
export class VscsiifResponse {
  readonly entry = new RingEntry(VSCSIIF_ENTRY_SIZE);
  /** `sense_buffer[96]`: a view into the private copy. */
  readonly senseBuffer: Uint8Array;
  private readonly u8: Uint8Array;
  private readonly u16: Uint16Array;
  private readonly i32: Int32Array;
  private readonly u32: Uint32Array;

  constructor() {
    const buf = this.entry.buffer;
    this.u8 = this.entry.bytes;
    this.u16 = new Uint16Array(buf);
    this.i32 = new Int32Array(buf);
    this.u32 = new Uint32Array(buf);
    this.senseBuffer = new Uint8Array(buf, F.sense_buffer.offset, VSCSIIF_SENSE_BUFFERSIZE);
  }

  /** `RING_COPY_RESPONSE(front, idx)` into this buffer. */
  readFrom(front: FrontRing, idx: number): this {
    front.copyResponse(idx, this.entry);
    return this;
  }

  /** Write all 252 bytes into the backend's next response slot and advance `rsp_prod_pvt`. */
  writeTo(back: BackRing): void {
    back.putResponse(this.entry);
  }

  /** Zero all 252 bytes. */
  clear(): this {
    this.entry.clear();
    return this;
  }

  get rqid(): number {
    return this.u16[H_RQID]!;
  }
  set rqid(v: number) {
    this.u16[H_RQID] = v;
  }
  get act(): number {
    return this.u8[B_ACT]!;
  }
  set act(v: number) {
    this.u8[B_ACT] = v;
  }
  get senseLen(): number {
    return this.u8[B_SENSE_LEN]!;
  }
  set senseLen(v: number) {
    this.u8[B_SENSE_LEN] = v;
  }
  /** `rslt` as C's `int32_t`. */
  get rslt(): number {
    return this.i32[W_RSLT]!;
  }
  set rslt(v: number) {
    this.i32[W_RSLT] = v;
  }
  get residualLen(): number {
    return this.u32[W_RESIDUAL]!;
  }
  set residualLen(v: number) {
    this.u32[W_RESIDUAL] = v;
  }

  /**
   * Copy `length` bytes of `sense` into `sense_buffer`, zero the rest, and set `sense_len`.
   * `length` is at most 96.
   */
  setSense(sense: Uint8Array, length: number): void {
    if (length >>> 0 !== length || length > VSCSIIF_SENSE_BUFFERSIZE || length > sense.length) {
      throw invalidArgument(
        "sense length",
        `0..${VSCSIIF_SENSE_BUFFERSIZE} and at most sense.length`,
        length,
      );
    }
    const dst = this.senseBuffer;
    for (let i = 0; i < VSCSIIF_SENSE_BUFFERSIZE; i++) dst[i] = i < length ? sense[i]! : 0;
    this.senseLen = length;
  }

  /** A plain object of every field, in Xen's names (allocates). */
  toJSON(): Record<string, unknown> {
    return {
      rqid: this.rqid,
      act: this.act,
      sense_len: this.senseLen,
      sense_buffer: Array.from(
        this.senseBuffer.subarray(0, Math.min(this.senseLen, VSCSIIF_SENSE_BUFFERSIZE)),
      ),
      rslt: this.rslt,
      residual_len: this.residualLen,
    };
  }
}

const SENSE = F.sense_buffer.offset;
const W_SENSE = SENSE >> 2;
const W_RESERVED = F.reserved.offset >> 2;
const W_END = VSCSIIF_ENTRY_SIZE >> 2;
if (
  F.rqid.offset !== 0 ||
  B_ACT !== 2 ||
  B_SENSE_LEN !== 3 ||
  SENSE !== 4 ||
  W_RSLT !== 25 ||
  W_RESIDUAL !== 26
)
  throw new Error("vscsiif_response layout is not the one writeResponse assumes");

/**
 * Write a response straight into the backend's next slot, field by field, and advance
 * `rsp_prod_pvt` — no private copy to clear and copy whole. Every one of the 252 bytes is still
 * written, as the word stores below cover the slot: `act` 0, the sense bytes past `senseLength`
 * and `reserved` zero, so no byte of what the slot held before (or of anything of the backend's)
 * reaches the frontend (XSA-216). `senseLength` is at most 96 and at most `sense.length`.
 * Allocates nothing.
 */
export function writeResponse(
  back: BackRing,
  rqid: number,
  rslt: number,
  sense: Uint8Array,
  senseLength: number,
  residual: number,
): void {
  if (
    senseLength >>> 0 !== senseLength ||
    senseLength > VSCSIIF_SENSE_BUFFERSIZE ||
    senseLength > sense.length
  ) {
    throw invalidArgument(
      "sense length",
      `0..${VSCSIIF_SENSE_BUFFERSIZE} and at most sense.length`,
      senseLength,
    );
  }
  const sring = back.sring;
  const off = back.claimResponseSlot();
  const w = sring.words;
  const base = off >> 2;
  // rqid (u16), act (u8) = 0, sense_len (u8): one little-endian word.
  w[base] = (rqid & 0xffff) | (senseLength << 24);
  let i = W_SENSE;
  if (senseLength > 0) {
    const b = sring.bytes;
    const s = off + SENSE;
    for (let k = 0; k < senseLength; k++) b[s + k] = sense[k]!;
    // Zero the rest of the word the sense ends in, then whole words.
    const endByte = SENSE + senseLength;
    const wordEnd = (endByte + 3) & ~3;
    for (let k = endByte; k < wordEnd; k++) b[off + k] = 0;
    i = wordEnd >> 2;
  }
  for (; i < W_RSLT; i++) w[base + i] = 0;
  w[base + W_RSLT] = rslt | 0;
  w[base + W_RESIDUAL] = residual | 0;
  for (i = W_RESERVED; i < W_END; i++) w[base + i] = 0;
}

/**
 * How many bytes of `sense` a response should carry, as Linux scsiback decides with
 * `scsi_normalize_sense`: a response code 0x70-0x7f is valid sense and carries
 * `min(8 + additional length, 96)` bytes; anything else carries none.
 */
export function validSenseLength(sense: Uint8Array, available: number): number {
  const n = Math.min(available, sense.length);
  if (n <= 0 || (sense[0]! & 0x70) !== 0x70) return 0;
  const additional = n > 7 ? sense[7]! : 0;
  return Math.min(8 + additional, VSCSIIF_SENSE_BUFFERSIZE, n);
}
