import {
  type DeviceInfo,
  type Initiator,
  SAM_STAT_GOOD,
  type ScsiTask,
  type TmfResponse,
  TYPE_DISK,
} from "../scsi/device.js";
import type { TargetMember, TargetPort } from "./target-port.js";

/** Default identity of a {@link NullDevice}. */
export const NULL_DEVICE_INFO: DeviceInfo = {
  type: TYPE_DISK,
  vendor: "PVSCSI",
  product: "NULL",
  revision: "0001",
  scsiLevel: 5,
  removable: false,
  serial: "NULL",
  wwn: "3000000000000000",
};

/**
 * A sink for throughput benchmarks: every command completes GOOD at once, claiming the whole
 * data buffer as transferred, without reading or writing a byte of it.
 *
 * **Not a SCSI-correct device.** INQUIRY returns GOOD with no data, READ returns whatever was in
 * the buffer, unknown opcodes succeed, no sense is ever reported. A guest cannot scan it: attach
 * it only where the initiator sends I/O blindly (benchmarks of the ring, grants and backend).
 */
export class NullDevice implements TargetMember {
  port: TargetPort | null = null;
  lun = 0;
  /** Commands completed, for benchmarks. */
  commands = 0;

  constructor(readonly info: DeviceInfo = NULL_DEVICE_INFO) {}

  submit(task: ScsiTask): void {
    this.commands++;
    task.done(SAM_STAT_GOOD, task.data.length, 0);
  }

  abortTask(_initiator: Initiator, _tag: number): TmfResponse {
    return "not-found";
  }

  lunReset(_initiator: Initiator): TmfResponse {
    return "complete";
  }

  addNexus(_initiator: Initiator): void {}
  removeNexus(_initiator: Initiator): void {}
  queueUaAll(_code: number): void {}
  clearUa(_initiatorId: number, _code: number): void {}

  async close(): Promise<void> {}
}
