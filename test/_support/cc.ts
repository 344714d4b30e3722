import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The Debian packages and files the C conformance tests compile against. */
export const XEN_HEADERS = { pkg: "libxen-dev", file: "/usr/include/xen/io/ring.h" } as const;
export const GCC = { pkg: "gcc", program: "gcc" } as const;

/**
 * Compile one C file with gcc against Xen's public headers and return the executable's path.
 * `-D__XEN_TOOLS__` selects the current interface version, without which ring.h maps `xen_mb()`
 * to an undefined `mb()`.
 */
export function compileC(name: string, source: string, extraFlags: readonly string[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), `pvscsi-${name}-`));
  const src = join(dir, `${name}.c`);
  const exe = join(dir, name);
  writeFileSync(src, source);
  try {
    execFileSync(
      "gcc",
      ["-std=gnu11", "-O1", "-Wall", "-Werror", "-D__XEN_TOOLS__", ...extraFlags, "-o", exe, src],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
  } catch (e) {
    const err = e as { stderr?: Buffer };
    throw new Error(`gcc failed on ${src}:\n${err.stderr?.toString() ?? String(e)}`);
  }
  return exe;
}
