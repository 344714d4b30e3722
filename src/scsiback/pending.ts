import { DataBuffer } from "../scsi/data-buffer.js";
import { type DataDirection, type Initiator, SCSI_SENSE_BUFFERSIZE, type ScsiTask } from "../scsi/device.js";
import { VSCSIIF_MAX_COMMAND_SIZE } from "../vscsiif/constants.js";
import type { TranslationEntry } from "./translation.js";

/** Where a pending request reports its completion (the vhost that owns it). */
export interface PendingOwner {
  complete(p: PendingRequest, status: number, transferred: number, senseLength: number): void;
}

/**
 * One request the backend has taken off the ring and not yet answered (Linux's `vscsibk_pend`).
 * A vhost allocates one per ring slot at start and reuses them; as a {@link ScsiTask} it is what
 * the device sees. Everything in it was copied out of the ring once: the guest cannot change it.
 */
export class PendingRequest implements ScsiTask {
  readonly index: number;
  inUse = false;
  /** The guest's rqid, echoed in the response. */
  rqid = 0;
  act = 0;
  chn = 0;
  tgt = 0;
  vlun = 0;
  direction: DataDirection = 3;
  /** The CDB, exactly `cmd_len` bytes (a view into a private 16-byte copy). */
  cdb: Uint8Array;
  lun = 0;
  tag = 0;
  readonly data: DataBuffer;
  readonly sense = new Uint8Array(SCSI_SENSE_BUFFERSIZE);
  /** Grant handles to unmap at completion. */
  readonly handles: Int32Array;
  nHandles = 0;
  entry: TranslationEntry | null = null;
  readonly initiator: Initiator;
  private readonly owner: PendingOwner;
  private readonly cdbStore = new Uint8Array(VSCSIIF_MAX_COMMAND_SIZE);
  /** `cdbViews[n]` is the first n bytes of the CDB copy: no view is created per request. */
  private readonly cdbViews: Uint8Array[];

  constructor(
    index: number,
    owner: PendingOwner,
    initiator: Initiator,
    maxDataSegments: number,
    maxGrants: number,
  ) {
    this.index = index;
    this.owner = owner;
    this.initiator = initiator;
    this.data = new DataBuffer(maxDataSegments);
    this.handles = new Int32Array(maxGrants);
    this.cdbViews = [];
    for (let n = 0; n <= VSCSIIF_MAX_COMMAND_SIZE; n++) this.cdbViews.push(this.cdbStore.subarray(0, n));
    this.cdb = this.cdbViews[0]!;
  }

  /** Copy `length` bytes of a CDB (already validated ≤ 16) from the private request copy. */
  setCdb(src: Uint8Array, length: number): void {
    for (let i = 0; i < length; i++) this.cdbStore[i] = src[i]!;
    this.cdb = this.cdbViews[length]!;
  }

  done(status: number, transferred: number, senseLength: number): void {
    this.owner.complete(this, status, transferred, senseLength);
  }
}
