import type { DataDirection } from "../scsi/device.js";
import {
  DMA_FROM_DEVICE,
  DMA_NONE,
  DMA_TO_DEVICE,
  VSCSIIF_ACT_SCSI_ABORT,
  VSCSIIF_ACT_SCSI_CDB,
  VSCSIIF_ACT_SCSI_RESET,
  VSCSIIF_PAGE_SIZE,
  VSCSIIF_SG_TABLESIZE,
} from "../vscsiif/constants.js";
import type { VscsiifRequest } from "../vscsiif/request.js";
import { invalidArgument } from "../xen/errors.js";
import { FrontCommand, type Frontend } from "./frontend.js";

export type { FrontCommand };

import { DID_ERROR } from "./host-byte.js";
import type { GuestMemory } from "./ports.js";
import type { SavedCommand } from "./saved-state.js";

/** A SCSI command as guest software issues it (an `SG_IO`-like request). */
export interface ScsiRequest {
  readonly channel: number;
  readonly id: number;
  readonly lun: number;
  readonly cdb: ArrayLike<number>;
  /** Data to send (data-out). */
  readonly dataOut?: Uint8Array;
  /** Bytes to receive (data-in). */
  readonly dataInLength?: number;
  readonly timeoutSeconds?: number;
}

/** What came back. */
export interface ScsiResult {
  /** SAM status byte. */
  readonly status: number;
  /** Linux host byte (`DID_*`). */
  readonly host: number;
  readonly sense: Uint8Array;
  readonly residual: number;
  /** Data-in actually received (length = requested − residual). */
  readonly data: Uint8Array;
}

/** One `seg[]` entry a {@link GuestScsiHost.sendRaw} caller sets by hand. */
export interface RawSegment {
  readonly index: number;
  readonly gref: number;
  readonly offset: number;
  readonly length: number;
}

/**
 * Fields of `struct vscsiif_request` (Xen `io/vscsiif.h`) a protocol probe may override; unset
 * ones keep what the driver built.
 */
export interface RawRequestFields {
  readonly act?: number;
  readonly cmdLen?: number;
  readonly scDataDirection?: number;
  readonly nrSegments?: number;
  readonly refRqid?: number;
  readonly timeoutPerCommand?: number;
  readonly rqid?: number;
  /** Segments at indexes of 26 and above are ignored (`seg[]` has 26). */
  readonly segs?: readonly RawSegment[];
}

/** The raw `struct vscsiif_response` of a {@link GuestScsiHost.sendRaw}, and the driver's state after it. */
export interface RawResult {
  /** `rslt` as received (or DID_ERROR in the host byte when the ring refused the request). */
  readonly rslt: number;
  /** `sense_buffer[0..sense_len)`. */
  readonly sense: Uint8Array;
  readonly residual: number;
}

/**
 * The guest's SCSI midlayer as the low-level driver sees it, the calls Linux's xen-scsifront
 * makes into the midlayer: `scsi_add_host`/`scsi_remove_host` for a controller, and for each LUN
 * the backend announces `scsi_device_lookup`, `scsi_add_device` and `scsi_remove_device`. The
 * midlayer itself (sd/st/ch/sg, `lsscsi`) lives above the driver, in the guest.
 */
export interface ScsiMidlayer {
  addHost(host: GuestScsiHost): void;
  removeHost(hostNo: number): void;
  /** The device at this address if the midlayer has one (`scsi_device_lookup`). */
  find(hostNo: number, channel: number, id: number, lun: number): object | undefined;
  /** Probe and add the LUN (`scsi_add_device`: INQUIRY, then an upper driver attaches). */
  addDevice(host: GuestScsiHost, channel: number, id: number, lun: number): Promise<object>;
  /** Remove the LUN; false if there was none. */
  removeDevice(hostNo: number, channel: number, id: number, lun: number): boolean;
  /**
   * A command restored with a resumed kernel (its issuer did not come along): the midlayer sets
   * its completion — retry on DID_RESET as for any command, then give its pages back.
   */
  adopt?(host: GuestScsiHost, cmd: FrontCommand): void;
}

/**
 * The guest's view of one vscsi controller: a SCSI host (`scsiN`) whose commands go through a
 * {@link Frontend}. It plays the part of Linux's SCSI midlayer queue: data is bounced through
 * freshly allocated guest pages (the guest's own memory, granted per command), and commands the
 * ring cannot take yet ("host busy") wait in FIFO order until a completion frees a slot.
 *
 * Not a hot path: benchmarks drive {@link Frontend} with preallocated commands directly.
 */
export class GuestScsiHost {
  readonly hostNo: number;
  readonly frontend: Frontend;
  private readonly memory: GuestMemory;
  private readonly waiting: FrontCommand[] = [];

  constructor(hostNo: number, frontend: Frontend, memory: GuestMemory) {
    this.hostNo = hostNo;
    this.frontend = frontend;
    this.memory = memory;
  }

  /** Commands waiting for a ring slot. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Run one command; resolves when its response arrives. */
  execute(req: ScsiRequest): Promise<ScsiResult> {
    const outLen = req.dataOut?.length ?? 0;
    const inLen = req.dataInLength ?? 0;
    if (outLen > 0 && inLen > 0)
      throw invalidArgument("request", "either dataOut or dataInLength, not both", "both");
    const length = outLen || inLen;
    if (length > this.frontend.maxTransfer) {
      throw invalidArgument(
        "transfer length",
        `at most ${this.frontend.maxTransfer} bytes (sg_tablesize ${this.frontend.sgTablesize})`,
        length,
      );
    }
    const direction: DataDirection = outLen > 0 ? DMA_TO_DEVICE : inLen > 0 ? DMA_FROM_DEVICE : DMA_NONE;
    const pages = Math.ceil(length / VSCSIIF_PAGE_SIZE);
    const cmd = new FrontCommand(Math.max(1, pages));
    cmd.channel = req.channel;
    cmd.id = req.id;
    cmd.lun = req.lun;
    cmd.act = VSCSIIF_ACT_SCSI_CDB;
    cmd.setCdb(req.cdb);
    cmd.direction = direction;
    cmd.timeoutSeconds = req.timeoutSeconds ?? 30;
    cmd.length = length;
    cmd.frameCount = pages;
    const mem = this.memory.bytes;
    if (!this.allocBuffer(cmd.frames, pages)) {
      return Promise.reject(new Error(`guest out of memory for a ${length}-byte transfer`));
    }
    for (let i = 0; i < pages; i++) {
      const f = cmd.frames[i]!;
      if (outLen > 0) {
        const at = i * VSCSIIF_PAGE_SIZE;
        mem.set(req.dataOut!.subarray(at, Math.min(at + VSCSIIF_PAGE_SIZE, outLen)), f * VSCSIIF_PAGE_SIZE);
      }
    }
    return new Promise<ScsiResult>((resolve) => {
      cmd.onComplete = (c) => {
        const got = direction === DMA_FROM_DEVICE ? Math.max(0, Math.min(length, length - c.residual)) : 0;
        const data = new Uint8Array(got);
        for (let i = 0, at = 0; at < got; i++, at += VSCSIIF_PAGE_SIZE) {
          const f = c.frames[i]!;
          data.set(
            mem.subarray(
              f * VSCSIIF_PAGE_SIZE,
              f * VSCSIIF_PAGE_SIZE + Math.min(VSCSIIF_PAGE_SIZE, got - at),
            ),
            at,
          );
        }
        // A frame still granted to a misbehaving backend is never reused (the frontend is in error).
        if (this.frontend.state !== "error")
          for (let i = 0; i < pages; i++) this.memory.freeFrame(c.frames[i]!);
        resolve({
          status: c.status,
          host: c.host,
          sense: c.sense.slice(0, c.senseLength),
          residual: c.residual,
          data,
        });
      };
      this.enqueue(cmd);
    });
  }

  /**
   * The protocol developer's debug entry: send one request whose `struct vscsiif_request` fields
   * are set by hand after the driver built it — act, cmd_len, direction, nr_segments, segments,
   * even rqid — and return the raw response. What the backend makes of a malformed request is
   * the point; Linux has no such path (xen-scsifront only sends what `scsifront_queuecommand`
   * builds), so it is kept here, in the low-level driver, where the ring is.
   */
  sendRaw(req: ScsiRequest, fields: RawRequestFields): Promise<RawResult> {
    const cmd = new FrontCommand(1);
    cmd.channel = req.channel;
    cmd.id = req.id;
    cmd.lun = req.lun;
    cmd.setCdb(req.cdb);
    cmd.timeoutSeconds = req.timeoutSeconds ?? 30;
    const patch = (r: VscsiifRequest): void => {
      if (fields.act !== undefined) r.act = fields.act;
      if (fields.cmdLen !== undefined) r.cmdLen = fields.cmdLen;
      if (fields.scDataDirection !== undefined) r.scDataDirection = fields.scDataDirection;
      if (fields.nrSegments !== undefined) r.nrSegments = fields.nrSegments;
      if (fields.refRqid !== undefined) r.refRqid = fields.refRqid;
      if (fields.timeoutPerCommand !== undefined) r.timeoutPerCommand = fields.timeoutPerCommand;
      if (fields.rqid !== undefined) r.rqid = fields.rqid;
      for (const s of fields.segs ?? [])
        if (s.index < VSCSIIF_SG_TABLESIZE) r.setSeg(s.index, s.gref, s.offset, s.length);
    };
    return new Promise<RawResult>((resolve) => {
      const done = (c: FrontCommand): void =>
        resolve({
          rslt: c.rslt,
          sense: c.sense.slice(0, c.senseLength),
          residual: c.residual,
        });
      cmd.onComplete = done;
      const r = this.frontend.submit(cmd, patch);
      if (r === "queued") this.frontend.flush();
      else {
        cmd.rslt = DID_ERROR << 16;
        cmd.host = DID_ERROR;
        done(cmd);
      }
    });
  }

  /**
   * The other half of the debug entry: act as a hostile frontend and push the shared ring's
   * `req_prod` `n` slots past what was produced, then notify the backend (Linux scsiback must
   * answer with "bogus ring requests" and halt the ring). Returns the new `req_prod`, or null
   * when the controller is not connected.
   */
  overflowRequests(n: number): number | null {
    const ring = this.frontend.sharedRing;
    if (!ring) return null;
    ring.reqProd = (ring.reqProd + n) >>> 0;
    this.frontend.kick();
    return ring.reqProd;
  }

  /**
   * Why the driver put this host in its permanent error state (Linux `scsifront_set_error`), or
   * null while it serves.
   */
  get hostError(): string | null {
    return this.frontend.state === "error" ? this.frontend.errorReason : null;
  }

  /** Largest transfer one command may carry, in bytes (Linux's `max_sectors` × 512). */
  get maxTransfer(): number {
    return this.frontend.maxTransfer;
  }

  /**
   * A command with its own guest pages for `length` bytes, built once and resubmitted with
   * {@link submitPrepared} from its completion callback: a load generator's path, with no Promise,
   * closure or buffer per command. Release its pages with {@link releasePrepared}.
   */
  prepareCommand(
    channel: number,
    id: number,
    lun: number,
    direction: DataDirection,
    length: number,
  ): FrontCommand {
    const pages = Math.ceil(length / VSCSIIF_PAGE_SIZE);
    const c = new FrontCommand(Math.max(1, pages));
    c.channel = channel;
    c.id = id;
    c.lun = lun;
    c.direction = direction;
    c.length = length;
    c.frameCount = pages;
    if (!this.allocBuffer(c.frames, pages))
      throw new Error("guest out of memory for a prepared command's buffers");
    return c;
  }

  /**
   * `pages` frames for a data buffer into `frames`: adjacent ones when the guest's allocator can
   * (the backend then copies the buffer in one piece), else one at a time. False, with nothing
   * left allocated, when memory ran out.
   */
  private allocBuffer(frames: Int32Array, pages: number): boolean {
    const memory = this.memory;
    if (pages > 1 && memory.allocFrames !== undefined) {
      const first = memory.allocFrames(pages);
      if (first >= 0) {
        for (let i = 0; i < pages; i++) frames[i] = first + i;
        return true;
      }
    }
    for (let i = 0; i < pages; i++) {
      const f = memory.allocFrame();
      if (f < 0) {
        for (let j = 0; j < i; j++) memory.freeFrame(frames[j]!);
        return false;
      }
      frames[i] = f;
    }
    return true;
  }

  /** Put a prepared command on the ring (published by {@link flushPrepared}); false if the ring refused it. */
  submitPrepared(cmd: FrontCommand): boolean {
    return this.frontend.submit(cmd) === "queued";
  }

  /** Publish prepared commands and notify the backend if it asked (`RING_PUSH_REQUESTS_AND_CHECK_NOTIFY`). */
  flushPrepared(): void {
    this.frontend.flush();
  }

  /** Give a prepared command's pages back to the guest. */
  releasePrepared(cmd: FrontCommand): void {
    for (let p = 0; p < cmd.frameCount; p++) this.memory.freeFrame(cmd.frames[p]!);
    cmd.frameCount = 0;
  }

  /** ABORT the command in flight with `rqid` at (channel, id, lun); resolves to SUCCESS or not. */
  abort(channel: number, id: number, lun: number, rqid: number): Promise<boolean> {
    return this.taskManagement(VSCSIIF_ACT_SCSI_ABORT, channel, id, lun, rqid);
  }

  /** RESET the device at (channel, id, lun) (Linux's `eh_device_reset_handler`). */
  reset(channel: number, id: number, lun: number): Promise<boolean> {
    return this.taskManagement(VSCSIIF_ACT_SCSI_RESET, channel, id, lun, 0);
  }

  /** The event handler: take responses, then start what was waiting for a slot, then publish. */
  onEvent(): void {
    this.frontend.service();
    this.pump();
    // Completion callbacks may have queued follow-up commands (a benchmark's next I/O): one push.
    this.frontend.flush();
  }

  /** The guest memory commands are bounced through (for tools that preallocate their buffers). */
  get guestMemory(): GuestMemory {
    return this.memory;
  }

  /**
   * Put a command that completed with DID_RESET back on the queue, as the midlayer's
   * `ACTION_RETRY` does (`__scsi_queue_insert`): it keeps its pages and its callback, waits
   * behind the commands already waiting, and is submitted when the ring takes commands again
   * (after a resume, once the backend is Connected).
   */
  requeue(cmd: FrontCommand): void {
    this.waiting.push(cmd);
    this.pump();
  }

  /** The commands waiting for a slot, as data (a suspended kernel being saved). */
  saveWaiting(): SavedCommand[] {
    return this.waiting.map((c) => c.toSaved(-1));
  }

  /** The host was unblocked (a resume finished): submit what waited, and publish it. */
  kick(): void {
    this.pump();
    this.frontend.flush();
  }

  /** Fail everything waiting (the host went away or into the error state). */
  failWaiting(): void {
    for (const cmd of this.waiting.splice(0)) {
      cmd.rslt = DID_ERROR << 16;
      cmd.host = DID_ERROR;
      cmd.status = 0;
      cmd.residual = cmd.length;
      cmd.senseLength = 0;
      cmd.onComplete?.(cmd);
    }
  }

  private taskManagement(
    act: number,
    channel: number,
    id: number,
    lun: number,
    refRqid: number,
  ): Promise<boolean> {
    const cmd = new FrontCommand(1);
    cmd.act = act;
    cmd.channel = channel;
    cmd.id = id;
    cmd.lun = lun;
    cmd.refRqid = refRqid;
    return new Promise<boolean>((resolve) => {
      cmd.onComplete = (c) => resolve(c.tmfSucceeded);
      this.enqueue(cmd);
    });
  }

  private enqueue(cmd: FrontCommand): void {
    this.waiting.push(cmd);
    this.pump();
  }

  private pump(): void {
    let submitted = false;
    while (this.waiting.length > 0) {
      const r = this.frontend.submit(this.waiting[0]!);
      if (r === "busy") break;
      const cmd = this.waiting.shift()!;
      if (r === "error") {
        this.waiting.unshift(cmd);
        this.failWaiting();
        break;
      }
      submitted = true;
    }
    if (submitted) this.frontend.flush();
  }
}
