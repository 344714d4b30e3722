import { lstatSync, renameSync, type Stats, unlinkSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { dirname } from "node:path";
import createDebug from "debug";
import { PvscsiError } from "../xen/errors.js";
import {
  type ControlHandler,
  type ControlRequest,
  type ControlResponse,
  MAX_CONTROL_LINE,
} from "./control-protocol.js";
import { isLoopback, type LoopbackAddress } from "./migrate-tcp.js";

const debug = createDebug("pvscsi:control");

/**
 * The control socket of `pvscsi up`: a thin shell that reads JSON lines, hands each request to
 * the handler and writes its response. A malformed line gets an error response; a line over
 * {@link MAX_CONTROL_LINE} closes that client. Nothing a client sends can stop the server.
 */
export class ControlServer {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  /** The socket file as created by {@link listen}: close removes only this very file. */
  private created: Stats | null = null;

  /** A loopback TCP address to listen on instead of a Unix socket (a migration listener). */
  private readonly tcp: LoopbackAddress | null;
  /** The Unix socket path, or `tcp://host:port` for a TCP listener (in messages). */
  private readonly path: string;

  constructor(
    target: string | LoopbackAddress,
    private readonly handler: ControlHandler,
  ) {
    if (typeof target === "string") {
      this.path = target;
      this.tcp = null;
    } else {
      if (!isLoopback(target.host))
        throw new PvscsiError(
          "EINVALARG",
          `${target.host}: a migration listener serves loopback addresses only`,
        );
      this.tcp = target;
      this.path = `tcp://${target.host.includes(":") ? `[${target.host}]` : target.host}:${target.port}`;
    }
  }

  /** The TCP port listened on (the one the system chose for port 0); null for a Unix socket. */
  get port(): number | null {
    const a = this.server?.address();
    return this.tcp !== null && a !== null && typeof a === "object" ? a.port : null;
  }

  /**
   * Listen. Refuses, with a message naming the path: a path too long for a Unix socket, a folder
   * that does not exist, anything at the path that is not a socket (a user's file is never
   * replaced), and a socket another live `pvscsi up` is serving. Only a stale socket (nothing
   * accepts on it) is removed first.
   */
  async listen(): Promise<void> {
    if (this.tcp !== null) return this.listenTcp(this.tcp);
    checkSocketPath(this.path);
    const existing = statOrNull(this.path);
    if (existing !== null) {
      if (!existing.isSocket()) {
        throw new PvscsiError(
          "ESTATE",
          `${this.path}: exists and is not a socket (${fileKind(existing)}); refusing to replace it — choose another --socket path`,
        );
      }
      if (await isAlive(this.path)) {
        throw new PvscsiError(
          "ESTATE",
          `${this.path}: another pvscsi host is already running (stop it, or use --socket)`,
        );
      }
      unlinkSync(this.path); // stale socket of a host that died
    }
    const server = createServer((s) => this.serve(s));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", (e: NodeJS.ErrnoException) => {
        this.server = null;
        reject(new PvscsiError("ESTATE", `${this.path}: cannot listen: ${e.code ?? ""} ${e.message}`.trim()));
      });
      server.listen(this.path, () => {
        server.removeAllListeners("error");
        resolve();
      });
    });
    this.created = statOrNull(this.path);
  }

  private async listenTcp(a: LoopbackAddress): Promise<void> {
    const server = createServer((s) => this.serve(s));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", (e: NodeJS.ErrnoException) => {
        this.server = null;
        reject(new PvscsiError("ESTATE", `${this.path}: cannot listen: ${e.code ?? ""} ${e.message}`.trim()));
      });
      server.listen(a.port, a.host, () => {
        server.removeAllListeners("error");
        resolve();
      });
    });
  }

  /**
   * Stop serving; removes the socket only if it is still the one this server created. libuv
   * unlinks a pipe's path when the server closes, whatever is there by then; if someone replaced
   * our socket with a file of theirs, it is moved aside for that moment and put back.
   */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    if (this.tcp !== null) {
      const server = this.server;
      this.server = null;
      if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
      return;
    }
    const server = this.server;
    this.server = null;
    const mine = this.created;
    this.created = null;
    const now = statOrNull(this.path);
    const ours = now?.isSocket() === true && mine !== null && now.ino === mine.ino && now.dev === mine.dev;
    const aside = `${this.path}.pvscsi-aside-${process.pid}`;
    const moved = now !== null && !ours && server !== null && tryRename(this.path, aside);
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    if (moved) tryRename(aside, this.path);
    else if (ours && statOrNull(this.path) !== null) {
      try {
        unlinkSync(this.path);
      } catch {
        // Already gone: nothing of ours is left.
      }
    }
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.setEncoding("utf8");
    let buffered = "";
    socket.on("data", (chunk: string) => {
      buffered += chunk;
      if (buffered.length > MAX_CONTROL_LINE && !buffered.includes("\n")) {
        debug("client sent a line over %d bytes; closing it", MAX_CONTROL_LINE);
        socket.destroy();
        return;
      }
      let nl = buffered.indexOf("\n");
      while (nl >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.trim() !== "") void this.answer(socket, line);
        nl = buffered.indexOf("\n");
      }
    });
    socket.on("error", () => socket.destroy());
    socket.on("close", () => this.sockets.delete(socket));
  }

  private async answer(socket: Socket, line: string): Promise<void> {
    let id = 0;
    let response: ControlResponse;
    try {
      const req = JSON.parse(line) as Partial<ControlRequest>;
      id = typeof req.id === "number" ? req.id : 0;
      if (typeof req.op !== "string") throw new PvscsiError("EINVALARG", "control request without an 'op'");
      const args = req.args && typeof req.args === "object" ? (req.args as Record<string, unknown>) : {};
      response = { id, ok: true, result: await this.handler.handle(req.op, args) };
    } catch (e) {
      const message =
        e instanceof SyntaxError
          ? `malformed control request: ${e.message}`
          : e instanceof Error
            ? e.message
            : String(e);
      if (!(e instanceof PvscsiError) && !(e instanceof SyntaxError))
        debug("request failed: %s", e instanceof Error ? e.stack : e);
      response = { id, ok: false, error: message };
    }
    if (!socket.destroyed) socket.write(`${JSON.stringify(response)}\n`);
  }
}

function isAlive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/**
 * Longest Unix socket path Linux accepts: `sizeof(sun_path)` is 108 bytes including the
 * terminating NUL (`unix(7)`). Node would otherwise truncate a longer one silently.
 */
export const MAX_SOCKET_PATH_BYTES = 107;

/** Check a socket path before anything touches the file system; errors say what is wrong. */
export function checkSocketPath(path: string): void {
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw new PvscsiError(
      "EINVALARG",
      `${path}: a socket path is at most ${MAX_SOCKET_PATH_BYTES} bytes on Linux (this one has ${bytes}); choose a shorter --socket path`,
    );
  }
  const dir = dirname(path);
  const d = statOrNull(dir);
  if (d === null) throw new PvscsiError("ESTATE", `${path}: the folder ${dir} does not exist`);
  if (!d.isDirectory()) throw new PvscsiError("ESTATE", `${path}: ${dir} is not a folder`);
}

function statOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

function tryRename(from: string, to: string): boolean {
  try {
    renameSync(from, to);
    return true;
  } catch {
    return false;
  }
}

function fileKind(s: Stats): string {
  if (s.isFile()) return "a regular file";
  if (s.isDirectory()) return "a folder";
  if (s.isSymbolicLink()) return "a symbolic link";
  return "not a socket";
}
