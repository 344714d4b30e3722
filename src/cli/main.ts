#!/usr/bin/env node
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { PvscsiError } from "../xen/errors.js";
import { abiCommand } from "./commands/abi.js";
import { demoCommand } from "./commands/demo.js";
import { guestCommand } from "./commands/guest.js";
import { simCommand } from "./commands/sim.js";
import { uiCommand } from "./commands/ui.js";
import { upCommand } from "./commands/up.js";
import { virshCommand } from "./commands/virsh.js";
import { xenstoreLsCommand } from "./commands/xenstore-ls.js";
import { xlCommand } from "./commands/xl.js";
import { type CliIo, type Command, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, processIo } from "./io.js";

/** Every subcommand, in the order `pvscsi --help` lists them. */
export const commands: readonly Command[] = [
  demoCommand,
  upCommand,
  xlCommand,
  guestCommand,
  xenstoreLsCommand,
  abiCommand,
  uiCommand,
  simCommand,
  virshCommand,
];

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const rows = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `Usage: pvscsi <command> [options]

pvscsi emulates Xen's paravirtualised SCSI split driver in one Node process.

Commands:
${rows.join("\n")}

Run 'pvscsi <command> --help' for a command's options.
`;
}

/** Run the CLI with `argv` (without node and script). Returns the exit status. */
export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    io.out(usage());
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    io.err(`pvscsi: unknown command '${name}' (see 'pvscsi --help')\n`);
    return EXIT_USAGE;
  }
  try {
    return await command.run(rest, io);
  } catch (e) {
    if (e instanceof PvscsiError) {
      io.err(`${e.message}\n`);
      return e.code === "ECONFIG" || e.code === "EINVALARG" ? EXIT_USAGE : EXIT_FAILURE;
    }
    throw e;
  }
}

/** True when this module is the process's entry point (directly, or through npm's bin symlink). */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

/**
 * Run the `pvscsi` command as a process: `argv` without node and the script, the exit code set
 * on `process`. Called when this module is the entry point, and by the bin shim
 * (`bin/pvscsi.cjs`), which checks the Node.js version first.
 */
export function runCli(argv: readonly string[]): Promise<void> {
  // `pvscsi xenstore-ls | head`: a reader closing the pipe ends the output, not with a stack trace.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code !== "EPIPE") throw e;
    process.exit(process.exitCode ?? 0);
  });
  return main(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(
        `pvscsi: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
      );
      process.exitCode = EXIT_FAILURE;
    },
  );
}

if (isEntryPoint()) void runCli(process.argv.slice(2));
