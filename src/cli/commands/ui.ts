import { readFileSync } from "node:fs";
import type { LiveRecording } from "../../ui/controls.js";
import { LiveView } from "../../ui/live-view.js";
import { parseRecording, serveLiveView } from "../../ui/server.js";
import { configError } from "../../xen/errors.js";
import { parseCommandArgs } from "../args.js";
import { type CliIo, type Command, EXIT_OK } from "../io.js";

const USAGE = `Usage: pvscsi ui [--port N] [--lesson | --replay FILE]

Serve a live, steppable view of the PV split driver on http://127.0.0.1:PORT/: a guest's vscsi
ring with its slots and indices (raw u32 and slot), every notification decision as arithmetic,
event channel bits, the guest's grants, both xenbus state lanes, and the last request's 252 bytes.
The machine runs in this one thread and starts paused: step one core action at a time, run, queue
reads, and inject faults (ABORT, hot-unplug, grant revocation, a stalled backend, indices near
2^32). Stop with Ctrl-C.

  --port N    port on 127.0.0.1 (default 7380; 0 picks a free one)
  --lesson        start the guided lesson: handshake, one request, suppression, wrap-around, hot-plug
  --replay FILE   replay a recording saved from the page (GET /api/recording), step for step
`;

export const uiCommand: Command = {
  name: "ui",
  summary: "serve a live, steppable web view of the ring, events, grants and xenbus",
  usage: USAGE,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseCommandArgs("ui", argv, {
      port: { type: "string" },
      lesson: { type: "boolean" },
      replay: { type: "string" },
      help: { type: "boolean", short: "h" },
    });
    if (values.help) {
      io.out(USAGE);
      return EXIT_OK;
    }
    if (positionals.length > 0) throw configError("pvscsi ui", `unexpected argument '${positionals[0]}'`);
    const portText = typeof values.port === "string" ? values.port : "7380";
    const port = Number(portText);
    if (!/^\d+$/.test(portText) || port > 65535)
      throw configError("pvscsi ui --port", `'${portText}' is not a port number (0-65535)`);
    let recording: LiveRecording | null = null;
    if (typeof values.replay === "string") {
      let text: string;
      try {
        text = readFileSync(values.replay, "utf8");
      } catch (e) {
        throw configError(`pvscsi ui --replay ${values.replay}`, `cannot read: ${(e as Error).message}`);
      }
      const r = parseRecording(text);
      if (typeof r === "string") throw configError(`pvscsi ui --replay ${values.replay}`, r);
      recording = r;
    }
    const view = await LiveView.start({ lesson: values.lesson === true && recording === null });
    if (recording !== null) await view.replay(recording);
    let server: Awaited<ReturnType<typeof serveLiveView>>;
    try {
      server = await serveLiveView(view, port);
    } catch (e) {
      await view.close();
      throw configError(
        "pvscsi ui --port",
        `cannot listen on 127.0.0.1:${port}: ${e instanceof Error ? e.message : e}`,
      );
    }
    io.out(`pvscsi ui: ${server.url}  (paused; Ctrl-C stops it)\n`);
    await new Promise<void>((resolveStop) => {
      const stop = () => {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
        resolveStop();
      };
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
    });
    await server.close();
    await server.view.close();
    io.out("stopped\n");
    return EXIT_OK;
  },
};
