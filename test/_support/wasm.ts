import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The Debian packages the wasm SDK tests need. */
export const CLANG19 = { pkg: "clang-19", program: "clang-19" } as const;
export const LLD19 = { pkg: "lld-19", program: "wasm-ld-19" } as const;

/** The reference drivers' folder. */
export const EXAMPLES_C = fileURLToPath(new URL("../../examples/c", import.meta.url));

const built = new Map<string, string>();

/**
 * Build examples/c's scsifront with its Makefile (the README's build line), into a temporary
 * folder; `broken` picks a deliberately broken variant (-DBREAK_<broken>). Cached per variant.
 */
export function buildScsifront(
  broken?: string,
  extra: readonly string[] = [],
): { path: string; bytes: Uint8Array } {
  const key = `${broken ?? ""}|${extra.join(" ")}`;
  let path = built.get(key);
  if (path === undefined) {
    const out = mkdtempSync(join(tmpdir(), "pvscsi-wasm-"));
    try {
      execFileSync(
        "make",
        ["-s", "-C", EXAMPLES_C, `OUT=${out}`, ...(broken ? [`BROKEN=${broken}`] : []), ...extra],
        {
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
    } catch (e) {
      const err = e as { stderr?: Buffer };
      throw new Error(`make failed:\n${err.stderr?.toString() ?? String(e)}`);
    }
    path = join(out, broken ? `scsifront-broken-${broken}.wasm` : "scsifront.wasm");
    built.set(key, path);
  }
  return { path, bytes: new Uint8Array(readFileSync(path)) };
}

const builtBack = new Map<string, string>();

/**
 * Build examples/c's scsiback (`make scsiback`) into a temporary folder; `broken` picks a
 * deliberately misbehaving variant (-DBREAK_<broken>). Cached per variant.
 */
export function buildScsiback(broken?: string): { path: string; bytes: Uint8Array } {
  const key = broken ?? "";
  let path = builtBack.get(key);
  if (path === undefined) {
    const out = mkdtempSync(join(tmpdir(), "pvscsi-wasm-"));
    try {
      execFileSync(
        "make",
        ["-s", "-C", EXAMPLES_C, `OUT=${out}`, "scsiback", ...(broken ? [`BROKEN=${broken}`] : [])],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
    } catch (e) {
      const err = e as { stderr?: Buffer };
      throw new Error(`make failed:\n${err.stderr?.toString() ?? String(e)}`);
    }
    path = join(out, broken ? `scsiback-broken-${broken}.wasm` : "scsiback.wasm");
    builtBack.set(key, path);
  }
  return { path, bytes: new Uint8Array(readFileSync(path)) };
}

/** Build examples/c/xs-hello.c (the Makefile's xs-hello target) into a temporary folder. */
export function buildXsHello(): string {
  const out = mkdtempSync(join(tmpdir(), "pvscsi-wasm-"));
  execFileSync("make", ["-s", "-C", EXAMPLES_C, `OUT=${out}`, "xs-hello"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  return join(out, "xs-hello.wasm");
}

/** Poll `f` every few ms until it returns a value other than undefined, at most `ms`. */
export async function until<T>(f: () => Promise<T | undefined>, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Compile a test fixture (C, in test/wasm/fixtures) with the Makefile's flags and the SDK
 * (runtime, xenbus, userspace) into a temporary folder; returns the module's bytes.
 */
export function buildFixture(name: string): Uint8Array {
  const out = join(mkdtempSync(join(tmpdir(), "pvscsi-wasm-")), `${name}.wasm`);
  const sdk = fileURLToPath(new URL("../../sdk", import.meta.url));
  const src = fileURLToPath(new URL(`../wasm/fixtures/${name}.c`, import.meta.url));
  try {
    execFileSync(
      "clang-19",
      [
        "--target=wasm32",
        "-O2",
        "-ffreestanding",
        "-nostdlib",
        "-matomics",
        "-mbulk-memory",
        "-Wall",
        "-Wextra",
        `-I${sdk}/include`,
        "-idirafter",
        "/usr/include",
        "-Wl,--no-entry,--import-memory,--shared-memory,--max-memory=4294967296",
        "-Wl,--stack-first,-z,stack-size=65536,--export=__heap_base",
        "-o",
        out,
        src,
        `${sdk}/src/runtime.c`,
        `${sdk}/src/xenbus.c`,
        `${sdk}/src/userspace.c`,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
  } catch (e) {
    const err = e as { stderr?: Buffer };
    throw new Error(`clang failed:\n${err.stderr?.toString() ?? String(e)}`);
  }
  return new Uint8Array(readFileSync(out));
}
