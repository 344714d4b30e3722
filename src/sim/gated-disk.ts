/**
 * A real SBC disk (pvscsi's {@link Disk} over RAM) whose completions the simulator's scheduler
 * releases: the command runs on submit (data moves then, as a device's DMA does before it
 * interrupts), but `done` reaches scsiback only when {@link GatedDisk.completeAt} is chosen, in
 * any order. ABORT TASK and LUN RESET release what they name at once (device.ts's contract: a
 * task still in flight is completed before the TMF returns). Deterministic: no timers, no I/O.
 * @module
 */
import type { DeviceInfo, Initiator, ScsiDevice, ScsiTask, TmfResponse } from "../scsi/device.js";
import { TYPE_DISK } from "../scsi/device.js";
import { Disk } from "../targets/sbc/disk.js";

interface Held {
  readonly task: ScsiTask;
  readonly status: number;
  readonly transferred: number;
  readonly senseLength: number;
}

/** A RAM disk whose completions wait for the scheduler. */
export class GatedDisk implements ScsiDevice {
  readonly inner: Disk;
  /** Completions computed and not yet delivered, in arrival order. */
  readonly held: Held[] = [];
  /** Completions delivered. */
  delivered = 0;

  constructor(
    readonly name: string,
    readonly blocks: number,
  ) {
    const info: DeviceInfo = {
      type: TYPE_DISK,
      vendor: "PVSCSI",
      product: "GATEDDISK",
      revision: "0001",
      scsiLevel: 6,
      removable: false,
      serial: name,
      wwn: "6001405000000001",
    };
    this.inner = Disk.ram(info, blocks, 512);
  }

  get info(): DeviceInfo {
    return this.inner.info;
  }

  submit(task: ScsiTask): void {
    const gated: ScsiTask = {
      cdb: task.cdb,
      lun: task.lun,
      initiator: task.initiator,
      tag: task.tag,
      direction: task.direction,
      data: task.data,
      sense: task.sense,
      done: (status, transferred, senseLength) => {
        this.held.push({ task, status, transferred, senseLength });
      },
    };
    this.inner.submit(gated);
  }

  /** Deliver the completion held at `index`. */
  completeAt(index: number): void {
    const [h] = this.held.splice(index, 1);
    if (h === undefined) return;
    this.delivered++;
    h.task.done(h.status, h.transferred, h.senseLength);
  }

  abortTask(initiator: Initiator, tag: number): TmfResponse | Promise<TmfResponse> {
    const i = this.held.findIndex((h) => h.task.initiator.id === initiator.id && h.task.tag === tag);
    if (i >= 0) {
      this.completeAt(i);
      return "complete";
    }
    return this.inner.abortTask(initiator, tag);
  }

  lunReset(initiator: Initiator): TmfResponse | Promise<TmfResponse> {
    while (this.held.length > 0) this.completeAt(0);
    return this.inner.lunReset(initiator);
  }

  addNexus(initiator: Initiator): void {
    this.inner.addNexus(initiator);
  }

  /** The nexus goes; its tasks still held complete later, when the scheduler says (late completions). */
  removeNexus(initiator: Initiator): void {
    this.inner.removeNexus(initiator);
  }

  clearUa(initiatorId: number, code: number): void {
    this.inner.clearUa?.(initiatorId, code);
  }

  async close(): Promise<void> {
    while (this.held.length > 0) this.completeAt(0);
    await this.inner.close();
  }
}
