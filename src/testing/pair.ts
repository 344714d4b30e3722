/**
 * A scsifront and a scsiback vhost joined over one ring page in a single thread, with the fake
 * hypervisor of fake-xen.ts: notifications set flags, and `pump()` runs whichever side was
 * signalled until both are quiet. Deterministic; no workers, no timers.
 * @module
 */
import { SharedRing } from "../ring/shared-ring.js";
import type { ScsiDevice } from "../scsi/device.js";
import type { MungingPolicy } from "../scsiback/policy.js";
import { Vhost } from "../scsiback/vhost.js";
import { FrontCommand, Frontend } from "../scsifront/frontend.js";
import { VSCSIIF_ENTRY_SIZE } from "../xen/vscsiif-layout.js";
import { FakeGuest } from "./fake-guest.js";

/** Options of {@link Pair}. */
export interface PairOptions {
  /** The backend's `feature-host` (the guest may reset the whole host). */
  featureHost?: boolean;
  /** `feature-sg-grant`, as the backend advertises and the frontend reads it (default 128). */
  sgGrant?: number;
  /** Requests the backend consumes per `service()` call. */
  budget?: number;
  /** The vhost's munging policy (scsiback/policy.ts). */
  policy?: MungingPolicy;
}

/**
 * A scsifront {@link Frontend} and a scsiback {@link Vhost} over one ring page of a
 * {@link FakeGuest}, in this thread: attach devices, build commands, {@link Pair.run} them.
 */
export class Pair {
  readonly guest = new FakeGuest(2048);
  readonly mapper = this.guest.mapper();
  readonly ringFrame = this.guest.allocFrame();
  readonly sring = new SharedRing(this.guest.bytes.buffer, this.ringFrame * 4096, 4096, VSCSIIF_ENTRY_SIZE);
  backSignalled = false;
  frontSignalled = false;
  backNotifies = 0;
  frontNotifies = 0;
  readonly front: Frontend;
  readonly back: Vhost;

  constructor(opts: PairOptions = {}) {
    this.front = new Frontend({
      backendDomid: 0,
      memory: this.guest,
      grants: this.guest,
      notifier: {
        notify: () => {
          this.backSignalled = true;
          this.frontNotifies++;
        },
      },
    });
    this.back = new Vhost({
      frontendDomid: 1,
      devid: 0,
      initiator: { id: 1, name: "xen-pvscsi:dom1/vhost0" },
      featureHost: opts.featureHost ?? false,
      ...(opts.sgGrant !== undefined ? { sgGrant: opts.sgGrant } : {}),
      ...(opts.budget !== undefined ? { budget: opts.budget } : {}),
      ...(opts.policy !== undefined ? { policy: opts.policy } : {}),
      grants: this.mapper,
      notifier: {
        notify: () => {
          this.frontSignalled = true;
          this.backNotifies++;
        },
      },
      wake: () => {
        this.backSignalled = true;
      },
    });
    this.front.connect(this.sring);
    this.back.connect(this.sring);
    this.front.setFeatureSgGrant(opts.sgGrant ?? 128);
  }

  /** Attach `device` (its LUN `physLun`) at virtual `chn:tgt:lun`; throws on a duplicate. */
  attach(chn: number, tgt: number, lun: number, device: ScsiDevice, physLun = 0): void {
    if (
      !this.back.translations.add({
        v: { chn, tgt, lun },
        device,
        physLun,
        pdev: `test:${chn}:${tgt}:${lun}`,
      })
    ) {
      throw new Error("duplicate vdev");
    }
  }

  /** Run signalled sides until neither has work. */
  pump(maxRounds = 10_000): void {
    for (let i = 0; i < maxRounds; i++) {
      if (this.backSignalled) {
        this.backSignalled = false;
        if (this.back.service()) this.backSignalled = true;
      } else if (this.frontSignalled) {
        this.frontSignalled = false;
        this.front.service();
      } else {
        return;
      }
    }
    throw new Error("pump did not settle");
  }

  /** Await `promise`, pumping the ring between microtask turns until it settles (multi-command operations). */
  async settle<T>(promise: Promise<T>): Promise<T> {
    let done = false;
    const tracked = promise.finally(() => {
      done = true;
    });
    // Observed now, so a rejection that arrives while pumping is not reported as unhandled;
    // the caller still gets it from the returned promise.
    tracked.catch(() => undefined);
    for (let i = 0; i < 10_000 && !done; i++) {
      this.pump();
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return tracked;
  }

  /** Allocate `pages` guest frames for a buffer. */
  buffer(pages: number): number[] {
    const frames: number[] = [];
    for (let i = 0; i < pages; i++) {
      const f = this.guest.allocFrame();
      if (f < 0) throw new Error("guest out of memory");
      frames.push(f);
    }
    return frames;
  }

  /** Build a command over `frames` (data at `offset` in the first, `length` bytes). */
  command(
    addr: [number, number, number],
    cdb: number[],
    direction: 0 | 1 | 2 | 3,
    frames: number[] = [],
    length = 0,
    offset = 0,
  ): FrontCommand {
    const c = new FrontCommand(Math.max(frames.length, 1));
    [c.channel, c.id, c.lun] = addr;
    c.setCdb(cdb);
    c.direction = direction;
    frames.forEach((f, i) => {
      c.frames[i] = f;
    });
    c.frameCount = frames.length;
    c.offset = offset;
    c.length = length;
    return c;
  }

  /** Submit, flush and pump until `cmd` completes; returns it. */
  run(cmd: FrontCommand): FrontCommand {
    let done = false;
    cmd.onComplete = () => {
      done = true;
    };
    const r = this.front.submit(cmd);
    if (r !== "queued") throw new Error(`submit: ${r}`);
    this.front.flush();
    this.pump();
    if (!done) throw new Error("command did not complete");
    return cmd;
  }

  /** Copy bytes between a JS array and the frames of a buffer. */
  write(frames: number[], data: Uint8Array, offset = 0): void {
    let at = 0;
    let first = true;
    for (const f of frames) {
      const off = first ? offset : 0;
      first = false;
      const n = Math.min(4096 - off, data.length - at);
      if (n <= 0) break;
      this.guest.bytes.set(data.subarray(at, at + n), f * 4096 + off);
      at += n;
    }
  }

  /** Copy `length` bytes out of the frames of a buffer (data at `offset` in the first). */
  read(frames: number[], length: number, offset = 0): Uint8Array {
    const out = new Uint8Array(length);
    let at = 0;
    let first = true;
    for (const f of frames) {
      const off = first ? offset : 0;
      first = false;
      const n = Math.min(4096 - off, length - at);
      if (n <= 0) break;
      out.set(this.guest.bytes.subarray(f * 4096 + off, f * 4096 + off + n), at);
      at += n;
    }
    return out;
  }
}

/** READ(10)/WRITE(10) CDB. */
export function rw10(op: 0x28 | 0x2a, lba: number, blocks: number): number[] {
  return [
    op,
    0,
    (lba >>> 24) & 0xff,
    (lba >>> 16) & 0xff,
    (lba >>> 8) & 0xff,
    lba & 0xff,
    0,
    (blocks >>> 8) & 0xff,
    blocks & 0xff,
    0,
  ];
}

/** Byte equality without a per-element diff (vitest's deep equality is slow on large arrays). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}
