/**
 * Whole-system scenarios (`system-*`): guests created, attached, detached and destroyed by the
 * toolstack (libxl's logic, src/toolstack) over the single-thread system, with xenstored, the
 * xenbus state machines, every vcpu's events, scsiback, scsifront and the disks as steps of one
 * seeded scheduler ({@link SystemWorld}). Plain objects, like {@link Scenario}.
 * @module
 */
import { configError } from "../xen/errors.js";

/**
 * A fault class of the whole-system simulator (each documented in docs/sim.md):
 * - `xs-eagain`: xenstored fails transaction commits with `EAGAIN` (the callers must retry);
 * - `hotplug`: `xl scsi-attach` / `xl scsi-detach` of LUNs under I/O (state 7, Reconfiguring);
 * - `hostile-xenstore-front`: a hostile guest writes out-of-order xenbus states and garbage
 *   into its own frontend nodes (scsiback must answer with xenbus errors, never crash);
 * - `hostile-xenstore-back`: garbage and out-of-order states written into the backend nodes of
 *   guest 0's controller (its scsifront must fail cleanly, never crash);
 * - `backend-crash`: dom0's scsiback lets go of a guest's controller abruptly (unbound, as when
 *   the module is unloaded) under I/O and is restarted; Linux's scsifront does not reconnect from
 *   Closed, so the restart is the toolstack re-creating the controller (docs/sim.md).
 * Out-of-order device completion and delayed, coalesced event delivery are always on.
 */
export type SystemFaultClass =
  | "xs-eagain"
  | "hotplug"
  | "hostile-xenstore-front"
  | "hostile-xenstore-back"
  | "backend-crash";

/** Every whole-system fault class. */
export const SYSTEM_FAULT_CLASSES: readonly SystemFaultClass[] = [
  "xs-eagain",
  "hotplug",
  "hostile-xenstore-front",
  "hostile-xenstore-back",
  "backend-crash",
];

/** A deliberately broken toolstack or driver for the mutation check (the system scenarios' own mutants). */
export type SystemMutation =
  /** `xl destroy` forgets to remove the backend directories of the guest's controllers. */
  | "destroy-leaves-nodes"
  /** The toolstack's transactions give up at the first `EAGAIN` (no retry loop). */
  | "no-eagain-retry"
  /** scsifront leaves the commands still in flight when its backend closes unanswered (never fails them). */
  | "disconnect-keeps-inflight";

/** Every whole-system mutant. */
export const SYSTEM_MUTANTS: readonly SystemMutation[] = [
  "destroy-leaves-nodes",
  "no-eagain-retry",
  "disconnect-keeps-inflight",
];

/** One whole-system simulation. */
export interface SystemScenario {
  readonly name: string;
  readonly description: string;
  /** Honest guests (created by `xl create` as the run's first steps). */
  readonly guests: number;
  /** LUNs each guest's controller has at create; hot-plug may attach up to {@link maxLuns}. */
  readonly luns: number;
  readonly maxLuns: number;
  /** Blocks of 512 bytes per disk. */
  readonly blocks: number;
  /** I/O operations (verified READ/WRITE) each honest guest issues. */
  readonly ops: number;
  /** Most commands a guest keeps in flight. */
  readonly depth: number;
  /** Largest transfer in blocks. */
  readonly maxBlocks: number;
  readonly faults: readonly SystemFaultClass[];
  /** How likely a fault step is offered at a step (per mille). */
  readonly faultRate: number;
  /** With `xs-eagain`: how likely a commit fails (per mille). */
  readonly eagainRate: number;
  /** Steps of the active phase, then the bound of the drain phase (teardown included). */
  readonly steps: number;
  readonly drainSteps: number;
  /** The toolstack's state timeout in virtual ms (libxl's device timeouts). */
  readonly stateTimeoutMs: number;
  readonly mutation?: SystemMutation;
}

const base = {
  guests: 2,
  luns: 1,
  maxLuns: 2,
  blocks: 64,
  ops: 16,
  depth: 4,
  maxBlocks: 16,
  faults: [] as SystemFaultClass[],
  faultRate: 0,
  eagainRate: 0,
  steps: 1500,
  drainSteps: 6000,
  stateTimeoutMs: 10_000,
} as const;

/** The built-in whole-system scenarios, by name (`pvscsi sim --scenario system-…`). */
export const SYSTEM_SCENARIOS: Readonly<Record<string, SystemScenario>> = {
  "system-io": {
    ...base,
    name: "system-io",
    description:
      "two guests created by the toolstack read and write with verification, then destroyed: xenstored, watches, xenbus, events, rings and disks as seeded steps",
  },
  "system-hotplug": {
    ...base,
    name: "system-hotplug",
    description: "xl scsi-attach / scsi-detach of LUNs under I/O (backend state 7, Reconfiguring)",
    faults: ["hotplug"],
    faultRate: 30,
  },
  "system-xs-conflicts": {
    ...base,
    name: "system-xs-conflicts",
    description: "xenstored fails a third of transaction commits with EAGAIN, under hot-plug and I/O",
    faults: ["xs-eagain", "hotplug"],
    faultRate: 20,
    eagainRate: 300,
  },
  "system-hostile-xenstore": {
    ...base,
    name: "system-hostile-xenstore",
    description:
      "a hostile guest writes out-of-order states and garbage into its frontend nodes; garbage lands in guest 0's backend nodes",
    faults: ["hostile-xenstore-front", "hostile-xenstore-back"],
    faultRate: 40,
    // Garbage can leave the drivers ping-ponging Connected/Closed (as Linux's would): the
    // toolstack's removal then ends only by its timeout, which must come within the drain.
    stateTimeoutMs: 2000,
  },
  "system-backend-crash": {
    ...base,
    name: "system-backend-crash",
    description:
      "dom0's scsiback lets go of a guest's controller under I/O (unbound) and is restarted; the toolstack re-creates the controller",
    faults: ["backend-crash"],
    faultRate: 25,
    ops: 40,
    // Re-creating a controller takes a few hundred steps: room for I/O after the restart.
    steps: 3000,
  },
  "system-all-faults": {
    ...base,
    name: "system-all-faults",
    description: "every whole-system fault class at once",
    faults: [...SYSTEM_FAULT_CLASSES],
    faultRate: 40,
    eagainRate: 200,
    stateTimeoutMs: 2000,
  },
};

/** Whether `name` names a whole-system scenario. */
export function isSystemScenario(name: string): boolean {
  return Object.hasOwn(SYSTEM_SCENARIOS, name);
}

/** A whole-system scenario by name, with `faults` replaced when given; throws (ECONFIG) naming the choices. */
export function systemScenarioNamed(name: string, faults?: readonly SystemFaultClass[]): SystemScenario {
  const s = SYSTEM_SCENARIOS[name];
  if (s === undefined) {
    throw configError(
      "pvscsi sim",
      `no system scenario '${name}' (there are: ${Object.keys(SYSTEM_SCENARIOS).join(", ")})`,
    );
  }
  if (faults === undefined) return s;
  return {
    ...s,
    faults,
    faultRate: faults.length === 0 ? 0 : s.faultRate || 30,
    eagainRate: faults.includes("xs-eagain") ? s.eagainRate || 200 : 0,
  };
}

/** Parse a `--faults` list of whole-system fault classes (or `all`, or `none`). */
export function parseSystemFaults(text: string): SystemFaultClass[] {
  if (text === "all") return [...SYSTEM_FAULT_CLASSES];
  if (text === "none" || text === "") return [];
  const out: SystemFaultClass[] = [];
  for (const f of text.split(",")) {
    const t = f.trim() as SystemFaultClass;
    if (!SYSTEM_FAULT_CLASSES.includes(t))
      throw configError(
        "pvscsi sim",
        `no system fault class '${f}' (there are: ${SYSTEM_FAULT_CLASSES.join(", ")})`,
      );
    out.push(t);
  }
  return out;
}
