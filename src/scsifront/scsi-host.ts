import type { DataDirection } from "../scsi/device.js";
import {
  DMA_FROM_DEVICE,
  DMA_NONE,
  DMA_TO_DEVICE,
  VSCSIIF_ACT_SCSI_ABORT,
  VSCSIIF_ACT_SCSI_CDB,
  VSCSIIF_ACT_SCSI_RESET,
  VSCSIIF_PAGE_SIZE,
} from "../vscsiif/constants.js";
import type { VscsiifRequest } from "../vscsiif/request.js";
import { invalidArgument } from "../xen/errors.js";
import { FrontCommand, type Frontend } from "./frontend.js";
import { DID_ERROR } from "./host-byte.js";
import type { GuestMemory } from "./ports.js";

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
    for (let i = 0; i < pages; i++) {
      const f = this.memory.allocFrame();
      if (f < 0) {
        for (let j = 0; j < i; j++) this.memory.freeFrame(cmd.frames[j]!);
        return Promise.reject(new Error(`guest out of memory for a ${length}-byte transfer`));
      }
      cmd.frames[i] = f;
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
   * Send a request with hand-set fields (protocol testing): `patch` rewrites any field of the
   * built request — act, cmd_len, direction, segments, even rqid — and the raw response comes
   * back. What the backend makes of it is the point.
   */
  executeRaw(req: ScsiRequest, patch: (r: VscsiifRequest) => void): Promise<FrontCommand> {
    const cmd = new FrontCommand(1);
    cmd.channel = req.channel;
    cmd.id = req.id;
    cmd.lun = req.lun;
    cmd.setCdb(req.cdb);
    cmd.timeoutSeconds = req.timeoutSeconds ?? 30;
    return new Promise<FrontCommand>((resolve) => {
      cmd.onComplete = (c) => resolve(c);
      const r = this.frontend.submit(cmd, patch);
      if (r === "queued") this.frontend.flush();
      else {
        cmd.rslt = DID_ERROR << 16;
        cmd.host = DID_ERROR;
        resolve(cmd);
      }
    });
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
