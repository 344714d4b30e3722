import type { Debugger } from "debug";

/**
 * In a domain's worker: log a promise rejection nobody handled instead of letting Node end the
 * thread. A late failure in some device's or command's promise chain is a bug to report, not a
 * reason to take every guest's backend (or a guest's kernel) down with it.
 */
export function logUnhandledRejections(log: Debugger): void {
  process.on("unhandledRejection", (e) =>
    log("unhandled rejection: %s", e instanceof Error ? (e.stack ?? e.message) : e),
  );
}
