import { chmodSync, lstatSync, type Stats, unlinkSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import createDebug from "debug";
import { PvscsiError } from "../xen/errors.js";
import type { Xenstored, XenstoredStream } from "./xenstored.js";

const debug = createDebug("pvscsi:xenstore");

/** Longest Unix socket path Linux accepts (`sizeof(sun_path)` less the NUL, `unix(7)`). */
const MAX_SOCKET_PATH_BYTES = 107;

/**
 * xenstored's Unix socket (real xenstored's `/var/run/xenstored/socket`): every client is dom0,
 * privileged, exactly as xenstored treats its socket, so Xen's own tools (`xenstore-read`,
 * `-write`, `-ls`, `-watch`, `-rm` from xenstore-utils, with `XENSTORED_PATH=<socket>`) work
 * against the emulated host. The socket file is created owner-only (0600): reaching it is what
 * grants dom0's rights, so only the user running the host may. Guests keep their own rings and
 * permissions; this server does not change them.
 *
 * A thin shell: bytes from each client go to {@link Xenstored.connectStream}, which answers with
 * the same `struct xsd_sockmsg` messages the rings carry.
 */
export class XenstoreSocketServer {
  private server: Server | null = null;
  private readonly clients = new Map<Socket, XenstoredStream>();
  private created: Stats | null = null;

  constructor(
    private readonly xenstored: Xenstored,
    /** The socket file's path. */
    readonly path: string,
  ) {}

  /** Clients connected now. */
  get clientCount(): number {
    return this.clients.size;
  }

  /**
   * Create the socket, owner-only, and accept clients. Refused, naming the path: a path too long
   * for a Unix socket, anything there that is not a socket, a socket someone is serving; a stale
   * socket is replaced.
   */
  async listen(): Promise<void> {
    const bytes = Buffer.byteLength(this.path);
    if (bytes > MAX_SOCKET_PATH_BYTES) {
      throw new PvscsiError(
        "EINVALARG",
        `${this.path}: a socket path is at most ${MAX_SOCKET_PATH_BYTES} bytes on Linux (this one has ${bytes})`,
      );
    }
    const existing = statOrNull(this.path);
    if (existing !== null) {
      if (!existing.isSocket())
        throw new PvscsiError("ESTATE", `${this.path}: exists and is not a socket; refusing to replace it`);
      if (await isAlive(this.path))
        throw new PvscsiError("ESTATE", `${this.path}: another xenstored is already serving this socket`);
      unlinkSync(this.path);
    }
    const server = createServer((s) => this.serve(s));
    this.server = server;
    // The socket is bound inside listen(), synchronously: with umask 0177 around that call, it is
    // born 0600 and no other user can connect before the chmod below (belt and braces).
    const old = setUmask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", (e: NodeJS.ErrnoException) => {
          this.server = null;
          reject(
            new PvscsiError("ESTATE", `${this.path}: cannot listen: ${e.code ?? ""} ${e.message}`.trim()),
          );
        });
        server.listen(this.path, () => {
          server.removeAllListeners("error");
          resolve();
        });
        if (old !== undefined) setUmask(old);
      });
    } finally {
      if (old !== undefined) setUmask(old);
    }
    chmodSync(this.path, 0o600);
    this.created = statOrNull(this.path);
  }

  /** Disconnect every client and remove the socket file (if it is still ours). */
  async close(): Promise<void> {
    for (const [s, stream] of this.clients) {
      stream.close("xenstored socket closed");
      s.destroy();
    }
    this.clients.clear();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    const now = statOrNull(this.path);
    const mine = this.created;
    this.created = null;
    if (now?.isSocket() && mine !== null && now.ino === mine.ino && now.dev === mine.dev) {
      try {
        unlinkSync(this.path);
      } catch {
        // Already gone.
      }
    }
  }

  private serve(socket: Socket): void {
    let stream: XenstoredStream;
    try {
      stream = this.xenstored.connectStream(
        0,
        (bytes) => (socket.destroyed ? true : socket.write(bytes)),
        (reason) => {
          debug("xenstored socket client closed: %s", reason);
          this.clients.delete(socket);
          socket.destroy();
        },
      );
    } catch {
      socket.destroy();
      return;
    }
    this.clients.set(socket, stream);
    stream.onDrained = () => socket.resume();
    socket.on("data", (chunk: Buffer) => {
      if (!stream.push(chunk)) socket.pause();
    });
    socket.on("drain", () => stream.resume());
    socket.on("error", () => socket.destroy());
    socket.on("close", () => {
      this.clients.delete(socket);
      stream.close("client went away");
    });
  }
}

/** Set the umask, returning the old one; undefined where it cannot be set (worker threads). */
function setUmask(mask: number): number | undefined {
  try {
    return process.umask(mask);
  } catch {
    return undefined;
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

function statOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}
