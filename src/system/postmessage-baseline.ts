/**
 * The benchmark's baseline, and nothing else: the same SCSI commands the ring carries, sent
 * instead as `postMessage`s between the same two workers (guest and backend) over a
 * MessageChannel the benchmark hands them. The product never moves a request, a response or
 * data this way; `bench/pvscsi.bench.ts` enables it to measure what the shared-memory data path
 * is being compared with.
 */
import type { MessagePort } from "node:worker_threads";
import { DataBuffer } from "../scsi/data-buffer.js";
import { type Initiator, SCSI_SENSE_BUFFERSIZE, type ScsiDevice, type ScsiTask } from "../scsi/device.js";

/** One request over the port. Data-out travels in `data`; data-in comes back in the reply. */
interface BaselineRequest {
  readonly id: number;
  readonly cdb: Uint8Array;
  readonly write: boolean;
  readonly length: number;
  readonly data: Uint8Array | null;
}

interface BaselineReply {
  readonly id: number;
  readonly status: number;
  readonly transferred: number;
  readonly data: Uint8Array | null;
}

const INITIATOR: Initiator = { id: 0x7fff_0000, name: "pvscsi-bench:postmessage-baseline" };

/**
 * Backend side: run each request on `device` (at `lun`) and post the reply. The new nexus's
 * unit attention is taken first with TEST UNIT READY, as an initiator does after login.
 */
export async function serveBaseline(port: MessagePort, device: ScsiDevice, lun: number): Promise<void> {
  device.addNexus(INITIATOR);
  for (let i = 0; i < 4; i++) {
    const status = await new Promise<number>((resolve) =>
      device.submit({
        cdb: new Uint8Array(6),
        lun,
        initiator: INITIATOR,
        tag: 0,
        direction: 3,
        data: DataBuffer.of(new Uint8Array(0)),
        sense: new Uint8Array(SCSI_SENSE_BUFFERSIZE),
        done: (s) => resolve(s),
      }),
    );
    if (status === 0) break;
  }
  port.on("message", (req: BaselineRequest) => {
    const bytes = req.write ? (req.data ?? new Uint8Array(req.length)) : new Uint8Array(req.length);
    const task: ScsiTask = {
      cdb: req.cdb,
      lun,
      initiator: INITIATOR,
      tag: req.id,
      direction: req.write ? 1 : 2,
      data: DataBuffer.of(bytes, !req.write),
      sense: new Uint8Array(SCSI_SENSE_BUFFERSIZE),
      done(status, transferred) {
        const reply: BaselineReply = { id: req.id, status, transferred, data: req.write ? null : bytes };
        port.postMessage(reply, req.write ? [] : [bytes.buffer as ArrayBuffer]);
      },
    };
    device.submit(task);
  });
}

/** Guest side: keep `depth` READ(10)/WRITE(10) of `blockSize` in flight for `runtimeMs`. */
export function runBaseline(
  port: MessagePort,
  o: { write: boolean; blockSize: number; depth: number; runtimeMs: number; spanBytes: number },
): Promise<{ ops: number; bytes: number; seconds: number; errors: number }> {
  const blocks = o.blockSize / 512;
  const span = Math.max(1, Math.floor(o.spanBytes / o.blockSize));
  let next = 0;
  let issued = 0;
  let done = 0;
  let bytes = 0;
  let errors = 0;
  let stopping = false;
  const t0 = performance.now();
  return new Promise((resolve) => {
    const send = () => {
      const lba = (next++ % span) * blocks;
      const cdb = Uint8Array.of(
        o.write ? 0x2a : 0x28,
        0,
        lba >>> 24,
        (lba >>> 16) & 255,
        (lba >>> 8) & 255,
        lba & 255,
        0,
        blocks >>> 8,
        blocks & 255,
        0,
      );
      const data = o.write ? new Uint8Array(o.blockSize) : null;
      const req: BaselineRequest = { id: issued++, cdb, write: o.write, length: o.blockSize, data };
      port.postMessage(req, data ? [data.buffer as ArrayBuffer] : []);
    };
    port.on("message", (r: BaselineReply) => {
      done++;
      if (r.status !== 0) errors++;
      else bytes += r.transferred;
      if (!stopping && (done & 63) === 0 && performance.now() - t0 >= o.runtimeMs) stopping = true;
      if (!stopping) send();
      else if (done === issued) {
        port.close();
        resolve({ ops: done, bytes, seconds: (performance.now() - t0) / 1000, errors });
      }
    });
    for (let i = 0; i < o.depth; i++) send();
  });
}
