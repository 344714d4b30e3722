/**
 * The C references of the goal table (bench/c/ring-ref.c: Xen's io/ring.h between two
 * pthreads), built by the bench with gcc -O2 -pthread against /usr/include/xen into a cache
 * directory under the OS's temp dir (keyed by the source's hash), never into the source tree.
 * Without gcc or libxen-dev, as the tests' requireSystem does: under CI that is an error naming
 * the package; elsewhere the C columns are skipped, loudly, with the install command.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const SOURCE = fileURLToPath(new URL("./c/ring-ref.c", import.meta.url));
const FLAGS = ["-std=gnu11", "-O2", "-pthread", "-Wall", "-Werror", "-D__XEN_TOOLS__"];
const REQUIREMENTS = [
  { pkg: "gcc", program: "gcc" },
  { pkg: "libxen-dev", file: "/usr/include/xen/io/vscsiif.h" },
] as const;

/** What one run of the C reference printed (see ring-ref.c). */
export interface CRingResult {
  readonly mode: "poll" | "event" | "lat";
  readonly depth: number;
  readonly requests: number;
  readonly seconds: number;
  readonly rps: number;
  readonly sendsToBack: number;
  readonly sendsToFront: number;
  readonly p50_ns?: number;
  readonly p99_ns?: number;
  readonly p99_9_ns?: number;
  readonly max_ns?: number;
}

function onPath(program: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${program}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/**
 * Build the reference (once per source version) and return its path, or a reason it cannot be
 * built here (outside CI only; under CI a missing package throws).
 */
export function buildCReference(): { exe: string } | { skipped: string } {
  const missing = REQUIREMENTS.filter((r) => ("program" in r ? !onPath(r.program) : !existsSync(r.file)));
  if (missing.length > 0) {
    const pkgs = missing.map((r) => r.pkg).join(" ");
    const what = missing.map((r) => ("program" in r ? r.program : r.file)).join(", ");
    if (process.env.CI)
      throw new Error(`missing system package(s) ${pkgs} (need ${what}) for the C references`);
    process.stderr.write(
      `\n*** SKIPPING the C references (need ${what}): install with\n***   sudo apt-get install -y ${pkgs}\n\n`,
    );
    return { skipped: `no ${what}` };
  }
  const source = readFileSync(SOURCE);
  const key = createHash("sha256").update(source).update(FLAGS.join(" ")).digest("hex").slice(0, 16);
  const dir = join(tmpdir(), "pvscsi-bench-c", key);
  const exe = join(dir, "ring-ref");
  if (existsSync(exe)) return { exe };
  mkdirSync(dir, { recursive: true });
  const tmp = `${exe}.${process.pid}`;
  try {
    execFileSync("gcc", [...FLAGS, "-o", tmp, SOURCE], { stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const err = e as { stderr?: Buffer };
    throw new Error(`gcc failed on ${SOURCE}:\n${err.stderr?.toString() ?? String(e)}`);
  }
  renameSync(tmp, exe);
  return { exe };
}

/** Run the reference in `mode` for `seconds`; it prints one JSON line. */
export function runCReference(exe: string, mode: "poll" | "event" | "lat", seconds: number): CRingResult {
  const out = execFileSync(exe, [mode, String(seconds)], {
    encoding: "utf8",
    timeout: (seconds + 30) * 1000,
  });
  return JSON.parse(out) as CRingResult;
}
