import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";

/**
 * Where pvscsi keeps state that outlives a run (the built-in inventory's cartridges and changer
 * state): `$PVSCSI_STATE_DIR`, else `$XDG_STATE_HOME/pvscsi` (XDG Base Directory
 * Specification: "state data that should persist between restarts"), else
 * `~/.local/state/pvscsi`. Relative values are ignored, as the XDG specification asks.
 */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env, home = homedir()): string {
  const own = env.PVSCSI_STATE_DIR;
  if (own && isAbsolute(own)) return own;
  const xdg = env.XDG_STATE_HOME;
  if (xdg && isAbsolute(xdg)) return join(xdg, "pvscsi");
  return join(home, ".local", "state", "pvscsi");
}
