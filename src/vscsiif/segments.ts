import { invalidArgument } from "../xen/errors.js";
import { scsiifRequestSegmentLayout as S, vscsiifRequestLayout } from "../xen/vscsiif-layout.js";
import { VSCSIIF_SG_PER_PAGE, VSCSIIF_SG_TABLESIZE } from "./constants.js";
import type { VscsiifRequest } from "./request.js";

const G = S.fields.gref;
const O = S.fields.offset;
const L = S.fields.length;

/** `sizeof(struct scsiif_request_segment)`: the stride of `seg[]` and of an indirect page. */
export const SEGMENT_SIZE = S.size;
/** Byte offset of `gref` inside a segment descriptor. */
export const SEGMENT_GREF_OFFSET = G.offset;
/** Byte offset of `offset` inside a segment descriptor. */
export const SEGMENT_OFFSET_OFFSET = O.offset;
/** Byte offset of `length` inside a segment descriptor. */
export const SEGMENT_LENGTH_OFFSET = L.offset;

// `seg[]` must hold a whole number of descriptors, or the codec and the C probe would disagree
// about where `reserved` starts.
if (vscsiifRequestLayout.fields.seg.size !== VSCSIIF_SG_TABLESIZE * SEGMENT_SIZE) {
  throw new Error("vscsiif_request.seg is not a whole number of segment descriptors");
}

/** Indirect pages needed for `n` descriptors (`DIV_ROUND_UP(n, VSCSIIF_SG_PER_PAGE)`). */
export function indirectPages(n: number): number {
  return Math.ceil(n / VSCSIIF_SG_PER_PAGE);
}

/**
 * A scatter-gather list of `struct scsiif_request_segment`s in private memory: what a request's
 * data is made of, whether the descriptors travel in `seg[]` or in indirect pages
 * (`VSCSIIF_SG_GRANT`). Preallocated to a capacity and reused: nothing here allocates after
 * construction. The frontend fills one per command (Linux `scsifront_gather_sgl` /
 * `map_data_for_request`); the backend fills one per request before mapping
 * (Linux `scsiback_gnttab_data_map`).
 */
export class SegmentList {
  /** `gref` of each descriptor. */
  readonly gref: Uint32Array;
  /** `offset` of each descriptor, in its page. */
  readonly offset: Uint16Array;
  /** `length` of each descriptor. */
  readonly length: Uint16Array;
  /** Descriptors in use. */
  count = 0;

  constructor(capacity: number) {
    this.gref = new Uint32Array(capacity);
    this.offset = new Uint16Array(capacity);
    this.length = new Uint16Array(capacity);
  }

  /** Descriptors the list can hold. */
  get capacity(): number {
    return this.gref.length;
  }

  /** Empty the list (the arrays are kept). */
  clear(): void {
    this.count = 0;
  }

  /** Append one descriptor; stores modulo the field width, as C assignment does. */
  push(gref: number, offset: number, length: number): void {
    const i = this.count;
    if (i >= this.gref.length) throw invalidArgument("segment count", `at most ${this.gref.length}`, i + 1);
    this.gref[i] = gref;
    this.offset[i] = offset;
    this.length[i] = length;
    this.count = i + 1;
  }
}

/**
 * `seg[0..n)` of `req` appended to `list` (in-ring descriptors; the caller has checked
 * `n ≤ VSCSIIF_SG_TABLESIZE`).
 */
export function readRequestSegments(req: VscsiifRequest, n: number, list: SegmentList): void {
  for (let i = 0; i < n; i++) list.push(req.segGref(i), req.segOffset(i), req.segLength(i));
}

/** `list[from..from+n)` written to `seg[0..n)` of `req`. */
export function writeRequestSegments(req: VscsiifRequest, list: SegmentList, from: number, n: number): void {
  for (let i = 0; i < n; i++)
    req.setSeg(i, list.gref[from + i]!, list.offset[from + i]!, list.length[from + i]!);
}

/**
 * `n` descriptors read from an indirect page's bytes at `mem[at..]` and appended to `list`
 * (Linux `scsiback_gnttab_data_map` reading a `VSCSIIF_SG_GRANT` page). Bytes are decoded
 * little-endian, field by field at the layout's offsets, because `at` need not be aligned in
 * the granting domain's memory.
 */
export function readIndirectSegments(mem: Uint8Array, at: number, n: number, list: SegmentList): void {
  for (let k = 0; k < n; k++, at += SEGMENT_SIZE) {
    list.push(
      loadLE(mem, at + G.offset, G.size),
      loadLE(mem, at + O.offset, O.size),
      loadLE(mem, at + L.offset, L.size),
    );
  }
}

/**
 * `list[from..from+n)` written as descriptors into an indirect page's bytes at `mem[at..]`
 * (Linux `map_data_for_request` filling `shadow->sg` before granting the page read-only).
 */
export function writeIndirectSegments(
  mem: Uint8Array,
  at: number,
  list: SegmentList,
  from: number,
  n: number,
): void {
  for (let k = 0; k < n; k++, at += SEGMENT_SIZE) {
    const i = from + k;
    storeLE(mem, at + G.offset, G.size, list.gref[i]!);
    storeLE(mem, at + O.offset, O.size, list.offset[i]!);
    storeLE(mem, at + L.offset, L.size, list.length[i]!);
  }
}

/** An unsigned little-endian field of `size` bytes (at most 4). */
function loadLE(mem: Uint8Array, at: number, size: number): number {
  let v = 0;
  for (let b = size - 1; b >= 0; b--) v = v * 256 + mem[at + b]!;
  return v;
}

/** Store `v` as an unsigned little-endian field of `size` bytes (at most 4). */
function storeLE(mem: Uint8Array, at: number, size: number, v: number): void {
  for (let b = 0; b < size; b++, v = Math.floor(v / 256)) mem[at + b] = v & 0xff;
}
