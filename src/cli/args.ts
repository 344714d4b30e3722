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
