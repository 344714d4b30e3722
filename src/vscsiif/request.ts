import type { BackRing } from "../ring/back-ring.js";
import { RingEntry } from "../ring/entry.js";
import type { FrontRing } from "../ring/front-ring.js";
import { invalidArgument } from "../xen/errors.js";
import { VSCSIIF_MAX_COMMAND_SIZE, VSCSIIF_SG_GRANT, VSCSIIF_SG_TABLESIZE } from "./constants.js";
import "../xen/host-endian.js";
import {
  vscsiifRequestLayout as L,
  scsiifRequestSegmentLayout as S,
  VSCSIIF_ENTRY_SIZE,
} from "../xen/vscsiif-layout.js";

const F = L.fields;
// Typed-array indexes of each field (every field is naturally aligned).
const H_RQID = F.rqid.offset >> 1;
const B_ACT = F.act.offset;
const B_CMD_LEN = F.cmd_len.offset;
const H_TIMEOUT = F.timeout_per_command.offset >> 1;
const H_CHANNEL = F.channel.offset >> 1;
const H_ID = F.id.offset >> 1;
const H_LUN = F.lun.offset >> 1;
const H_REF_RQID = F.ref_rqid.offset >> 1;
const B_DIRECTION = F.sc_data_direction.offset;
const B_NR_SEGMENTS = F.nr_segments.offset;
const SEG = F.seg.offset;
const SEG_SIZE = S.size;
const SEG_GREF = S.fields.gref.offset;
const SEG_OFFSET = S.fields.offset.offset;
const SEG_LENGTH = S.fields.length.offset;
const W_SEG = SEG >> 2;
const SEG_WORDS = SEG_SIZE >> 2;
const W_END = VSCSIIF_ENTRY_SIZE >> 2;

/**
 * A `struct vscsiif_request` in private memory. A backend fills it with {@link readFrom} — one
 * copy of all 252 bytes out of the shared ring (`RING_COPY_REQUEST`, XSA-155) — and decodes only
 * from that copy, so a guest rewriting the slot afterwards changes nothing. A frontend fills it
 * with the setters after {@link clear} and writes it with {@link writeTo}, so unused segments and
 * `reserved` go out as zeros. Allocate one per ring end and reuse it: nothing here allocates.
 *
 * Setters store modulo the field width, as C assignment does.
 */
export class VscsiifRequest {
  readonly entry = new RingEntry(VSCSIIF_ENTRY_SIZE);
  /** `cmnd[16]`: a view into the private copy. */
  readonly cmnd: Uint8Array;
  private readonly u8: Uint8Array;
  private readonly u16: Uint16Array;
  private readonly u32: Uint32Array;

  constructor() {
    const buf = this.entry.buffer;
    this.u8 = this.entry.bytes;
    this.u16 = new Uint16Array(buf);
    this.u32 = new Uint32Array(buf);
    this.cmnd = new Uint8Array(buf, F.cmnd.offset, VSCSIIF_MAX_COMMAND_SIZE);
  }

  /** `RING_COPY_REQUEST(back, idx)` into this buffer. */
  readFrom(back: BackRing, idx: number): this {
    back.copyRequest(idx, this.entry);
    return this;
  }

  /** Write all 252 bytes into the frontend's next request slot and advance `req_prod_pvt`. */
  writeTo(front: FrontRing): void {
    front.putRequest(this.entry);
  }

  /**
   * Write this request into the frontend's next slot field by field and advance `req_prod_pvt`,
   * without a whole clear and copy: the header (every field up to `nr_segments`) and the first
   * `segments` entries of `seg[]` are copied, and the other segments and `reserved` are written
   * as zeros, so every byte of the slot is still written. The buffer therefore needs no
   * {@link clear} between requests provided every header field is set each time. Allocates nothing.
   */
  writeFieldsTo(front: FrontRing, segments: number): void {
    const n = Math.min(segments >>> 0, VSCSIIF_SG_TABLESIZE);
    const off = front.claimRequestSlot();
    const w = front.sring.words;
    const base = off >> 2;
    const src = this.entry.words!;
    const used = W_SEG + n * SEG_WORDS;
    let i = 0;
    for (; i < used; i++) w[base + i] = src[i]!;
    for (; i < W_END; i++) w[base + i] = 0;
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
  get cmdLen(): number {
    return this.u8[B_CMD_LEN]!;
  }
  set cmdLen(v: number) {
    this.u8[B_CMD_LEN] = v;
  }
  get timeoutPerCommand(): number {
    return this.u16[H_TIMEOUT]!;
  }
  set timeoutPerCommand(v: number) {
    this.u16[H_TIMEOUT] = v;
  }
  get channel(): number {
    return this.u16[H_CHANNEL]!;
  }
  set channel(v: number) {
    this.u16[H_CHANNEL] = v;
  }
  get id(): number {
    return this.u16[H_ID]!;
  }
  set id(v: number) {
    this.u16[H_ID] = v;
  }
  get lun(): number {
    return this.u16[H_LUN]!;
  }
  set lun(v: number) {
    this.u16[H_LUN] = v;
  }
  get refRqid(): number {
    return this.u16[H_REF_RQID]!;
  }
  set refRqid(v: number) {
    this.u16[H_REF_RQID] = v;
  }
  get scDataDirection(): number {
    return this.u8[B_DIRECTION]!;
  }
  set scDataDirection(v: number) {
    this.u8[B_DIRECTION] = v;
  }
  /** Raw `nr_segments`, including the `VSCSIIF_SG_GRANT` flag. */
  get nrSegments(): number {
    return this.u8[B_NR_SEGMENTS]!;
  }
  set nrSegments(v: number) {
    this.u8[B_NR_SEGMENTS] = v;
  }

  /** `seg[i].gref`. */
  segGref(i: number): number {
    return this.u32[(SEG + checkSeg(i) * SEG_SIZE + SEG_GREF) >> 2]!;
  }
  /** `seg[i].offset`. */
  segOffset(i: number): number {
    return this.u16[(SEG + checkSeg(i) * SEG_SIZE + SEG_OFFSET) >> 1]!;
  }
  /** `seg[i].length`. */
  segLength(i: number): number {
    return this.u16[(SEG + checkSeg(i) * SEG_SIZE + SEG_LENGTH) >> 1]!;
  }
  /** Set `seg[i]`. */
  setSeg(i: number, gref: number, offset: number, length: number): void {
    const base = SEG + checkSeg(i) * SEG_SIZE;
    this.u32[(base + SEG_GREF) >> 2] = gref;
    this.u16[(base + SEG_OFFSET) >> 1] = offset;
    this.u16[(base + SEG_LENGTH) >> 1] = length;
  }

  /** Copy `cdb` into `cmnd` (zero-filling the rest) and set `cmd_len`. */
  setCdb(cdb: Uint8Array, length = cdb.length): void {
    if (length > VSCSIIF_MAX_COMMAND_SIZE || length > cdb.length) {
      throw invalidArgument(
        "cdb length",
        `at most ${VSCSIIF_MAX_COMMAND_SIZE} and at most cdb.length`,
        length,
      );
    }
    const c = this.cmnd;
    for (let i = 0; i < VSCSIIF_MAX_COMMAND_SIZE; i++) c[i] = i < length ? cdb[i]! : 0;
    this.cmdLen = length;
  }

  /** A plain object of every field, in Xen's names (for logs, tests and tools; allocates). */
  toJSON(): Record<string, unknown> {
    const n = Math.min(this.nrSegments & ~VSCSIIF_SG_GRANT, VSCSIIF_SG_TABLESIZE);
    const seg = [];
    for (let i = 0; i < n; i++)
      seg.push({ gref: this.segGref(i), offset: this.segOffset(i), length: this.segLength(i) });
    return {
      rqid: this.rqid,
      act: this.act,
      cmd_len: this.cmdLen,
      cmnd: Array.from(this.cmnd),
      timeout_per_command: this.timeoutPerCommand,
      channel: this.channel,
      id: this.id,
      lun: this.lun,
      ref_rqid: this.refRqid,
      sc_data_direction: this.scDataDirection,
      nr_segments: this.nrSegments,
      seg,
    };
  }
}

function checkSeg(i: number): number {
  if (i >>> 0 !== i || i >= VSCSIIF_SG_TABLESIZE)
    throw invalidArgument("segment index", `0..${VSCSIIF_SG_TABLESIZE - 1}`, i);
  return i;
}
