import { DataBuffer } from "../scsi/data-buffer.js";
import { type DataDirection, type Initiator, SCSI_SENSE_BUFFERSIZE, type ScsiTask } from "../scsi/device.js";

/** Where a pending request reports its device completions (the ring that owns it). */
export interface BlkPendingOwner {
  complete(p: BlkPending, status: number, transferred: number, senseLength: number): void;
}

/** The step a request is at: a PREFLUSH before its write, the I/O itself, or nothing (free). */
export type BlkPendingPhase = "idle" | "preflush" | "io" | "discard";

/**
 * One request blkback took off the ring and has not answered (Linux's `pending_req`). Allocated
 * once per ring slot and reused; as a {@link ScsiTask} it is what the backing device sees, since
 * blkback reaches dom0's disk through the same SCSI device objects scsiback uses (Linux's blkback
 * submits bios to the block layer, which sd turns into the same READ/WRITE/SYNCHRONIZE CACHE).
 */
export class BlkPending implements ScsiTask {
  readonly index: number;
  inUse = false;
  /** The guest's `id`, echoed in the response. */
  idLo = 0;
  idHi = 0;
  /** `operation` as the response must echo it (INDIRECT's, not `indirect_op`). */
  operation = 0;
  phase: BlkPendingPhase = "idle";
  /** A write that must follow its PREFLUSH (FLUSH_DISKCACHE or WRITE_BARRIER with data). */
  writeAfterFlush = false;
  /** Unit attentions retried so far (the midlayer's retry of 06/xx). */
  retries = 0;
  /** The device task's fields. */
  cdb: Uint8Array;
  lun = 0;
  tag = 0;
  direction: DataDirection = 3;
  /** The buffer the device sees now: {@link ioData}, {@link paramData}, or an empty one for a flush. */
  data: DataBuffer;
  /** The guest's data pages, as mapped. */
  readonly ioData: DataBuffer;
  /** UNMAP's parameter list, over {@link param}. */
  readonly paramData: DataBuffer;
  /** A discard's next and end logical block (UNMAP is issued in pieces). */
  discardNext = 0;
  discardEnd = 0;
  readonly sense = new Uint8Array(SCSI_SENSE_BUFFERSIZE);
  /** Grant handles to unmap at completion (data pages; persistent ones are not listed). */
  readonly handles: Int32Array;
  nHandles = 0;
  /** The I/O CDB, kept while a PREFLUSH runs first. */
  readonly ioCdb = new Uint8Array(16);
  /** SYNCHRONIZE CACHE(10). */
  readonly flushCdb = new Uint8Array(10);
  /** UNMAP's CDB (10 bytes). */
  readonly unmapCdb = new Uint8Array(10);
  /** A private parameter list (UNMAP's). */
  readonly param = new Uint8Array(24);
  readonly initiator: Initiator;
  private readonly owner: BlkPendingOwner;

  constructor(index: number, owner: BlkPendingOwner, initiator: Initiator, maxSegments: number) {
    this.index = index;
    this.owner = owner;
    this.initiator = initiator;
    this.ioData = new DataBuffer(maxSegments);
    this.data = this.ioData;
    this.paramData = new DataBuffer(1);
    this.paramData.reset(false);
    this.paramData.add(this.param, 0, this.param.length);
    this.handles = new Int32Array(maxSegments);
    this.cdb = this.ioCdb;
    this.tag = index;
  }

  done(status: number, transferred: number, senseLength: number): void {
    this.owner.complete(this, status, transferred, senseLength);
  }
}
