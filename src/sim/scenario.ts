/**
 * Scenarios as data: which guests, disks and workload, which faults at what rate, and how long.
 * A scenario is a plain object (JSON-compatible), so files and the command line can name one.
 * @module
 */

import type { VhostMutation } from "../scsiback/vhost.js";
import type { FrontendMutation } from "../scsifront/frontend.js";
import { configError } from "../xen/errors.js";
import { ATTACK_CLASSES, type AttackClass, BACK_ATTACK_CLASSES, type BackAttackClass } from "./hostile.js";
import type { TapeWorkload } from "./tape-workload.js";

/**
 * A fault class the simulator can inject (each documented in docs/sim.md):
 * - `hot-unplug`: a LUN's translation removed under I/O (and re-attached later);
 * - `guest-destroy`: a guest destroyed with I/O in flight (the backend abandons its requests);
 * - `grant-revoke`: the guest tries to end a grant of a command in flight (XSA-396);
 * - `abort-storm`: bursts of ABORT (for live and stale rqids) and LUN RESET;
 * - `spurious-event`: an event delivered with nothing to do (Xen may; drivers must cope);
 * - `device-hang`: the device holds a command until it is aborted or the LUN reset;
 * - `device-error`: the device fails a command with MEDIUM ERROR;
 * - `power-loss`: the disk loses its unsynced write cache.
 * Delayed and coalesced event delivery and out-of-order completion are always on: events are
 * pending bits the scheduler delivers when it likes, devices complete in any order.
 */
export type FaultClass =
  | "hot-unplug"
  | "guest-destroy"
  | "grant-revoke"
  | "abort-storm"
  | "spurious-event"
  | "device-hang"
  | "device-error"
  | "power-loss";

/** Every fault class, in the order the docs list them. */
export const FAULT_CLASSES: readonly FaultClass[] = [
  "hot-unplug",
  "guest-destroy",
  "grant-revoke",
  "abort-storm",
  "spurious-event",
  "device-hang",
  "device-error",
  "power-loss",
];

/** Relative weights of a guest's workload operations. */
export interface WorkloadMix {
  readonly read: number;
  readonly write: number;
  readonly sync: number;
  readonly tur: number;
}

/** One simulation: the machine, the workload, the faults, the bounds. */
export interface Scenario {
  readonly name: string;
  readonly description: string;
  /** Guests, each with its own vhost (scsiback) and frontend (scsifront). */
  readonly guests: number;
  /** Disks per guest, at virtual 0:0:0:lun. */
  readonly luns: number;
  /** Blocks of 512 bytes per disk. */
  readonly blocks: number;
  /** Workload operations each guest issues. */
  readonly ops: number;
  /** Most commands a guest keeps in flight (≤ 16, the ring's size). */
  readonly depth: number;
  /** Largest transfer in blocks (256: 128 KiB, 33 pages with an offset, so indirect segments). */
  readonly maxBlocks: number;
  readonly mix: WorkloadMix;
  /** Disks run with a volatile write cache (WCE=1). */
  readonly writeCache: boolean;
  /** scsiback's requests per service pass (small values exercise the re-call path). */
  readonly budget: number;
  /** Fault classes enabled, and how likely one is injected at a step (per mille). */
  readonly faults: readonly FaultClass[];
  readonly faultRate: number;
  /** Offer a fault on about one step in this many (default: every step). */
  readonly faultSparsity?: number;
  /** Steps of the active phase (workload and faults), then the drain phase's bound. */
  readonly steps: number;
  readonly drainSteps: number;
  /** The guest's command timeout in virtual ticks (one tick per step): then ABORT, then RESET. */
  readonly timeoutTicks: number;
  /**
   * Each guest's memory in 4 KiB frames (default {@link DEFAULT_GUEST_FRAMES}). It holds the ring,
   * the guard page and every command's data pages; a run that needs more fails at once with a
   * message naming this field, never with a violation.
   */
  readonly guestFrames?: number;
  /**
   * The LUN is a tape (pvscsi's SSC drive, in-memory cartridge) and each guest runs a backup
   * job instead of the disk workload: write `records` records and a filemark, rewind, read back
   * and verify, again. Needs `luns` 1; `mix`, `blocks` and `maxBlocks` are unused.
   */
  readonly tape?: TapeWorkload;
  /** Guest 0 is a hostile frontend running these attack classes (the others stay honest). */
  readonly hostile?: readonly AttackClass[];
  /** Guest 0's backend is hostile, with these attack classes (its scsifront is under attack). */
  readonly hostileBackend?: readonly BackAttackClass[];
  /** The mutation check only: a deliberately broken backend or frontend. */
  readonly mutation?: {
    readonly backend?: VhostMutation;
    readonly frontend?: FrontendMutation;
    /** A broken workload: the tape job ignores unit attentions (caught by `tape-order`). */
    readonly workload?: "tape-ignores-unit-attention";
  };
}

/**
 * The default guest memory in frames: room for 16 commands of up to 9 pages (64 blocks at an
 * offset), the ring and the guard page, with slack for indirect segment pages.
 */
export const DEFAULT_GUEST_FRAMES = 168;

/** The least guest memory a run accepts: the ring, the guard page and one data page. */
export const MIN_GUEST_FRAMES = 3;

/** Check a scenario's numeric fields that a file or the command line may set; throws (ECONFIG) naming the field. */
export function checkScenario(s: Scenario): void {
  if (s.tape !== undefined) {
    const t = s.tape;
    if (s.luns !== 1) throw configError("pvscsi sim", `a tape scenario has one LUN per guest, not ${s.luns}`);
    if (!Number.isInteger(t.records) || t.records < 1 || t.records > 1000)
      throw configError("pvscsi sim", `tape.records must be a whole number in [1, 1000], not ${t.records}`);
    if (!Number.isInteger(t.maxRecord) || t.maxRecord < 8 || t.maxRecord > 65536)
      throw configError(
        "pvscsi sim",
        `tape.maxRecord must be a whole number in [8, 65536], not ${t.maxRecord}`,
      );
  }
  const f = s.guestFrames;
  if (f !== undefined && (!Number.isInteger(f) || f < MIN_GUEST_FRAMES || f > 1 << 20)) {
    throw configError(
      "pvscsi sim",
      `guestFrames must be a whole number in [${MIN_GUEST_FRAMES}, ${1 << 20}], not ${f}`,
    );
  }
}

const base = {
  guests: 2,
  luns: 1,
  blocks: 64,
  ops: 30,
  depth: 8,
  maxBlocks: 24,
  mix: { read: 4, write: 4, sync: 1, tur: 1 },
  writeCache: false,
  budget: 4,
  faults: [] as FaultClass[],
  faultRate: 0,
  steps: 600,
  drainSteps: 4000,
  timeoutTicks: 300,
} as const;

/** The built-in scenarios, by name. */
export const SCENARIOS: Readonly<Record<string, Scenario>> = {
  "io-verify": {
    ...base,
    name: "io-verify",
    description: "two guests read and write with verification; out-of-order completion, coalesced events",
  },
  "hotplug-under-io": {
    ...base,
    name: "hotplug-under-io",
    description: "LUNs hot-unplugged and re-attached while their guest reads and writes",
    luns: 2,
    faults: ["hot-unplug"],
    faultRate: 20,
  },
  "abort-reset": {
    ...base,
    name: "abort-reset",
    description: "ABORT/RESET storms and hanging commands, recovered by the guest's error handler",
    faults: ["abort-storm", "device-hang"],
    faultRate: 25,
    timeoutTicks: 120,
  },
  "guest-destroy": {
    ...base,
    name: "guest-destroy",
    description: "a guest destroyed mid-I/O beside a guest that carries on",
    faults: ["guest-destroy"],
    faultRate: 4,
  },
  "grant-revoke": {
    ...base,
    name: "grant-revoke",
    description: "the guest tries to revoke grants the backend may have mapped (XSA-396)",
    faults: ["grant-revoke", "spurious-event"],
    faultRate: 30,
  },
  "power-loss": {
    ...base,
    name: "power-loss",
    description: "write-cached disks lose power; synced writes must survive, errors come back as errors",
    writeCache: true,
    mix: { read: 4, write: 4, sync: 2, tur: 0 },
    faults: ["power-loss", "device-error"],
    faultRate: 15,
  },
  "hostile-frontend": {
    ...base,
    name: "hostile-frontend",
    description:
      "guest 0 attacks scsiback (XSA-155/-216/-332/-362/-396, ring overflow, bad rqids and segments) beside two honest guests",
    guests: 3,
    hostile: [...ATTACK_CLASSES],
  },
  "hostile-backend": {
    ...base,
    name: "hostile-backend",
    description:
      "guest 0's backend attacks its scsifront (bad rqids, duplicate answers, overflows, grants kept mapped)",
    hostileBackend: [...BACK_ATTACK_CLASSES],
  },
  "indirect-io": {
    ...base,
    name: "indirect-io",
    description: "transfers of up to 128 KiB (33 pages: indirect segment pages) under every fault",
    luns: 1,
    blocks: 512,
    maxBlocks: 256,
    depth: 4,
    ops: 12,
    writeCache: true,
    faults: [...FAULT_CLASSES],
    faultRate: 40,
    timeoutTicks: 150,
  },
  "deep-queue": {
    ...base,
    name: "deep-queue",
    description: "16 commands in flight per guest, scsiback's budget at 1 request per pass, every fault",
    luns: 2,
    depth: 16,
    ops: 60,
    budget: 1,
    writeCache: true,
    faults: [...FAULT_CLASSES],
    faultRate: 40,
    timeoutTicks: 150,
  },
  "tape-backup": {
    ...base,
    name: "tape-backup",
    description:
      "tape backups (records, filemark, rewind, verify) under resets, aborts, device errors and hot-unplug",
    luns: 1,
    ops: 160,
    steps: 1500,
    tape: { records: 12, maxRecord: 6000 },
    faults: FAULT_CLASSES.filter((f) => f !== "power-loss"),
    faultRate: 10,
    faultSparsity: 12,
    timeoutTicks: 150,
  },
  "all-faults": {
    ...base,
    name: "all-faults",
    description: "every fault class at once",
    luns: 2,
    writeCache: true,
    faults: [...FAULT_CLASSES],
    faultRate: 40,
    timeoutTicks: 150,
  },
};

/** A built-in scenario by name, with `faults` replaced when given; throws (ECONFIG) naming the choices. */
export function scenarioNamed(name: string, faults?: readonly FaultClass[]): Scenario {
  const s = SCENARIOS[name];
  if (s === undefined) {
    throw configError(
      "pvscsi sim",
      `no scenario '${name}' (there are: ${Object.keys(SCENARIOS).join(", ")})`,
    );
  }
  return faults === undefined ? s : { ...s, faults, faultRate: faults.length === 0 ? 0 : s.faultRate || 20 };
}

/** Parse a `--faults` list (comma-separated class names, or `all`, or `none`). */
export function parseFaults(text: string): FaultClass[] {
  if (text === "all") return [...FAULT_CLASSES];
  if (text === "none" || text === "") return [];
  const out: FaultClass[] = [];
  for (const f of text.split(",")) {
    const t = f.trim() as FaultClass;
    if (!FAULT_CLASSES.includes(t))
      throw configError("pvscsi sim", `no fault class '${f}' (there are: ${FAULT_CLASSES.join(", ")})`);
    out.push(t);
  }
  return out;
}
