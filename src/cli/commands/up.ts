import { chmodSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { pollOversubscription } from "../../system/poll-budget.js";
import {
  type HostConfigSource,
  parseHostConfig,
  readHostConfigSource,
} from "../../targets/inventory/host-config.js";
import { formatLsscsi } from "../../targets/inventory/inventory.js";
import { hostControlHandler } from "../../toolstack/control-handler.js";
import { defaultSocketPath } from "../../toolstack/control-protocol.js";
import { ControlServer, checkSocketPath } from "../../toolstack/control-server.js";
import { Host } from "../../toolstack/host.js";
import {
  migrationOnlyHandler,
  newMigrationToken,
  parseLoopbackAddress,
} from "../../toolstack/migrate-tcp.js";
import { configError } from "../../xen/errors.js";
import { XenstoreSocketServer } from "../../xenstore/socket-server.js";
import { checkWritable, parseCommandArgs } from "../args.js";
import { type CliIo, type Command, EXIT_OK } from "../io.js";

const USAGE = `Usage: pvscsi up [--config <host.conf>] [--socket <path>] [--xenstore-socket <path>] [--poll]
                 [--trace FILE] [--machine-memory MIB] [--migrate-listen 127.0.0.1:<port>]

Run an emulated Xen host in the foreground: the hypervisor, xenstored and the toolstack, dom0's
kernel with scsiback and its SCSI devices. Manage it from another terminal with 'pvscsi xl ...',
'pvscsi guest ...' and 'pvscsi xenstore-ls'. Stop it with Ctrl-C (guests are destroyed cleanly).

  --config FILE   dom0's SCSI devices (host config; see src/targets/inventory/host-config.ts);
                  default: the built-in inventory
  --socket PATH   control socket (default: $PVSCSI_SOCKET, or $XDG_RUNTIME_DIR/pvscsi-<uid>.sock)
  --xenstore-socket PATH
                  xenstored's Unix socket, for Xen's own tools as dom0 (XENSTORED_PATH=PATH
                  xenstore-ls ...); owner-only (0600). Default: beside the control socket,
                  its name with '-xenstored' added before '.sock'
  --migrate-listen 127.0.0.1:PORT
                  also receive migrations ('pvscsi xl migrate <dom> tcp://127.0.0.1:PORT
                  --token-file FILE' on the other host) on this loopback TCP address (0: any
                  free port); only with the random token written to <socket>.migrate-token
                  (0600), and nothing but migrations
  --poll          poll rings instead of sleeping on event channels (for benchmarks); a polling
                  kernel spins a thread, so at most one per core less one for this process's
                  own thread (at least 1) polls: dom0's backend first, then domains in the
                  order they are created; the others wait on events ('xl create' warns)
  --trace FILE    record every domain's requests, notifications, grants and xenbus changes (the
                  last 65,536 events of each thread) and write them as Chrome trace-event JSON to
                  FILE when the host stops (open it in ui.perfetto.dev)
  --machine-memory MIB
                  carve every domain's RAM from one shared memory of MIB MiB (16 to 4096), so a
                  driver domain whose kernel is a wasm backend (driver_domain = 1, kernel =
                  "back.wasm") can map guests' grants; see docs/wasm.md. Default: off
`;

/**
 * The line `pvscsi up --poll` prints at start: how many kernels will poll on this machine, since
 * a domain beyond that runs event-driven and a benchmark must not be read as poll mode's.
 */
export function pollBudgetNotice(pollThreads: number, cores: number): string {
  const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
  if (pollThreads === 0)
    return `poll mode: ${plural(cores, "core", "cores")}; no kernel polls, all wait on events\n`;
  const others = pollThreads - 1;
  const beyond =
    others === 0
      ? "other domains wait on events"
      : `so do the first ${plural(others, "domain", "domains")} created; others wait on events`;
  return `poll mode: ${plural(cores, "core", "cores")}; dom0's backend polls, ${beyond}\n`;
}

/**
 * Read and check a host config file for {@link Host.start}, with errors naming it. It is parsed
 * here, before anything boots, so that a mistake is reported as `file:line: message` (exit 2)
 * rather than as a failure of dom0's kernel.
 */
export function loadHostConfig(path: string | undefined): HostConfigSource | null {
  if (path === undefined) return null;
  const source = readHostConfigSource(path, process.cwd(), (reason) =>
    configError(`--config ${path}`, `cannot read: ${reason}`),
  );
  parseHostConfig(source.text, source.source, source.baseDir);
  return source;
}

/**
 * Where `pvscsi up` puts xenstored's socket by default: beside the control socket, `-xenstored`
 * added before its `.sock` (`pvscsi-0.sock` → `pvscsi-0-xenstored.sock`).
 */
export function xenstoredSocketPath(controlSocket: string): string {
  return controlSocket.endsWith(".sock")
    ? `${controlSocket.slice(0, -".sock".length)}-xenstored.sock`
    : `${controlSocket}-xenstored`;
}

export const upCommand: Command = {
  name: "up",
  summary: "run an emulated Xen host with dom0's scsiback (foreground, control socket)",
  usage: USAGE,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseCommandArgs("up", argv, {
      config: { type: "string" },
      socket: { type: "string" },
      "xenstore-socket": { type: "string" },
      poll: { type: "boolean" },
      trace: { type: "string" },
      "machine-memory": { type: "string" },
      "migrate-listen": { type: "string" },
      help: { type: "boolean", short: "h" },
    });
    if (values.help) {
      io.out(USAGE);
      return EXIT_OK;
    }
    if (positionals.length > 0) throw configError("pvscsi up", `unexpected argument '${positionals[0]}'`);
    const socket = typeof values.socket === "string" ? values.socket : defaultSocketPath();
    checkSocketPath(socket); // before booting anything: a bad path is the user's to fix first
    const xsSocket =
      typeof values["xenstore-socket"] === "string" ? values["xenstore-socket"] : xenstoredSocketPath(socket);
    checkSocketPath(xsSocket);
    const hostConfig = loadHostConfig(typeof values.config === "string" ? values.config : undefined);
    const traceFile = typeof values.trace === "string" ? values.trace : undefined;
    const migrateAt =
      typeof values["migrate-listen"] === "string"
        ? parseLoopbackAddress(values["migrate-listen"], true)
        : null;
    if (traceFile !== undefined) checkWritable(traceFile);
    const mm = values["machine-memory"];
    const machineMemoryMiB = typeof mm === "string" ? Number(mm) : undefined;
    if (
      machineMemoryMiB !== undefined &&
      (!/^\d+$/.test(mm as string) || machineMemoryMiB < 16 || machineMemoryMiB > 4096)
    ) {
      throw configError("pvscsi up --machine-memory", `'${mm}' is not a number of MiB between 16 and 4096`);
    }
    const host = await Host.start({
      hostConfig,
      pollMode: values.poll === true,
      trace: traceFile !== undefined,
      ...(machineMemoryMiB !== undefined ? { machineMemoryMiB } : {}),
    });
    const server = new ControlServer(socket, hostControlHandler(host));
    const xsServer = new XenstoreSocketServer(host.xenstored, xsSocket);
    const tokenFile = `${socket}.migrate-token`;
    const token = migrateAt !== null ? newMigrationToken() : "";
    const migrateServer =
      migrateAt !== null
        ? new ControlServer(migrateAt, migrationOnlyHandler(hostControlHandler(host), token))
        : null;
    try {
      await server.listen();
      await xsServer.listen();
      if (migrateServer !== null) {
        writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
        chmodSync(tokenFile, 0o600);
        await migrateServer.listen();
      }
    } catch (e) {
      if (migrateServer !== null) rmSync(tokenFile, { force: true });
      await migrateServer?.close();
      await xsServer.close();
      await server.close();
      await host.shutdown();
      throw e;
    }
    io.out(
      `pvscsi host up: dom0 with ${host.inventory.length} SCSI device(s) (${hostConfig?.source ?? "built-in inventory"})\n`,
    );
    io.out(formatLsscsi(host.inventory));
    if (host.pollMode) {
      io.out(pollBudgetNotice(host.pollThreads, availableParallelism()));
      const warning = pollOversubscription(host.pollThreads, availableParallelism());
      if (warning !== null) io.err(`pvscsi up: warning: ${warning}\n`);
    }
    io.out(`xenstored socket: ${xsSocket}   (XENSTORED_PATH=${xsSocket} xenstore-ls)\n`);
    if (migrateServer !== null)
      io.out(
        `migration listener: tcp://${migrateAt!.host}:${migrateServer.port}   (token in ${tokenFile})\n`,
      );
    io.out(`control socket: ${socket}\ntry: pvscsi xl create <domain.cfg>   (Ctrl-C stops the host)\n`);
    await new Promise<void>((resolveStop) => {
      const stop = () => {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
        resolveStop();
      };
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
    });
    io.out("stopping: destroying guests and dom0's kernel...\n");
    await xsServer.close();
    await server.close();
    if (migrateServer !== null) {
      await migrateServer.close();
      rmSync(tokenFile, { force: true });
    }
    const trace = traceFile !== undefined ? host.trace() : null;
    await host.shutdown();
    if (traceFile !== undefined && trace !== null) {
      writeFileSync(traceFile, JSON.stringify(trace));
      io.out(`trace: ${trace.traceEvents.length} events written to ${traceFile}\n`);
    }
    io.out("stopped\n");
    return EXIT_OK;
  },
};
