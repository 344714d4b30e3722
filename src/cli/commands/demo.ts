import { writeFileSync } from "node:fs";
import { runDemo } from "../../toolstack/demo.js";
import { runVbdDemo } from "../../toolstack/vbd-demo.js";
import { checkChromeTrace } from "../../trace/chrome-trace.js";
import { checkWritable, parseCommandArgs } from "../args.js";
import { type CliIo, type Command, EXIT_FAILURE, EXIT_OK } from "../io.js";

const USAGE = `Usage: pvscsi demo [--vbd] [--json] [--trace FILE]

Run the backup-to-tape scenario end to end in one process: an emulated host whose dom0 has an LTO tape
autoloader and a disk; a guest with two vscsi devices scans them, writes and reads its disk with
checksums while the tape drive is hot-attached, backs a directory tree up to tape (mtx load, tar),
rewinds, restores and verifies it, unloads; then a detach, and destroy. Cartridges live in a
temporary directory. DEBUG=pvscsi:* shows every layer's events.

  --vbd          instead, the second split driver: one dom0 disk as a vscsi disk (sda) and as a
                 Xen virtual block device (xvda) in the same guest, data across both, fio on each,
                 hot-unplug
  --json         print the steps, checks, rates and backend counters as one JSON document
  --trace FILE   record every request, notification, grant and xenbus change of every domain
                 and write them as Chrome trace-event JSON to FILE (open it in ui.perfetto.dev)
`;

export const demoCommand: Command = {
  name: "demo",
  summary: "run the end-to-end backup-to-tape scenario (what 'npm start' runs)",
  usage: USAGE,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    const { values } = parseCommandArgs(
      "demo",
      argv,
      {
        json: { type: "boolean" },
        trace: { type: "string" },
        vbd: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      false,
    );
    if (values.help) {
      io.out(USAGE);
      return EXIT_OK;
    }
    const json = values.json === true;
    const traceFile = typeof values.trace === "string" ? values.trace : undefined;
    if (traceFile !== undefined) checkWritable(traceFile);
    let n = 0;
    const { trace, ...report } = await (values.vbd === true ? runVbdDemo : runDemo)(
      (s) => {
        if (json) return;
        n++;
        io.out(`\n== ${n}. ${s.title}  (${s.ms.toFixed(0)} ms)\n${s.text}`);
      },
      { trace: traceFile !== undefined },
    );
    if (traceFile !== undefined && trace !== undefined) {
      writeFileSync(traceFile, JSON.stringify(trace));
      const sum = checkChromeTrace(trace);
      for (const p of sum.problems.slice(0, 5)) io.err(`trace: malformed: ${p}\n`);
      io.err(
        `trace: ${sum.events} events (${sum.requests} requests, ${sum.flows} flows, ${sum.slices} slices, ${sum.counters} counter samples) written to ${traceFile}; open it in ui.perfetto.dev\n`,
      );
    }
    const failed = Object.entries(report.checks).filter(([, ok]) => !ok);
    if (json) {
      io.out(`${JSON.stringify(report, null, 2)}\n`);
    } else {
      io.out(`\n== checks\n`);
      for (const [what, ok] of Object.entries(report.checks)) io.out(`  [${ok ? "ok" : "FAILED"}] ${what}\n`);
      io.out(`\nfinished in ${(report.totalMs / 1000).toFixed(1)} s\n`);
    }
    return failed.length === 0 ? EXIT_OK : EXIT_FAILURE;
  },
};
