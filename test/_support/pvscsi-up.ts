import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const cli = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
// tsx by URL: `--import tsx` would be looked up from the child's working folder, not the repo.
const tsx = new URL("../../node_modules/tsx/dist/loader.mjs", import.meta.url).href;

/** A `pvscsi up` in a process of its own, as in "one terminal". */
export interface UpProcess {
  readonly child: ChildProcess;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Ctrl-C, and wait for it to exit. */
  stop(): Promise<void>;
}

/**
 * Start `pvscsi up <args>` from the sources, resolve once it prints its control socket, reject
 * with its output if it exits first.
 */
export async function startUp(
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<UpProcess> {
  const child = spawn(process.execPath, ["--import", tsx, cli, "up", ...args], {
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    env: options.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.setEncoding("utf8");
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (d: string) => {
    out += d;
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (d: string) => {
      out += d;
      if (out.includes("control socket:")) resolve();
    });
    child.once("exit", (c) => reject(new Error(`pvscsi up exited (${c}): ${out}`)));
  });
  return {
    child,
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGINT");
      await exited;
    },
  };
}
