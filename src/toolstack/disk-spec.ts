import { parseVdev, type Vdev } from "../blkif/vdev.js";
import { configError } from "../xen/errors.js";

/** One disk of a domain config or `xl block-attach`, as xl's disk syntax gives it. */
export interface DiskSpec {
  /** What the backend opens: here a unit of the backend's SCSI inventory (`/dev/sda`, h:c:t:l, naa.…). */
  readonly target: string;
  readonly format: "raw";
  readonly vdev: Vdev;
  /** The vdev as written (`xvda`). */
  readonly vdevText: string;
  readonly readonly: boolean;
  readonly cdrom: boolean;
  /** `backend=<domain>`: the driver domain serving it (default dom0). */
  readonly backend?: string;
}

const POSITIONAL = ["target", "format", "vdev", "access"] as const;
const KEYS = new Set(["target", "format", "vdev", "access", "devtype", "backend", "backendtype", "script"]);

/**
 * Parse one DISKSPEC of Xen's `docs/misc/xl-disk-configuration.txt`: comma-separated `key=value`
 * pairs, flags (`cdrom`) and positional parameters (`target, format, vdev, access`, each at most
 * once); `target=` takes the rest of the string, commas included; the deprecated forms
 * `phy:/dev/x` / `raw:/path` (a prefix on the target), `w`/`r` access and `hdc:cdrom` are
 * accepted. Only `format=raw` is supported (it is what the emulated devices are).
 */
export function parseDiskSpec(text: string, where: string): DiskSpec {
  const params = new Map<string, string>();
  const set = (k: string, v: string) => {
    if (params.has(k)) throw configError(where, `disk spec '${text}': '${k}' given twice`);
    params.set(k, v);
  };
  let rest = text;
  let positional = 0;
  while (rest.length > 0) {
    const t = /^\s*target\s*=/.exec(rest);
    if (t) {
      set("target", rest.slice(t[0].length).trim());
      break;
    }
    const comma = rest.indexOf(",");
    const item = (comma < 0 ? rest : rest.slice(0, comma)).trim();
    rest = comma < 0 ? "" : rest.slice(comma + 1);
    const eq = item.indexOf("=");
    if (eq > 0) {
      const k = item.slice(0, eq).trim();
      if (!KEYS.has(k)) throw configError(where, `disk spec '${text}': unknown parameter '${k}'`);
      set(k, item.slice(eq + 1).trim());
      continue;
    }
    if (item === "cdrom") {
      set("devtype", "cdrom");
      continue;
    }
    // Positional: an empty one takes its default but still uses its place.
    while (positional < POSITIONAL.length && params.has(POSITIONAL[positional]!)) positional++;
    if (positional >= POSITIONAL.length)
      throw configError(where, `disk spec '${text}': too many positional parameters at '${item}'`);
    const name = POSITIONAL[positional++]!;
    if (item !== "") set(name, item);
    // The deprecated `raw:/path` / `phy:/dev/x` forms carry the format, so the next positional is the vdev.
    if (name === "target" && /^(phy|file|raw|aio|tap:aio):/.test(item) && !params.has("format"))
      params.set("format", "raw");
  }
  let target = params.get("target") ?? "";
  const pre = /^(phy|file|raw|aio|tap:aio|tap2?:[a-z]+):(.*)$/.exec(target);
  if (pre) target = pre[2]!;
  if (target === "") throw configError(where, `disk spec '${text}': no target`);
  const format = params.get("format") ?? "raw";
  if (format !== "raw")
    throw configError(
      where,
      `disk spec '${text}': format '${format}' is not supported (pvscsi's devices are raw)`,
    );
  let vdevText = params.get("vdev");
  let cdrom = params.get("devtype") === "cdrom";
  if (vdevText?.endsWith(":cdrom")) {
    vdevText = vdevText.slice(0, -6);
    cdrom = true;
  }
  if (vdevText === undefined) throw configError(where, `disk spec '${text}': no vdev (e.g. vdev=xvda)`);
  const vdev = parseVdev(vdevText);
  if (vdev === null || vdev.partition !== 0)
    throw configError(
      where,
      `disk spec '${text}': invalid vdev '${vdevText}' (xvdX, hdX, sdX or dN, whole disks)`,
    );
  const devtype = params.get("devtype");
  if (devtype !== undefined && devtype !== "cdrom" && devtype !== "disk")
    throw configError(where, `disk spec '${text}': devtype '${devtype}' (cdrom or disk)`);
  const access = params.get("access") ?? (cdrom ? "ro" : "rw");
  if (!["r", "ro", "w", "rw"].includes(access))
    throw configError(where, `disk spec '${text}': access '${access}' (ro, r, rw or w)`);
  const bt = params.get("backendtype");
  if (bt !== undefined && bt !== "phy")
    throw configError(where, `disk spec '${text}': backendtype '${bt}' is not emulated (only phy: blkback)`);
  const backend = params.get("backend");
  return {
    target,
    format: "raw",
    vdev,
    vdevText,
    readonly: access === "r" || access === "ro",
    cdrom,
    ...(backend !== undefined ? { backend } : {}),
  };
}
