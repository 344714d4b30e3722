/**
 * The munging framework of scsiback (seed 004: "a 'framework' in order to flexibly add or modify
 * various 'munging' functions, which is for each SCSI command"): per vhost, per opcode request
 * and response filters between the ring and the device. With real devices behind scsiback (an
 * iSCSI LUN), what a guest may send and see is policy. Built-in policies:
 *
 * - {@link RAW_POLICY} — with `feature-host`, passthrough: every CDB reaches the device untouched.
 * - {@link PVOPS_POLICY} — Linux pvops scsiback: REPORT LUNS is answered from the vhost's
 *   translation table (the vhost does that itself without feature-host), the rest passes.
 * - {@link XENLINUX_POLICY} — the classic xenlinux backend (`drivers/xen/scsiback/emulate.c`):
 *   an opcode whitelist, everything else CHECK CONDITION 05/20/00 INVALID COMMAND OPERATION
 *   CODE without reaching the device; REPORT LUNS from the translation table.
 *
 * The vhost calls {@link MungingPolicy.submit} at its one hook, where it would call
 * `device.submit`. Only opcodes with a response filter cost a small wrapper per command.
 * @module
 */

import type { DataBuffer } from "../scsi/data-buffer.js";
import type { DataDirection, Initiator, ScsiDevice, ScsiTask } from "../scsi/device.js";

/** How a filter ends a command without (or instead of) the device's answer. */
export interface Completion {
  status: number;
  transferred: number;
  senseLength: number;
}

/** Per-opcode filters. */
export interface MungingFilter {
  /**
   * Before the device. Return null to pass the command on, or a {@link Completion} (sense
   * written into `task.sense`) to answer it here; the device never sees it.
   */
  readonly request?: (task: ScsiTask) => Completion | null;
  /** After the device: may rewrite data (through `task.data`), sense and status. */
  readonly response?: (task: ScsiTask, c: Completion) => Completion;
}

/** A named set of filters, chosen per vhost. */
export class MungingPolicy {
  readonly name: string;
  private readonly filters: (MungingFilter | undefined)[] = new Array(256);
  private readonly fallback: MungingFilter | undefined;

  constructor(
    name: string,
    filters: Readonly<Record<number, MungingFilter>>,
    options: { fallback?: MungingFilter } = {},
  ) {
    this.name = name;
    for (const [op, f] of Object.entries(filters)) this.filters[Number(op) & 0xff] = f;
    this.fallback = options.fallback;
  }

  /** A copy with `filters` added (replacing those of the same opcodes). */
  with(name: string, filters: Readonly<Record<number, MungingFilter>>): MungingPolicy {
    const merged: Record<number, MungingFilter> = {};
    this.filters.forEach((f, op) => {
      if (f) merged[op] = f;
    });
    return new MungingPolicy(
      name,
      { ...merged, ...filters },
      this.fallback ? { fallback: this.fallback } : {},
    );
  }

  /** The hook: filter `task` and hand it to `device` (or answer it here). */
  submit(task: ScsiTask, device: ScsiDevice): void {
    const f = this.filters[task.cdb[0] ?? 0] ?? this.fallback;
    if (f === undefined) {
      device.submit(task);
      return;
    }
    if (f.request) {
      const c = f.request(task);
      if (c !== null) {
        task.done(c.status, c.transferred, c.senseLength);
        return;
      }
    }
    if (!f.response) {
      device.submit(task);
      return;
    }
    device.submit(new FilteredTask(task, f.response));
  }
}

/** The task the device sees when a response filter applies: `done` goes through the filter. */
class FilteredTask implements ScsiTask {
  readonly cdb: Uint8Array;
  readonly lun: number;
  readonly initiator: Initiator;
  readonly tag: number;
  readonly direction: DataDirection;
  readonly data: DataBuffer;
  readonly sense: Uint8Array;
  constructor(
    private readonly inner: ScsiTask,
    private readonly filter: (task: ScsiTask, c: Completion) => Completion,
  ) {
    this.cdb = inner.cdb;
    this.lun = inner.lun;
    this.initiator = inner.initiator;
    this.tag = inner.tag;
    this.direction = inner.direction;
    this.data = inner.data;
    this.sense = inner.sense;
  }
  done(status: number, transferred: number, senseLength: number): void {
    let c: Completion = { status, transferred, senseLength };
    try {
      c = this.filter(this.inner, c);
    } catch {
      // A broken filter must not lose the command: the device's own answer stands.
    }
    this.inner.done(c.status, c.transferred, c.senseLength);
  }
}

/** Write fixed-format sense key/ASC/ASCQ into `task.sense`; CHECK CONDITION with no data. */
export function checkCondition(task: ScsiTask, key: number, asc: number, ascq: number): Completion {
  const s = task.sense;
  s.fill(0, 0, 18);
  s[0] = 0x70;
  s[2] = key;
  s[7] = 10;
  s[12] = asc;
  s[13] = ascq;
  return { status: 0x02, transferred: 0, senseLength: 18 };
}

/**
 * Raw passthrough: nothing filtered. Use it with `feature-host`, which also stops the vhost's
 * REPORT LUNS emulation, so every CDB reaches the device untouched.
 */
export const RAW_POLICY = new MungingPolicy("raw", {});

/** Linux pvops scsiback: REPORT LUNS from the translation table, everything else passed. */
export const PVOPS_POLICY = new MungingPolicy("pvops", {});

/**
 * Opcodes the classic xenlinux backend let through (its emulate.c bitmap marked them
 * "execute"), for disks, tapes and changers: TEST UNIT READY, REWIND, REQUEST SENSE, READ BLOCK
 * LIMITS, READ/WRITE(6), INITIALIZE ELEMENT STATUS, WRITE FILEMARKS, SPACE, INQUIRY, MODE
 * SELECT/SENSE, RESERVE/RELEASE, ERASE, START STOP (LOAD UNLOAD), PREVENT ALLOW, READ CAPACITY,
 * READ/WRITE(10/12/16), LOCATE, VERIFY, READ POSITION, SYNCHRONIZE CACHE, LOG SENSE, SERVICE
 * ACTION IN (READ CAPACITY 16), MOVE MEDIUM, READ ELEMENT STATUS.
 */
export const XENLINUX_WHITELIST: readonly number[] = [
  0x00, 0x01, 0x03, 0x05, 0x07, 0x08, 0x0a, 0x10, 0x11, 0x12, 0x15, 0x16, 0x17, 0x19, 0x1a, 0x1b, 0x1e, 0x25,
  0x28, 0x2a, 0x2b, 0x2f, 0x34, 0x35, 0x4d, 0x55, 0x5a, 0x88, 0x8a, 0x9e, 0xa5, 0xa8, 0xaa, 0xb8,
];

const PASS: MungingFilter = {};

/** The classic xenlinux backend: {@link XENLINUX_WHITELIST}, else 05/20/00; REPORT LUNS emulated. */
export const XENLINUX_POLICY = new MungingPolicy(
  "xenlinux",
  Object.fromEntries(XENLINUX_WHITELIST.map((op) => [op, PASS])),
  { fallback: { request: (task) => checkCondition(task, 0x05, 0x20, 0x00) } },
);

/** The built-in policies by name (`raw`, `pvops`, `xenlinux`). */
export const MUNGING_POLICIES: ReadonlyMap<string, MungingPolicy> = new Map([
  ["raw", RAW_POLICY],
  ["pvops", PVOPS_POLICY],
  ["xenlinux", XENLINUX_POLICY],
]);
