/** A control the page (or a test) sends. */
export type LiveControl =
  | { action: "run"; speed?: number }
  | { action: "pause" }
  | { action: "step"; count?: number }
  | { action: "reads"; count?: number; depth?: number }
  | { action: "abort"; rqid: number }
  | { action: "unplug" }
  | { action: "plug" }
  | { action: "revoke" }
  | { action: "stall"; on: boolean }
  | { action: "wrap" }
  | { action: "select"; domid: number; devid: number }
  | { action: "lesson"; index: number }
  | { action: "replay" };

/**
 * A recorded session of the live view: each control that changes the machine, with the number of
 * core actions run before it. Replaying it on a fresh machine ({@link LiveView.replay}) repeats the
 * session step for step: the single-thread system runs the same actions in the same order.
 */
export interface LiveRecording {
  readonly version: 1;
  readonly entries: Array<{ readonly atStep: number; readonly control: LiveControl }>;
  /** Core actions run in all. */
  readonly steps: number;
}
