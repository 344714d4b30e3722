import type { LsscsiRow } from "../targets/inventory/inventory.js";
import { configError } from "../xen/errors.js";
import type { Pdev } from "./vscsi-spec.js";

/** A pdev the toolstack resolved against its backend domain's SCSI inventory. */
export interface ResolvedDevice {
  /** The backend domain's row for the device (its h:c:t:l, names, WWN). */
  readonly row: LsscsiRow;
  /**
   * What goes into `p-dev`: the `naa.<target port WWN>:<lun>` form Linux's pvops scsiback
   * understands when the user named a device (`/dev/...`) or a WWN, as libxl writes it; `h:c:t:l`
   * when the user gave one (the classic backend's form; pvscsi's backend takes both).
   */
  readonly pdev: string;
}

/**
 * Resolve a pdev spec against the backend's inventory (what libxl does through sysfs and
 * configfs): `/dev/sdX`, `/dev/stN`, `/dev/nstN`, `/dev/srN`, `/dev/schN`, `/dev/sgN`,
 * `h:c:t:l`, or `naa.<wwn>:<lun>`. An error names the argument and lists what exists.
 */
export function resolvePdev(
  rows: readonly LsscsiRow[],
  pdev: Pdev,
  text: string,
  where: string,
  backendName = "dom0",
): ResolvedDevice {
  let row: LsscsiRow | undefined;
  let written: string;
  switch (pdev.kind) {
    case "devname": {
      const name = pdev.name.startsWith("nst") ? `st${pdev.name.slice(3)}` : pdev.name;
      row = rows.find((r) => r.dev === `/dev/${name}` || r.sg === `/dev/${name}`);
      written = row?.pdev ?? "";
      if (!row && /^sd[a-z]+\d+$/.test(pdev.name)) {
        throw configError(where, `pdev '${text}' is a partition; PVSCSI passes whole SCSI devices`);
      }
      break;
    }
    case "hctl": {
      const h = pdev.hctl;
      const key = `${h.host}:${h.channel}:${h.target}:${h.lun}`;
      row = rows.find((r) => r.hctl === key);
      written = key;
      break;
    }
    case "wwn":
      written = `naa.${pdev.wwn}:${pdev.lun}`;
      row = rows.find((r) => r.pdev.toLowerCase() === written);
      break;
  }
  if (!row) {
    const known = rows.map((r) => `${r.dev !== "-" ? r.dev : r.sg} (${r.hctl})`).join(", ");
    throw configError(where, `pdev '${text}' does not exist in ${backendName} (devices: ${known || "none"})`);
  }
  return { row, pdev: written };
}
