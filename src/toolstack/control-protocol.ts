/**
 * The control protocol between `pvscsi up` (the emulated host) and the `pvscsi xl`, `pvscsi
 * xenstore-ls` and `pvscsi guest` commands in other terminals: newline-delimited JSON over a
 * Unix socket. One request per line, one response per line with the same `id`.
 */

/** Where `pvscsi up` listens unless `--socket` or `PVSCSI_SOCKET` says otherwise. */
export function defaultSocketPath(): string {
  const env = process.env.PVSCSI_SOCKET;
  if (env) return env;
  const dir = process.env.XDG_RUNTIME_DIR ?? "/tmp";
  const uid = typeof process.getuid === "function" ? process.getuid() : 0;
  return `${dir}/pvscsi-${uid}.sock`;
}

/** A request: an operation name and its arguments. */
export interface ControlRequest {
  readonly id: number;
  readonly op: string;
  readonly args: Record<string, unknown>;
}

/** A response: the result, or an error message for the user. */
export type ControlResponse =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly error: string };

/** What serves control requests (the running host). */
export interface ControlHandler {
  handle(op: string, args: Record<string, unknown>): Promise<unknown>;
}

/** Largest request line accepted; a client sending more is disconnected. */
export const MAX_CONTROL_LINE = 1 << 20;

/**
 * Bytes of a file per `guest.put`/`guest.get` request or answer (`pvscsi guest <domain> put|get`):
 * base64 makes 4 characters of 3 bytes, so a chunk's line stays well under
 * {@link MAX_CONTROL_LINE}.
 */
export const GUEST_FILE_CHUNK = 512 * 1024;
