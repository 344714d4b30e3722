import type { GuestScsi, GuestScsiDevice } from "../midlayer.js";
import { bindScsiHost } from "../sg.js";
import { newStState, type StState } from "../st.js";
import { device } from "./_common.js";
import type { GuestCommand } from "./command.js";
import type { runMt } from "./mt.js";
import type { runMtx } from "./mtx.js";
import type { runTar } from "./tar.js";

/** The st driver's per-device state (block size, file and block numbers), kept between commands as the kernel keeps it. */
const stStates = new WeakMap<GuestScsiDevice, StState>();

function stState(dev: GuestScsiDevice): StState {
  let s = stStates.get(dev);
  if (!s) {
    s = newStState();
    stStates.set(dev, s);
  }
  return s;
}

/**
 * The device a tool's argv names with `-f` (or mt's `-t`), also inside grouped flags as tar
 * takes them (`-cvf /dev/nst0`, `-xf/dev/nst0`); else `fallback`.
 */
function deviceArg(
  argv: readonly string[],
  letters: string,
  fallback: string | undefined,
): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith("-") || a.startsWith("--") || a.length < 2) continue;
    for (let k = 1; k < a.length; k++) {
      if (!letters.includes(a[k]!)) continue;
      return k + 1 < a.length ? a.slice(k + 1) : argv[i + 1];
    }
  }
  return fallback;
}

/** Tape tools: bind the tool to the device it names, over this guest's scsifront. */
export function tapeTool(
  tool: string,
  letters: string,
  defaultDevice: (scsi: GuestScsi) => string | undefined,
  run: typeof runMt | typeof runMtx | typeof runTar,
): GuestCommand {
  return async (argv, scsi, fs) => {
    const name = deviceArg(argv, letters, defaultDevice(scsi));
    const dev = device(scsi, name, tool);
    if ("exitCode" in dev) return dev;
    const r = await run(argv, bindScsiHost(dev.host, dev), { device: name!, state: stState(dev), fs });
    return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
  };
}

/** The first tape drive's non-rewinding node (mt's and tar's default device). */
export const firstTape = (scsi: GuestScsi) =>
  scsi.list().find((d) => d.type === 1)?.nonRewindNode ?? "/dev/nst0";
/** The first changer's node (mtx's default device). */
export const firstChanger = (scsi: GuestScsi) =>
  scsi.list().find((d) => d.type === 8)?.devNode ?? "/dev/sch0";
