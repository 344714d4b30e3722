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
  | { action: "lesson"; index: number };
