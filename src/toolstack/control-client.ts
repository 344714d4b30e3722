import { createConnection } from "node:net";
import { PvscsiError } from "../xen/errors.js";
import type { ControlResponse } from "./control-protocol.js";

/**
 * Send one request to a running `pvscsi up` and return its result. Errors: no host listening
 * (with the socket path and how to start one), or the host's own error message.
 */
export function controlRequest(
  path: string,
  op: string,
  args: Record<string, unknown> = {},
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let buffered = "";
    socket.setEncoding("utf8");
    socket.once("error", (e: NodeJS.ErrnoException) => {
      const why =
        e.code === "ENOENT" || e.code === "ECONNREFUSED"
          ? "no pvscsi host is running there (start one with 'pvscsi up')"
          : e.message;
      reject(new PvscsiError("ESTATE", `${path}: ${why}`));
    });
    socket.on("data", (chunk: string) => {
      buffered += chunk;
      const nl = buffered.indexOf("\n");
      if (nl < 0) return;
      socket.end();
      let res: ControlResponse;
      try {
        res = JSON.parse(buffered.slice(0, nl)) as ControlResponse;
      } catch {
        reject(new PvscsiError("EPROTO", `${path}: the host sent a malformed response`));
        return;
      }
      if (res.ok) resolve(res.result);
      else reject(new PvscsiError("ESTATE", res.error));
    });
    socket.once("connect", () => socket.write(`${JSON.stringify({ id: 1, op, args })}\n`));
  });
}
