/**
 * A hostile frontend: a guest that writes its ring by hand, with attack classes named after the
 * Xen security advisories they exercise. The simulator runs it beside honest guests against the
 * same backend; the backend must answer protocol-correctly (or halt that one ring), never crash,
 * never touch memory it was not granted, leave nothing mapped once the guest is gone, and never
 * stop the honest guests' progress. Usable on its own against any {@link Vhost}-shaped backend.
 * @module
 */
import { BackRing } from "../ring/back-ring.js";
import { FrontRing } from "../ring/front-ring.js";
import type { SharedRing } from "../ring/shared-ring.js";
import { MappedFrame } from "../scsiback/ports.js";
import type { FakeGuest } from "../testing/fake-guest.js";
import {
  DMA_FROM_DEVICE,
  DMA_NONE,
  DMA_TO_DEVICE,
  VSCSIIF_ACT_SCSI_ABORT,
  VSCSIIF_ACT_SCSI_CDB,
  VSCSIIF_ACT_SCSI_RESET,
  VSCSIIF_SG_GRANT,
} from "../vscsiif/constants.js";
import { VscsiifRequest } from "../vscsiif/request.js";
import { VscsiifResponse } from "../vscsiif/response.js";

/**
 * An attack class (docs/sim.md describes each):
 * - `xsa-155-double-fetch`: rewrite requests after pushing them, before and after the backend
 *   read them (it must copy once and act on one consistent copy);
 * - `xsa-216-padding`: fill slots with 0xff before writing requests, so a response that does not
 *   clear its padding, reserved words and unused sense bytes leaks them (checked on every response);
 * - `xsa-332-event-storm`: bursts of requests and notifications, including invalid `act`s;
 * - `xsa-362-grant-map-errors`: segments naming refs never granted, or read-only grants for data-in;
 * - `xsa-396-grant-revocation`: grant a page, push the request, revoke the grant before the map;
 * - `ring-overflow`: `req_prod` pushed past the ring (the backend must halt this ring only);
 * - `bad-rqid`: rqids reused while outstanding, and out of range;
 * - `bad-segments`: `nr_segments` past 26, segments outside their page, indirect pages with
 *   garbage descriptors or too many of them.
 */
export type AttackClass =
  | "xsa-155-double-fetch"
  | "xsa-216-padding"
  | "xsa-332-event-storm"
  | "xsa-362-grant-map-errors"
  | "xsa-396-grant-revocation"
  | "ring-overflow"
  | "bad-rqid"
  | "bad-segments";

/** Every attack class. */
export const ATTACK_CLASSES: readonly AttackClass[] = [
  "xsa-155-double-fetch",
  "xsa-216-padding",
  "xsa-332-event-storm",
  "xsa-362-grant-map-errors",
  "xsa-396-grant-revocation",
  "ring-overflow",
  "bad-rqid",
  "bad-segments",
];

/** Offsets in `struct vscsiif_response` that must be zero beyond what the backend answers. */
const RSP_PAD = 2;
const RSP_SENSE_LEN = 3;
const RSP_SENSE = 4;
const RSP_SENSE_SIZE = 96;
const RSP_RESERVED = 108;
const RSP_SIZE = 252;

/**
 * Why a response at byte `off` of `bytes` leaks (XSA-216): a non-zero padding byte, sense byte
 * past `sense_len`, or reserved byte. Null when clean.
 */
export function responseLeak(bytes: Uint8Array, off: number): string | null {
  if (bytes[off + RSP_PAD] !== 0) return `padding byte is 0x${bytes[off + RSP_PAD]!.toString(16)}`;
  const senseLen = Math.min(bytes[off + RSP_SENSE_LEN]!, RSP_SENSE_SIZE);
  for (let i = senseLen; i < RSP_SENSE_SIZE; i++) {
    if (bytes[off + RSP_SENSE + i] !== 0) return `sense byte ${i} (past sense_len ${senseLen}) is non-zero`;
  }
  for (let i = RSP_RESERVED; i < RSP_SIZE; i++) {
    if (bytes[off + i] !== 0) return `reserved byte ${i - RSP_RESERVED} is non-zero`;
  }
  return null;
}

/** How a hostile frontend draws its choices (the simulator's {@link Chooser}). */
export interface AttackChoices {
  pick(n: number): number;
}

/**
 * A hostile guest's frontend over its own ring page: each {@link attack} writes some requests of
 * one attack class and pushes them. It tracks nothing a backend could rely on.
 */
export class HostileFront {
  readonly front: FrontRing;
  private readonly req = new VscsiifRequest();
  /** Data frames it granted, to revoke or reuse. */
  private readonly frames: number[] = [];
  /** Requests it wrote (for the double fetch). */
  private readonly written: number[] = [];

  constructor(
    readonly sring: SharedRing,
    private readonly mem: FakeGuest,
    private readonly notify: () => void,
    private readonly luns: number,
  ) {
    this.front = FrontRing.init(sring);
    for (let i = 0; i < 8; i++) {
      const f = mem.allocFrame();
      if (f >= 0) this.frames.push(f);
    }
  }

  /** Responses waiting; the hostile guest reads and drops them (and checks them for leaks). */
  drain(onResponse: (bytes: Uint8Array, off: number) => void): number {
    let n = 0;
    const rp = this.sring.rspProd;
    while (this.front.rspCons !== rp) {
      onResponse(this.sring.bytes, this.sring.slotOffset(this.front.rspCons));
      this.front.rspCons = (this.front.rspCons + 1) >>> 0;
      n++;
    }
    return n;
  }

  /** One attack of class `a`; returns what it did, for the trace. */
  attack(a: AttackClass, c: AttackChoices): string {
    const free = this.front.freeRequests();
    switch (a) {
      case "xsa-155-double-fetch": {
        if (this.written.length > 0 && c.pick(2) === 0) {
          // Rewrite what is already on the ring: the backend may or may not have copied it yet.
          let n = 0;
          const answered = this.sring.rspProd;
          for (const idx of this.written.splice(0)) {
            // A slot the backend answered holds its response now: rewriting that would only
            // corrupt what this guest reads, not what the backend acted on.
            if (((idx - answered) | 0) < 0) continue;
            const off = this.sring.slotOffset(idx);
            this.sring.bytes[off + 3] = 0xff; // cmd_len
            this.sring.bytes[off + 2] = 1 + c.pick(4); // act
            this.sring.bytes[off + 250] = 0xff; // nr_segments
            n++;
          }
          return `rewrote ${n} pushed requests`;
        }
        return this.valid(c, Math.min(free, 1 + c.pick(3)), true);
      }
      case "xsa-216-padding":
        return this.valid(c, Math.min(free, 1 + c.pick(3)), false, true);
      case "xsa-332-event-storm": {
        const n = Math.min(free, 1 + c.pick(16));
        for (let i = 0; i < n; i++) {
          this.fill(c.pick(16), (r) => {
            r.act = c.pick(3) === 0 ? 0x40 + c.pick(100) : VSCSIIF_ACT_SCSI_CDB;
          });
        }
        this.push();
        for (let i = 0; i < 8; i++) this.notify();
        return `${n} requests, 8 notifications`;
      }
      case "xsa-362-grant-map-errors": {
        if (free === 0) return "ring full";
        const ro = c.pick(2) === 0;
        const ref = ro ? this.mem.grantAccess(this.frames[0]!, true) : 0x7fff0000 + c.pick(1000);
        this.fill(c.pick(16), (r) => {
          r.scDataDirection = DMA_FROM_DEVICE;
          setRead(r, c.pick(this.luns), 8);
          r.setSeg(0, ref, 0, 4096);
          r.nrSegments = 1;
        });
        this.push();
        return ro ? `read into read-only ref ${ref}` : `ungranted ref ${ref}`;
      }
      case "xsa-396-grant-revocation": {
        if (free === 0) return "ring full";
        const f = this.frames[c.pick(this.frames.length)]!;
        const ref = this.mem.grantAccess(f, false);
        this.fill(c.pick(16), (r) => {
          r.scDataDirection = DMA_FROM_DEVICE;
          setRead(r, c.pick(this.luns), 8);
          r.setSeg(0, ref, 0, 4096);
          r.nrSegments = 1;
        });
        this.push();
        // Revoke now: refused if the backend already mapped it, else the backend's map fails.
        const ended = this.mem.endAccess(ref);
        return `ref ${ref} ${ended ? "revoked before the map" : "refused (mapped)"}`;
      }
      case "ring-overflow": {
        const by = 17 + c.pick(1000);
        this.sring.reqProd = (this.sring.reqProd + by) >>> 0;
        this.notify();
        return `req_prod += ${by}`;
      }
      case "bad-rqid": {
        const n = Math.min(free, 1 + c.pick(4));
        const rqid = c.pick(2) === 0 ? 0xffff - c.pick(4) : c.pick(3);
        for (let i = 0; i < n; i++) this.fill(rqid, (r) => setTur(r, c.pick(this.luns)));
        this.push();
        return `${n} requests with rqid ${rqid}`;
      }
      case "bad-segments": {
        if (free === 0) return "ring full";
        const kind = c.pick(4);
        const ref = this.mem.grantAccess(this.frames[1]!, false);
        this.fill(c.pick(16), (r) => {
          r.scDataDirection = DMA_FROM_DEVICE;
          setRead(r, c.pick(this.luns), 8);
          if (kind === 0) {
            r.nrSegments = 27 + c.pick(200);
          } else if (kind === 1) {
            r.setSeg(0, ref, 4096 - c.pick(512), 512 + c.pick(4096));
            r.nrSegments = 1;
          } else {
            // Indirect: the descriptor page is the granted frame, full of whatever it holds.
            const page = this.mem.frameBytes(this.frames[1]!);
            for (let i = 0; i < 64; i++) page[i] = c.pick(256);
            r.setSeg(0, ref, 0, kind === 2 ? 8 * (1 + c.pick(512)) : 4096 + 8);
            r.nrSegments = VSCSIIF_SG_GRANT | 1;
          }
        });
        this.push();
        return `kind ${kind} with ref ${ref}`;
      }
    }
  }

  /** Valid requests (TEST UNIT READY, READ, WRITE, ABORT, RESET), optionally over 0xff-filled slots. */
  private valid(c: AttackChoices, n: number, remember: boolean, dirtySlots = false): string {
    for (let i = 0; i < n; i++) {
      if (dirtySlots) {
        const off = this.sring.slotOffset(this.front.reqProdPvt);
        this.sring.bytes.fill(0xff, off, off + RSP_SIZE);
      }
      if (remember) this.written.push(this.front.reqProdPvt);
      const kind = c.pick(5);
      const lun = c.pick(this.luns);
      this.fill(c.pick(16), (r) => {
        if (kind === 0) setTur(r, lun);
        else if (kind === 3) {
          r.act = VSCSIIF_ACT_SCSI_ABORT;
          r.lun = lun;
          r.refRqid = c.pick(16);
        } else if (kind === 4) {
          r.act = VSCSIIF_ACT_SCSI_RESET;
          r.lun = lun;
        } else {
          const f = this.frames[c.pick(this.frames.length)]!;
          const write = kind === 2;
          const ref = this.mem.grantAccess(f, write);
          r.scDataDirection = write ? DMA_TO_DEVICE : DMA_FROM_DEVICE;
          r.cmdLen = 10;
          r.cmnd.set([write ? 0x2a : 0x28, 0, 0, 0, 0, c.pick(8), 0, 0, 8, 0]);
          r.lun = lun;
          r.setSeg(0, ref, 0, 4096);
          r.nrSegments = 1;
        }
      });
    }
    this.push();
    return `${n} valid requests`;
  }

  private fill(rqid: number, set: (r: VscsiifRequest) => void): void {
    const r = this.req;
    r.clear();
    r.rqid = rqid;
    r.act = VSCSIIF_ACT_SCSI_CDB;
    r.scDataDirection = DMA_NONE;
    set(r);
    r.writeTo(this.front);
  }

  private push(): void {
    if (this.front.pushRequestsAndCheckNotify()) this.notify();
  }
}

function setTur(r: VscsiifRequest, lun: number): void {
  r.cmdLen = 6;
  r.cmnd.fill(0, 0, 6);
  r.lun = lun;
}

function setRead(r: VscsiifRequest, lun: number, blocks: number): void {
  r.cmdLen = 10;
  r.cmnd.set([0x28, 0, 0, 0, 0, 0, 0, 0, blocks, 0]);
  r.lun = lun;
}

/**
 * An attack class of the hostile backend, against a frontend (docs/sim.md):
 * - `bad-rqid`: answers with an rqid out of range or not in flight;
 * - `duplicate-response`: answers one request twice;
 * - `rsp-prod-overflow`: pushes `rsp_prod` past what was requested;
 * - `sense-len-overflow`: `sense_len` 97–255 (the buffer holds 96);
 * - `residual-overflow`: `residual_len` beyond the transfer;
 * - `keep-mapped`: maps a data grant and never unmaps it (XSA-396 from the other side);
 * - `drop-response`: never answers a request.
 */
export type BackAttackClass =
  | "bad-rqid"
  | "duplicate-response"
  | "rsp-prod-overflow"
  | "sense-len-overflow"
  | "residual-overflow"
  | "keep-mapped"
  | "drop-response"
  | "garbage-response";

/** Every attack class of {@link HostileBack}. */
export const BACK_ATTACK_CLASSES: readonly BackAttackClass[] = [
  "bad-rqid",
  "duplicate-response",
  "rsp-prod-overflow",
  "sense-len-overflow",
  "residual-overflow",
  "keep-mapped",
  "drop-response",
  "garbage-response",
];

/** What {@link HostileBack} maps a grant with (scsiback's `GrantMapper` shape). */
export interface HostileMapper {
  map(ref: number, readonly: boolean, out: MappedFrame): number;
}

/**
 * A hostile backend over a frontend's ring: it consumes every request and answers each either
 * correctly (GOOD, nothing moved... so a READ's data is whatever the page held) or with one attack
 * of the classes it was given. The frontend must complete each command exactly once, or fail its
 * host for good, and never crash or touch memory outside its own buffers.
 */
export class HostileBack {
  readonly back: BackRing;
  private readonly req = new VscsiifRequest();
  private readonly rsp = new VscsiifResponse();
  private readonly mapped = new MappedFrame();
  private readonly garbage = new Uint8Array(96);

  constructor(
    readonly sring: SharedRing,
    private readonly mapper: HostileMapper,
    private readonly notify: () => void,
    /**
     * How an honest answer is made (default: GOOD, no data moved). A harness with a device of
     * its own fills `rsp` (and the request's data pages) here.
     */
    private readonly honest: ((req: VscsiifRequest, rsp: VscsiifResponse) => void) | null = null,
  ) {
    this.back = BackRing.init(sring);
  }

  /** Consume what the frontend pushed and answer it; returns what it did, for the trace. */
  service(attacks: readonly BackAttackClass[], c: AttackChoices): string {
    const rp = this.sring.reqProd;
    const did: string[] = [];
    let overflow = false;
    while (this.back.reqCons !== rp) {
      if (this.back.requestConsOverflow(this.back.reqCons)) break;
      this.req.readFrom(this.back, this.back.reqCons);
      this.back.reqCons = (this.back.reqCons + 1) >>> 0;
      const honest = attacks.length === 0 || c.pick(3) === 0;
      const a = honest ? null : attacks[c.pick(attacks.length)]!;
      const rqid = this.req.rqid;
      this.rsp.clear();
      this.rsp.rqid = rqid;
      switch (a) {
        case "bad-rqid":
          this.rsp.rqid = c.pick(2) === 0 ? 16 + c.pick(0xffef) : c.pick(16);
          break;
        case "sense-len-overflow":
          this.rsp.rslt = 2; // CHECK CONDITION
          this.rsp.senseLen = 97 + c.pick(159);
          break;
        case "residual-overflow":
          this.rsp.residualLen = 0x10000 + c.pick(0x7fff0000);
          break;
        case "keep-mapped":
          if ((this.req.nrSegments & 0x7f) > 0 && (this.req.nrSegments & VSCSIIF_SG_GRANT) === 0) {
            this.mapper.map(this.req.segGref(0), this.req.scDataDirection === DMA_TO_DEVICE, this.mapped);
          }
          break;
        case "drop-response":
          did.push(`dropped rqid ${rqid}`);
          continue;
        case "garbage-response": {
          // Every field random: rqid, act, rslt, residual, sense_len up to 255 and its bytes.
          this.rsp.rqid = c.pick(0x10000);
          this.rsp.act = c.pick(256);
          this.rsp.rslt = (c.pick(0x10000) * 0x10000 + c.pick(0x10000)) >>> 0;
          this.rsp.residualLen = (c.pick(0x10000) * 0x10000 + c.pick(0x10000)) >>> 0;
          const sense = this.garbage;
          for (let i = 0; i < sense.length; i++) sense[i] = c.pick(256);
          this.rsp.setSense(sense, sense.length);
          this.rsp.senseLen = c.pick(256);
          break;
        }
        case null:
          this.honest?.(this.req, this.rsp);
          break;
        default:
          break;
      }
      if (a === "rsp-prod-overflow") overflow = true;
      this.rsp.writeTo(this.back);
      if (a === "duplicate-response") this.rsp.writeTo(this.back);
      did.push(a === null ? `rqid ${rqid} ok` : `rqid ${rqid} ${a}`);
    }
    // Pushed past what was requested: whenever a request drew this class, and now and then besides.
    if ((overflow || attacks.includes("rsp-prod-overflow")) && (overflow || c.pick(8) === 0)) {
      this.back.rspProdPvt = (this.back.rspProdPvt + 17 + c.pick(100)) >>> 0;
      did.push("rsp_prod overflow");
    }
    if (this.back.pushResponsesAndCheckNotify()) this.notify();
    // Re-arm req_event (RING_FINAL_CHECK_FOR_REQUESTS): more requests arrived means run again.
    // (Not after CONS_OVERFLOW, which its own rsp_prod games cause: that would spin.)
    const stuck = this.back.reqCons !== rp && this.back.requestConsOverflow(this.back.reqCons);
    if (this.back.finalCheckForRequests() !== 0 && !stuck) did.push("more");
    return did.join(", ");
  }
}
