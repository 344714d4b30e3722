import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { compileC } from "../../_support/cc.js";

let exe: string | undefined;

/** Compile ring-driver.c once per test file. */
function driverExe(): string {
  exe ??= compileC(
    "ring-driver",
    readFileSync(fileURLToPath(new URL("./ring-driver.c", import.meta.url)), "utf8"),
  );
  return exe;
}

/** ring-driver.c as a co-process: send a command line, get its output lines. */
export class CRingDriver {
  private readonly child: ChildProcessWithoutNullStreams;
  private buffered = "";
  private waiting: { resolve: (lines: string[]) => void; reject: (e: Error) => void } | null = null;
  private lines: string[] = [];

  constructor() {
    this.child = spawn(driverExe(), [], { stdio: ["pipe", "pipe", "pipe"] });
    this.child.stdout.setEncoding("utf8");
    this.child.stdout.on("data", (chunk: string) => this.onData(chunk));
    this.child.on("exit", (code) => this.waiting?.reject(new Error(`ring-driver exited with ${code}`)));
  }

  private onData(chunk: string): void {
    this.buffered += chunk;
    let nl = this.buffered.indexOf("\n");
    while (nl >= 0) {
      const line = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      if (line === ".") {
        const w = this.waiting;
        const out = this.lines;
        this.waiting = null;
        this.lines = [];
        w?.resolve(out);
      } else {
        this.lines.push(line);
      }
      nl = this.buffered.indexOf("\n");
    }
  }

  exec(line: string): Promise<string[]> {
    if (this.waiting) throw new Error("one command at a time");
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.child.stdin.write(`${line}\n`);
    });
  }

  close(): void {
    this.child.stdin.end();
  }
}
