/**
 * scsifront's state as data, for a kernel that is saved and resumed elsewhere (`xl save` /
 * `xl restore`, `xl migrate`). In Xen this is simply part of the guest's memory image — Linux's
 * `vscsifrnt_info`, its shadows and the midlayer's queued `scsi_cmnd`s; here the kernel is
 * objects in a thread, so what a resumed scsifront needs is written down explicitly. Frames
 * named here are guest frames: their bytes (data pages, the old ring page) travel in the
 * memory image. Grant refs and event channels do not: Xen carries neither across a migration,
 * so a resumed frontend ends no old grant and closes no old port (the new domain never had them).
 */

/** One SCSI command the guest had built (Linux's `scsi_cmnd` plus its shadow), as data. */
export interface SavedCommand {
  /** The rqid it holds on the old ring; -1 for a command still waiting in the midlayer's queue. */
  readonly rqid: number;
  readonly act: number;
  readonly channel: number;
  readonly id: number;
  readonly lun: number;
  readonly refRqid: number;
  readonly cdb: readonly number[];
  readonly direction: number;
  /** Guest frames holding its data, in order. */
  readonly frames: readonly number[];
  readonly offset: number;
  readonly length: number;
  readonly timeoutSeconds: number;
}

/** A frontend's ring core as saved: its private ring indexes and the rqids in flight. */
export interface SavedFrontend {
  /** The old ring's private indexes (`req_prod_pvt`, `rsp_cons`): the resume drains from here. */
  readonly reqProdPvt: number;
  readonly rspCons: number;
  readonly sgTables: number;
  /** Commands holding an rqid. */
  readonly inFlight: readonly SavedCommand[];
  /** Each rqid's indirect-descriptor frames (kept for reuse, as Linux keeps its shadow pages). */
  readonly descFrames: readonly (readonly number[])[];
}

/** One vscsi controller of the guest as saved. */
export interface SavedController {
  /** Its devid when saved (the restoring toolstack renumbers it to the devid it writes). */
  readonly devid: number;
  /** The guest's SCSI host number (`scsiN`), kept across the resume. */
  readonly hostNo: number;
  /** The old ring page, freed by the resume once drained. */
  readonly ringFrame: number;
  /**
   * That page's bytes (base64) at the instant the kernel stopped: the image of it a resume
   * drains. What the old backend answered after that instant is not in it — as, in Xen, what a
   * source backend writes after the final copy of the guest's memory never reaches the target —
   * so those commands are completed with DID_RESET and retried.
   */
  readonly ringPage: string;
  readonly frontend: SavedFrontend;
  /** Commands waiting for a ring slot (paused: HOST_BUSY). */
  readonly waiting: readonly SavedCommand[];
}

/** scsifront as saved: every controller, suspended. */
export interface SavedScsifront {
  readonly controllers: readonly SavedController[];
}
