import { randomBytes, timingSafeEqual } from "node:crypto";
import { PvscsiError } from "../xen/errors.js";
import type { ControlHandler } from "./control-protocol.js";

/**
 * `xl migrate` to a TCP address on loopback (issue 15 allows "a TCP address on loopback"), as
 * xl's own migration stream goes over a connection to the other host. The target's `pvscsi up
 * --migrate-listen 127.0.0.1:<port>` serves the receiving side of a migration — and nothing
 * else — there, to clients that present its token: a random secret it writes to a file only its
 * user can read. Anyone else on the machine can connect to a loopback port, so without the token
 * nothing is done; the token is compared in constant time.
 */

/** Bytes of a migration token (hex-encoded: 64 characters). */
export const MIGRATION_TOKEN_BYTES = 32;

/** A fresh random migration token. */
export function newMigrationToken(): string {
  return randomBytes(MIGRATION_TOKEN_BYTES).toString("hex");
}

/** A loopback TCP address, `tcp://127.0.0.1:7000` or `tcp://[::1]:7000`. */
export interface LoopbackAddress {
  readonly host: string;
  readonly port: number;
}

/** Whether `host` is a loopback address (127.0.0.0/8 or ::1). */
export function isLoopback(host: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === "::1";
}

/**
 * Parse `tcp://<host>:<port>` (or `<host>:<port>` with `bare`), refusing anything but loopback:
 * a migration stream carries a guest's memory and is not encrypted.
 */
export function parseLoopbackAddress(text: string, bare = false): LoopbackAddress {
  const m = (
    bare ? /^(?:tcp:\/\/)?(\[::1\]|[\d.]+):(\d{1,5})$/ : /^tcp:\/\/(\[::1\]|[\d.]+):(\d{1,5})$/
  ).exec(text);
  const port = m ? Number(m[2]) : -1;
  if (!m || port > 65535)
    throw new PvscsiError(
      "EINVALARG",
      `'${text}': expected tcp://127.0.0.1:<port> (a loopback address and port)`,
    );
  const host = m[1] === "[::1]" ? "::1" : m[1]!;
  if (!isLoopback(host))
    throw new PvscsiError(
      "EINVALARG",
      `'${text}': only loopback addresses (127.0.0.0/8, [::1]) are served: a migration stream is not encrypted`,
    );
  return { host, port };
}

/** Whether a migration target names a TCP address rather than a control socket path. */
export function isTcpTarget(target: string): boolean {
  return target.startsWith("tcp://");
}

/**
 * The handler a migration listener serves: only the receiving side of a migration (`migrate.*`),
 * and only for a request carrying `token` (removed before `inner` sees the request). A wrong or
 * missing token is refused before anything is done.
 */
export function migrationOnlyHandler(inner: ControlHandler, token: string): ControlHandler {
  const want = Buffer.from(token, "utf8");
  return {
    handle: async (op, args) => {
      const given = typeof args.token === "string" ? Buffer.from(args.token, "utf8") : Buffer.alloc(0);
      if (given.length !== want.length || !timingSafeEqual(given, want))
        throw new PvscsiError("ESTATE", "migration refused: authentication failed (wrong or missing token)");
      if (!op.startsWith("migrate.") || op === "migrate.")
        throw new PvscsiError("ESTATE", `'${op}' is not served on a migration listener`);
      const { token: _t, ...rest } = args;
      return inner.handle(op, rest);
    },
  };
}
