import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

/** A system prerequisite of some tests: a file a Debian package installs, or a program on PATH. */
export interface SystemRequirement {
  /** Debian package that provides it. */
  readonly pkg: string;
  /** A file the package installs, or a program name to find on PATH. */
  readonly file?: string;
  readonly program?: string;
}

function present(req: SystemRequirement): boolean {
  if (req.file !== undefined && !existsSync(req.file)) return false;
  if (req.program !== undefined) {
    try {
      execFileSync("sh", ["-c", `command -v ${req.program}`], { stdio: "ignore" });
    } catch {
      return false;
    }
  }
  return true;
}

/**
 * Whether the requirements are met. Under CI (`CI` set) a missing one is a failure whose message
 * names the package; elsewhere the tests that need it are skipped, loudly, with the install
 * command. Call at module top level and pass the result to `describe.runIf`.
 */
export function requireSystem(...reqs: SystemRequirement[]): boolean {
  const missing = reqs.filter((r) => !present(r));
  if (missing.length === 0) return true;
  const pkgs = [...new Set(missing.map((r) => r.pkg))].join(" ");
  const what = missing.map((r) => r.file ?? r.program).join(", ");
  if (process.env.CI) {
    throw new Error(`missing system package(s) ${pkgs} (need ${what}); .ci/run installs them with apt-get`);
  }
  process.stderr.write(
    `\n*** SKIPPING tests that need ${what}: install with\n***   sudo apt-get install -y ${pkgs}\n\n`,
  );
  return false;
}
