/** Where a command writes. Commands take it as an argument so tests can run them in-process. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** Width of the terminal `out` writes to; undefined when it is not a terminal. */
  readonly columns?: number | undefined;
}

/** The process's own stdout and stderr. */
export const processIo: CliIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  get columns() {
    return process.stdout.isTTY ? process.stdout.columns : undefined;
  },
};

/** Exit statuses: 0 success, 1 the operation failed, 2 the command line was wrong. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A CLI command: parses its own arguments, returns its exit status. */
export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  run(argv: readonly string[], io: CliIo): Promise<number> | number;
}
