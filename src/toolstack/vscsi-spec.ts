import { type Hctl, parseHctlOrThrow } from "../scsi/hctl.js";
import { MUNGING_POLICIES } from "../scsiback/policy.js";
import { configError } from "../xen/errors.js";

/** The physical side of a `vscsi` entry, as libxlu classifies it. */
export type Pdev =
  | { readonly kind: "devname"; readonly name: string } // /dev/sdb, /dev/st0 ...
  | { readonly kind: "hctl"; readonly hctl: Hctl } // 2:0:1:0
  | { readonly kind: "wwn"; readonly wwn: string; readonly lun: number }; // naa.60014054ac780582:0

/** One `'pdev,vdev[,options]'` entry of a domain's `vscsi` list (or `xl scsi-attach` arguments). */
export interface VscsiSpec {
  readonly pdev: Pdev;
  /** The pdev exactly as given (libxl writes it to `p-devname`). */
  readonly pdevText: string;
  /** For a whole-HBA entry ({@link hba}), 0:0:0:0: each unit keeps its own h:c:t:l. */
  readonly vdev: Hctl;
  /**
   * xm's whole-HBA form, vdev `host`: every unit of the pdev's dom0 host, each at its own
   * h:c:t:l in the guest (vHOST = the host number), with feature-host; units that appear on or
   * leave that host later are hot-plugged (`xl scsi-rescan`).
   */
  readonly hba?: true;
  readonly featureHost: boolean;
  /** The vhost's munging policy (`munging=<name>`), when given; one of {@link MUNGING_POLICIES}. */
  readonly munging?: string;
  /** The backend domain (`backend=<name or domid>`), when not dom0. */
  readonly backend?: string;
}

const U16 = 0xffff;

/**
 * A physical device spec: `/dev/<name>`, `h:c:t:l`, or `naa.<16 hex digits>:<lun>` (the WWN form
 * of Linux scsiback's `p-dev`).
 */
export function parsePdev(text: string, where: string): Pdev {
  const t = text.trim();
  if (t.startsWith("/dev/")) {
    const name = t.slice(5);
    if (!/^[A-Za-z0-9_.\-/]+$/.test(name))
      throw configError(where, `pdev '${t}' is not a device path /dev/<name>`);
    return { kind: "devname", name };
  }
  if (t.toLowerCase().startsWith("naa.")) {
    const m = /^naa\.([0-9a-fA-F]{16}):(\d+)$/.exec(t);
    if (!m) throw configError(where, `pdev '${t}' is not naa.<16 hex digits>:<lun>`);
    const lun = Number(m[2]);
    if (!Number.isSafeInteger(lun)) throw configError(where, `pdev '${t}': LUN out of range`);
    return { kind: "wwn", wwn: m[1]!.toLowerCase(), lun };
  }
  if (/^\d/.test(t)) return { kind: "hctl", hctl: parseHctlOrThrow(t, where, "pdev") };
  throw configError(where, `pdev '${t}' must be /dev/<name>, h:c:t:l or naa.<16 hex digits>:<lun>`);
}

/**
 * Parse `'pdev,vdev[,option...]'` as libxlu's `xlu_vscsi_config_add` does: split at commas, trim
 * each field. libxlu knows one option, `feature-host`; pvscsi adds `backend=<domain>`, the key xl's
 * disk, vif and pci specs use to name a driver domain, since a controller served by a driver
 * domain needs a way to say so, and `munging=<raw|pvops|xenlinux>`, scsiback's munging policy
 * for the vhost (a `key=value` option like `backend=`; like `feature-host` it belongs to the
 * controller, so every entry of one vHOST must agree). The vdev's channel, target and LUN travel in u16 request fields,
 * so they must fit 0..65535.
 */
export function parseVscsiSpec(text: string, where: string): VscsiSpec {
  const fields = text.split(",").map((f) => f.trim());
  if (fields.length < 2 || fields.length > 5 || fields.some((f) => f === "")) {
    throw configError(
      where,
      `vscsi entry '${text}' is not 'pdev,vdev[,feature-host][,backend=<domain>][,munging=<policy>]'`,
    );
  }
  const [pdevText, vdevText, ...options] = fields as [string, string, ...string[]];
  // xm's `'<pdev>, host'`: the whole HBA, passed through (xend set feature-host for it).
  const hba = vdevText === "host";
  let featureHost = hba;
  let backend: string | undefined;
  let munging: string | undefined;
  for (const option of options) {
    const m = /^backend=(.*)$/.exec(option);
    const p = /^munging=(.*)$/.exec(option);
    if (option === "feature-host" && (!featureHost || hba)) featureHost = true;
    else if (m && backend === undefined) {
      if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(m[1]!))
        throw configError(where, `backend '${m[1]}' is not a domain name or id`);
      backend = m[1]!;
    } else if (p && munging === undefined) {
      if (!MUNGING_POLICIES.has(p[1]!))
        throw configError(
          where,
          `munging policy '${p[1]}' is not one of ${[...MUNGING_POLICIES.keys()].join(", ")}`,
        );
      munging = p[1]!;
    } else
      throw configError(
        where,
        `invalid option '${option}', expecting feature-host, backend=<domain> or munging=<policy>`,
      );
  }
  return {
    pdev: parsePdev(pdevText, where),
    pdevText,
    vdev: hba
      ? { host: 0, channel: 0, target: 0, lun: 0 }
      : parseHctlOrThrow(vdevText, where, "vdev", { channel: U16, target: U16, lun: U16 }),
    ...(hba ? { hba: true as const } : {}),
    featureHost,
    ...(backend !== undefined ? { backend } : {}),
    ...(munging !== undefined ? { munging } : {}),
  };
}
