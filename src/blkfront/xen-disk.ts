import { BLKIF_OP_DISCARD, BLKIF_RSP_ERROR } from "../blkif/constants.js";
import type { BlkCommand, BlkfrontRing } from "./blkfront-ring.js";

/** What the backend told the frontend about the disk (read at its Connected). */
export interface XenDiskInfo {
  /** The guest's name, `xvda`…. */
  readonly name: string;
  /** The `virtual-device` number (the devid). */
  readonly vdev: number;
  /** Size in 512-byte sectors. */
  readonly sectors: number;
  /** `sector-size`: the logical block size. */
  readonly sectorSize: number;
  /** `physical-sector-size` (defaults to `sector-size`). */
  readonly physicalSectorSize: number;
  readonly readonly: boolean;
  readonly cdrom: boolean;
  readonly removable: boolean;
  /** `feature-flush-cache` → FLUSH_DISKCACHE, `feature-barrier` → WRITE_BARRIER, else 0. */
  readonly flushOp: number;
  readonly discard: boolean;
  readonly discardGranularity: number;
  /** The backend's `feature-max-indirect-segments` (0 when absent). */
  readonly maxIndirectSegments: number;
  readonly persistent: boolean;
  /** Rings (queues) in use. */
  readonly queues: number;
  /** The backend's directory. */
  readonly backend: string;
}

/**
 * One virtual disk as the guest's block layer sees it (Linux's gendisk over blk-mq): commands go
 * to its rings round-robin; a command that finds its ring full waits in a FIFO until a
 * completion frees a slot. The block layer above splits I/O at {@link maxTransfer}.
 */
export class XenDisk {
  info: XenDiskInfo;
  /** Failed for good (ring error or device gone): every command completes with ERROR. */
  dead = false;
  private readonly rings: readonly BlkfrontRing[];
  private readonly waiting: BlkCommand[] = [];
  private next = 0;

  constructor(info: XenDiskInfo, rings: readonly BlkfrontRing[]) {
    this.info = info;
    this.rings = rings;
  }

  /** Largest READ/WRITE one command may carry. */
  get maxTransfer(): number {
    return this.rings[0]!.maxTransfer;
  }

  /** Commands submitted and not answered (including those waiting for a slot). */
  get inFlight(): number {
    let n = this.waiting.length;
    for (const r of this.rings) n += r.inFlight;
    return n;
  }

  /** Queue `cmd` (published now, or by {@link push} when `push` is false); `onComplete` runs exactly once. */
  submit(cmd: BlkCommand, push = true): void {
    if (this.dead) {
      cmd.status = BLKIF_RSP_ERROR;
      cmd.onComplete?.(cmd);
      return;
    }
    if (cmd.op === BLKIF_OP_DISCARD && !this.rings[0]!.discard && !this.info.discard) {
      cmd.status = -2;
      cmd.onComplete?.(cmd);
      return;
    }
    if (this.waiting.length > 0 || !this.trySubmit(cmd)) this.waiting.push(cmd);
    if (push) this.push();
  }

  /** Commands waiting for a ring slot, a grant ref or a frame. */
  get starved(): boolean {
    return this.waiting.length > 0;
  }

  /** Publish every ring's queued requests (after a batch of submits). */
  push(): void {
    for (const r of this.rings) r.push();
  }

  /** A ring's completions freed slots: send what waits. Called by the driver after `onEvent`. */
  drain(): void {
    while (this.waiting.length > 0 && !this.dead) {
      if (!this.trySubmit(this.waiting[0]!)) break;
      this.waiting.shift();
    }
    this.push();
  }

  /** The device is going: fail what waits (requests on a ring are failed by the ring). */
  fail(): void {
    this.dead = true;
    for (const c of this.waiting.splice(0)) {
      c.status = BLKIF_RSP_ERROR;
      c.onComplete?.(c);
    }
  }

  private trySubmit(cmd: BlkCommand): boolean {
    const n = this.rings.length;
    for (let k = 0; k < n; k++) {
      const ring = this.rings[(this.next + k) % n]!;
      const r = ring.submit(cmd, false);
      if (r === "busy") continue;
      this.next = (this.next + k + 1) % n;
      if (r === "error") {
        cmd.status = BLKIF_RSP_ERROR;
        cmd.onComplete?.(cmd);
      }
      return true;
    }
    return false;
  }
}
