import { statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { type ParseArgsConfig, parseArgs } from "node:util";
import { configError } from "../xen/errors.js";

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * `util.parseArgs` with errors that name the offending argument and point at `--help`.
 * Throws a `PvscsiError` (code ECONFIG) for the caller to print with exit status 2.
 */
export function parseCommandArgs<O extends Options>(
  command: string,
  argv: readonly string[],
  options: O,
  allowPositionals = true,
): { values: Record<string, string | boolean | (string | boolean)[] | undefined>; positionals: string[] } {
  try {
    return parseArgs({ args: [...argv], options, allowPositionals, strict: true });
  } catch (e) {
    const msg = e instanceof Error ? e.message.replace(/\. To specify a positional.*$/s, "") : String(e);
    throw configError(`pvscsi ${command}`, `${msg} (see 'pvscsi ${command} --help')`);
  }
}

/**
 * Check, before any work, that `file` can be written: its folder exists and is a folder, and
 * `file` is not a folder. Throws a `PvscsiError` (ECONFIG, exit 2) naming the option's file.
 */
export function checkWritable(file: string, option = "--trace"): void {
  const dir = dirname(resolve(file));
  let st: ReturnType<typeof statSync> | undefined;
  try {
    st = statSync(dir);
  } catch {
    throw configError(`${option} ${file}`, `folder ${dir} does not exist`);
  }
  if (!st.isDirectory()) throw configError(`${option} ${file}`, `${dir} is not a folder`);
  try {
    if (statSync(file).isDirectory()) throw configError(`${option} ${file}`, "is a folder");
  } catch (e) {
    if (e instanceof Error && "code" in e && (e as NodeJS.ErrnoException).code === "ENOENT") return;
    throw e;
  }
}
