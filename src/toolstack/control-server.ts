import { existsSync, unlinkSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import createDebug from "debug";
import { PvscsiError } from "../xen/errors.js";
import {
  type ControlHandler,
  type ControlRequest,
  type ControlResponse,
  MAX_CONTROL_LINE,
} from "./control-protocol.js";

const debug = createDebug("pvscsi:control");

/**
 * The control socket of `pvscsi up`: a thin shell that reads JSON lines, hands each request to
 * the handler and writes its response. A malformed line gets an error response; a line over
 * {@link MAX_CONTROL_LINE} closes that client. Nothing a client sends can stop the server.
 */
export class ControlServer {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly path: string,
    private readonly handler: ControlHandler,
  ) {}

  /** Listen; refuses to take over a socket another live `pvscsi up` is serving. */
  async listen(): Promise<void> {
    if (existsSync(this.path)) {
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
      server.once("error", reject);
      server.listen(this.path, () => {
        server.off("error", reject);
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    if (existsSync(this.path)) unlinkSync(this.path);
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
