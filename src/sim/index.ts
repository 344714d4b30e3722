/**
 * `pvscsi/sim`: deterministic simulation of the PV SCSI split driver. A seeded scheduler
 * interleaves scsifront, scsiback, event delivery and device completions in one thread, injects
 * faults, checks invariants after every step ({@link runSim}), sweeps seeds over worker threads
 * ({@link sweep}), shrinks a failing run to a short one ({@link shrink}) and replays it exactly
 * from a {@link ReplayFile}. A {@link HostileFront} attacks a backend with classes named after
 * Xen security advisories; {@link attackWasmFrontend} turns a {@link HostileBack} on a
 * WebAssembly frontend driver. {@link runSystemSim} does the same for the whole single-thread
 * system (xenstored, xenbus, the toolstack) with virtual time. The invariants are stated in
 * docs/sim.md.
 * @module
 */
export { Chooser } from "./chooser.js";
export { GatedDisk } from "./gated-disk.js";
export {
  ATTACK_CLASSES,
  type AttackChoices,
  type AttackClass,
  BACK_ATTACK_CLASSES,
  type BackAttackClass,
  HostileBack,
  HostileFront,
  type HostileMapper,
  responseLeak,
} from "./hostile.js";
export { Prng } from "./prng.js";
export { parseReplay, REPLAY_VERSION, type ReplayFile, replayFile } from "./replay.js";
export {
  type RunOptions,
  type RunResult,
  runSim,
  type ShrinkOptions,
  type SimResult,
  shrink,
} from "./run.js";
export {
  checkScenario,
  DEFAULT_GUEST_FRAMES,
  FAULT_CLASSES,
  type FaultClass,
  MIN_GUEST_FRAMES,
  parseFaults,
  SCENARIOS,
  type Scenario,
  scenarioNamed,
  type WorkloadMix,
} from "./scenario.js";
export { SIM_BLOCK, type SimDevice, SimDisk, type SimTask } from "./sim-disk.js";
export { SimTape, type TapeAnswer } from "./sim-tape.js";
export { type SweepFailure, type SweepOptions, type SweepResult, sweep, sweepHere } from "./sweep.js";
export {
  isSystemReplay,
  parseSystemReplay,
  SYSTEM_REPLAY_VERSION,
  type SystemReplayFile,
  systemReplayFile,
} from "./system-replay.js";
export { runSystemSim, type SystemSimResult, shrinkSystem } from "./system-run.js";
export {
  isSystemScenario,
  parseSystemFaults,
  SYSTEM_FAULT_CLASSES,
  SYSTEM_MUTANTS,
  SYSTEM_SCENARIOS,
  type SystemFaultClass,
  type SystemMutation,
  type SystemScenario,
  systemScenarioNamed,
} from "./system-scenario.js";
export { type SystemInvariant, SystemViolation, SystemWorld, type SystemWorldStats } from "./system-world.js";
export { TAPE_FIXED_BLOCK, type TapeWorkload } from "./tape-workload.js";
export { VirtualClock } from "./virtual-clock.js";
export {
  attackWasmFrontend,
  type WasmAttackOptions,
  type WasmAttackReport,
  XENSTORE_ATTACKS,
  type XenstoreAttack,
} from "./wasm-attack.js";
export { type InvariantName, SimViolation, World, type WorldStats } from "./world.js";
