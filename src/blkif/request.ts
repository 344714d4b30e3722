import type { BackRing } from "../ring/back-ring.js";
import { RingEntry } from "../ring/entry.js";
import type { FrontRing } from "../ring/front-ring.js";
import {
  BLKIF_ENTRY_SIZE_X86_32,
  BLKIF_ENTRY_SIZE_X86_64,
  blkifRequestDiscardLayout,
  blkifRequestIndirectLayout,
  blkifRequestLayout,
  blkifRequestSegmentLayout,
  blkifX86_32Layouts,
} from "../xen/blkif-layout.js";
import { invalidArgument } from "../xen/errors.js";
import "../xen/host-endian.js";
import {
  BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST,
  BLKIF_MAX_SEGMENTS_PER_REQUEST,
  type BlkifAbi,
} from "./constants.js";

/** Byte offsets of every field a request codec touches, for one ABI (from the probed layouts). */
interface Offsets {
  readonly entrySize: number;
  readonly id: number;
  readonly sector: number;
  readonly seg: number;
  readonly discardFlag: number;
  readonly discardNrSectors: number;
  readonly indirectNrSegments: number;
  readonly indirectHandle: number;
  readonly indirectGrefs: number;
}

function offsets(abi: BlkifAbi): Offsets {
  const rw = abi === "x86_64" ? blkifRequestLayout : blkifX86_32Layouts.request;
  const d = abi === "x86_64" ? blkifRequestDiscardLayout : blkifX86_32Layouts.discard;
  const ind = abi === "x86_64" ? blkifRequestIndirectLayout : blkifX86_32Layouts.indirect;
  return Object.freeze({
    entrySize: abi === "x86_64" ? BLKIF_ENTRY_SIZE_X86_64 : BLKIF_ENTRY_SIZE_X86_32,
    id: rw.fields.id.offset,
    sector: rw.fields.sector_number.offset,
    seg: rw.fields.seg.offset,
    discardFlag: d.fields.flag.offset,
    discardNrSectors: d.fields.nr_sectors.offset,
    indirectNrSegments: ind.fields.nr_segments.offset,
    indirectHandle: ind.fields.handle.offset,
    indirectGrefs: ind.fields.indirect_grefs.offset,
  });
}

const OFFSETS: Readonly<Record<BlkifAbi, Offsets>> = { x86_64: offsets("x86_64"), x86_32: offsets("x86_32") };
const SEG_SIZE = blkifRequestSegmentLayout.size;
const SEG_FIRST = blkifRequestSegmentLayout.fields.first_sect.offset;
const SEG_LAST = blkifRequestSegmentLayout.fields.last_sect.offset;
const B_OPERATION = blkifRequestLayout.fields.operation.offset;
const B_NR_SEGMENTS = blkifRequestLayout.fields.nr_segments.offset;
const B_INDIRECT_OP = blkifRequestIndirectLayout.fields.indirect_op.offset;
const H_HANDLE = blkifRequestLayout.fields.handle.offset;

/** The size of one ring entry (the request/response union) in `abi`. */
export function blkifEntrySize(abi: BlkifAbi): number {
  return OFFSETS[abi].entrySize;
}

/**
 * One blkif request in private memory, read through the layout of its ABI: the plain READ/WRITE
 * form (`struct blkif_request`), DISCARD (`blkif_request_discard`) or INDIRECT
 * (`blkif_request_indirect`) — they share `operation` at 0 and `id` and `sector_number`. A
 * backend fills it with {@link readFrom}, one copy of the whole slot (`RING_COPY_REQUEST`,
 * XSA-155), and decodes only that copy. A frontend sets fields after {@link clear} and writes it
 * with {@link writeTo}. Nothing here allocates; `id` is kept as two u32 halves so no BigInt is
 * made per request.
 */
export class BlkifRequest {
  readonly abi: BlkifAbi;
  readonly entry: RingEntry;
  private readonly dv: DataView;
  private readonly o: Offsets;

  constructor(abi: BlkifAbi = "x86_64") {
    this.abi = abi;
    this.o = OFFSETS[abi];
    this.entry = new RingEntry(this.o.entrySize);
    this.dv = new DataView(this.entry.buffer);
  }

  /** `RING_COPY_REQUEST(back, idx)` into this buffer. */
  readFrom(back: BackRing, idx: number): this {
    back.copyRequest(idx, this.entry);
    return this;
  }

  /** Write the whole entry into the next request slot (`RING_GET_REQUEST(req_prod_pvt)`) and advance. */
  writeTo(front: FrontRing): void {
    front.putRequest(this.entry);
  }

  /** Zero every byte before filling a new request. */
  clear(): this {
    this.entry.clear();
    return this;
  }

  get operation(): number {
    return this.dv.getUint8(B_OPERATION);
  }
  set operation(v: number) {
    this.dv.setUint8(B_OPERATION, v);
  }
  /** `nr_segments` of a READ/WRITE/BARRIER/FLUSH request (u8). */
  get nrSegments(): number {
    return this.dv.getUint8(B_NR_SEGMENTS);
  }
  set nrSegments(v: number) {
    this.dv.setUint8(B_NR_SEGMENTS, v);
  }
  /** `handle` of a READ/WRITE or DISCARD request. */
  get handle(): number {
    return this.dv.getUint16(H_HANDLE, true);
  }
  set handle(v: number) {
    this.dv.setUint16(H_HANDLE, v, true);
  }
  /** Low 32 bits of `id` (same offset in every request form). */
  get idLo(): number {
    return this.dv.getUint32(this.o.id, true);
  }
  /** High 32 bits of `id`. */
  get idHi(): number {
    return this.dv.getUint32(this.o.id + 4, true);
  }
  /** Set `id` from a non-negative safe integer. */
  setId(id: number): this {
    this.dv.setUint32(this.o.id, id >>> 0, true);
    this.dv.setUint32(this.o.id + 4, Math.floor(id / 2 ** 32) >>> 0, true);
    return this;
  }
  /** Set `id` from its two u32 halves (any u64). */
  setId64(hi: number, lo: number): this {
    this.dv.setUint32(this.o.id, lo >>> 0, true);
    this.dv.setUint32(this.o.id + 4, hi >>> 0, true);
    return this;
  }
  /** `sector_number` as a number; values above 2^53 lose precision but stay above any disk's size. */
  get sectorNumber(): number {
    return this.dv.getUint32(this.o.sector + 4, true) * 2 ** 32 + this.dv.getUint32(this.o.sector, true);
  }
  set sectorNumber(v: number) {
    this.dv.setUint32(this.o.sector, v >>> 0, true);
    this.dv.setUint32(this.o.sector + 4, Math.floor(v / 2 ** 32) >>> 0, true);
  }
  /** Set `sector_number` from its two u32 halves (any u64, for values past 2^53). */
  setSectorNumber64(hi: number, lo: number): this {
    this.dv.setUint32(this.o.sector, lo >>> 0, true);
    this.dv.setUint32(this.o.sector + 4, hi >>> 0, true);
    return this;
  }
  /** `seg[i].gref` of a direct request. */
  segGref(i: number): number {
    return this.dv.getUint32(this.o.seg + i * SEG_SIZE, true);
  }
  /** `seg[i].first_sect`. */
  segFirstSect(i: number): number {
    return this.dv.getUint8(this.o.seg + i * SEG_SIZE + SEG_FIRST);
  }
  /** `seg[i].last_sect`. */
  segLastSect(i: number): number {
    return this.dv.getUint8(this.o.seg + i * SEG_SIZE + SEG_LAST);
  }
  /** Fill `seg[i]` (i < 11). */
  setSegment(i: number, gref: number, firstSect: number, lastSect: number): this {
    if (!(i >= 0 && i < BLKIF_MAX_SEGMENTS_PER_REQUEST))
      throw invalidArgument("segment index", `0..${BLKIF_MAX_SEGMENTS_PER_REQUEST - 1}`, i);
    const off = this.o.seg + i * SEG_SIZE;
    this.dv.setUint32(off, gref >>> 0, true);
    this.dv.setUint8(off + SEG_FIRST, firstSect);
    this.dv.setUint8(off + SEG_LAST, lastSect);
    return this;
  }

  /** DISCARD's `flag` (`BLKIF_DISCARD_SECURE`). */
  get discardFlag(): number {
    return this.dv.getUint8(this.o.discardFlag);
  }
  set discardFlag(v: number) {
    this.dv.setUint8(this.o.discardFlag, v);
  }
  /** DISCARD's `nr_sectors` as a number (precision as {@link sectorNumber}). */
  get discardNrSectors(): number {
    const o = this.o.discardNrSectors;
    return this.dv.getUint32(o + 4, true) * 2 ** 32 + this.dv.getUint32(o, true);
  }
  set discardNrSectors(v: number) {
    const o = this.o.discardNrSectors;
    this.dv.setUint32(o, v >>> 0, true);
    this.dv.setUint32(o + 4, Math.floor(v / 2 ** 32) >>> 0, true);
  }

  /** INDIRECT's `indirect_op` (READ or WRITE). */
  get indirectOp(): number {
    return this.dv.getUint8(B_INDIRECT_OP);
  }
  set indirectOp(v: number) {
    this.dv.setUint8(B_INDIRECT_OP, v);
  }
  /** INDIRECT's `nr_segments` (u16). */
  get indirectNrSegments(): number {
    return this.dv.getUint16(this.o.indirectNrSegments, true);
  }
  set indirectNrSegments(v: number) {
    this.dv.setUint16(this.o.indirectNrSegments, v, true);
  }
  /** INDIRECT's `handle` (after `sector_number`, unlike the other forms). */
  get indirectHandle(): number {
    return this.dv.getUint16(this.o.indirectHandle, true);
  }
  set indirectHandle(v: number) {
    this.dv.setUint16(this.o.indirectHandle, v, true);
  }
  /** INDIRECT's `indirect_grefs[i]`. */
  indirectGref(i: number): number {
    return this.dv.getUint32(this.o.indirectGrefs + i * 4, true);
  }
  /** Set `indirect_grefs[i]` (i < 8). */
  setIndirectGref(i: number, gref: number): this {
    if (!(i >= 0 && i < BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST))
      throw invalidArgument("indirect page index", `0..${BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST - 1}`, i);
    this.dv.setUint32(this.o.indirectGrefs + i * 4, gref >>> 0, true);
    return this;
  }
}

/** `struct blkif_request_segment` read from an indirect page (`mem` at byte `off`). */
export function indirectSegment(mem: Uint8Array, off: number): { gref: number; first: number; last: number } {
  const gref = (mem[off]! | (mem[off + 1]! << 8) | (mem[off + 2]! << 16) | (mem[off + 3]! << 24)) >>> 0;
  return { gref, first: mem[off + SEG_FIRST]!, last: mem[off + SEG_LAST]! };
}

/** Write `struct blkif_request_segment` into an indirect page (`mem` at byte `off`). */
export function writeIndirectSegment(
  mem: Uint8Array,
  off: number,
  gref: number,
  first: number,
  last: number,
): void {
  mem[off] = gref & 255;
  mem[off + 1] = (gref >>> 8) & 255;
  mem[off + 2] = (gref >>> 16) & 255;
  mem[off + 3] = (gref >>> 24) & 255;
  mem[off + SEG_FIRST] = first;
  mem[off + SEG_LAST] = last;
  mem[off + 6] = 0;
  mem[off + 7] = 0;
}

/** Byte size of one segment descriptor. */
export const BLKIF_SEGMENT_SIZE = SEG_SIZE;
