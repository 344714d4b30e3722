import { createConnection } from "node:net";
import { PvscsiError } from "../xen/errors.js";
import type { ControlResponse } from "./control-protocol.js";
import { isTcpTarget, parseLoopbackAddress } from "./migrate-tcp.js";

/**
 * How long a client waits for the host's answer before giving up: long enough for the slowest
 * command a user runs through the host (a `tar` of a large tree, an `iobench` run), short enough
 * that a wedged host is reported. `PVSCSI_TIMEOUT` (seconds) overrides it.
 */
export const DEFAULT_CONTROL_TIMEOUT_MS = 600_000;

/** The request timeout: `PVSCSI_TIMEOUT` seconds when set to a positive number, else the default. */
export function controlTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.PVSCSI_TIMEOUT;
  if (v === undefined || v === "") return DEFAULT_CONTROL_TIMEOUT_MS;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) {
    throw new PvscsiError("EINVALARG", `PVSCSI_TIMEOUT='${v}': expected a positive number of seconds`);
  }
  return Math.round(n * 1000);
}

/**
 * Send one request to a running `pvscsi up` and return its result. It fails loudly, never
 * resolving with nothing: no host listening (with the socket path and how to start one), the
 * host's own error message, the host closing the connection before answering (it stopped or
 * died), or no answer within `timeoutMs`.
 */
export function controlRequest(
  path: string,
  op: string,
  args: Record<string, unknown> = {},
  timeoutMs: number = controlTimeoutMs(),
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    // `tcp://127.0.0.1:<port>`: another host's migration listener (loopback only).
    const tcp = isTcpTarget(path) ? parseLoopbackAddress(path) : null;
    const socket =
      tcp !== null ? createConnection({ host: tcp.host, port: tcp.port }) : createConnection(path);
    let buffered = "";
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      fn();
    };
    const timer = setTimeout(
      () =>
        finish(() =>
          reject(
            new PvscsiError(
              "ESTATE",
              `${path}: the host did not answer '${op}' within ${timeoutMs / 1000} s (set PVSCSI_TIMEOUT to wait longer)`,
            ),
          ),
        ),
      timeoutMs,
    );
    socket.setEncoding("utf8");
    socket.once("error", (e: NodeJS.ErrnoException) => {
      const why =
        e.code === "ENOENT" || e.code === "ECONNREFUSED"
          ? "no pvscsi host is running there (start one with 'pvscsi up')"
          : e.message;
      finish(() => reject(new PvscsiError("ESTATE", `${path}: ${why}`)));
    });
    socket.once("close", () =>
      finish(() =>
        reject(
          new PvscsiError(
            "ESTATE",
            `${path}: the host closed the connection before answering '${op}' (it stopped or died)`,
          ),
        ),
      ),
    );
    socket.on("data", (chunk: string) => {
      buffered += chunk;
      const nl = buffered.indexOf("\n");
      if (nl < 0) return;
      let res: ControlResponse;
      try {
        res = JSON.parse(buffered.slice(0, nl)) as ControlResponse;
      } catch {
        finish(() => reject(new PvscsiError("EPROTO", `${path}: the host sent a malformed response`)));
        return;
      }
      finish(() => {
        if (res.ok) resolve(res.result);
        else reject(new PvscsiError("ESTATE", res.error));
      });
    });
    socket.once("connect", () => socket.write(`${JSON.stringify({ id: 1, op, args })}\n`));
  });
}
