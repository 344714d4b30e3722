import type { ScsiTask } from "./device.js";

/** `sc_data_direction` DMA_FROM_DEVICE (Linux `enum dma_data_direction`): the initiator expects data-in. */
const DMA_FROM_DEVICE = 2;

/**
 * Whether a command's data direction, as its CDB defines it (`dataIn`, `dataOut`), contradicts the
 * buffer the initiator supplied: data-in into memory granted read-only (DMA_TO_DEVICE), or
 * data-out taken from memory offered for data-in (DMA_FROM_DEVICE). An empty buffer moves nothing
 * and contradicts nothing. Whoever answers a command — a device's SPC dispatch, a target for an
 * empty LUN, scsiback's own emulation — applies this one rule first and answers a contradiction
 * with 05/0E/03 INVALID FIELD IN COMMAND IU, as Linux TCM does for such mismatches
 * (`target_cmd_size_check`): the command IU contradicts the CDB (SAM-5 §5.1).
 */
export function directionContradicts(
  dataIn: boolean,
  dataOut: boolean,
  task: Pick<ScsiTask, "data" | "direction">,
): boolean {
  if (task.data.length === 0) return false;
  if (dataIn && !task.data.writable) return true;
  return dataOut && task.direction === DMA_FROM_DEVICE;
}
