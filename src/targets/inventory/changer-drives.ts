import { formatHctl } from "../../scsi/hctl.js";
import { configError } from "../../xen/errors.js";
import type { DeviceConfig } from "./host-config-types.js";

/**
 * Resolve each changer's `drives` to `[tape]` units of the same host (a tape serves one changer
 * and then takes no `load`), and check that a barcode names one cartridge per directory.
 */
export function bindDrives(
  devices: DeviceConfig[],
  changerLines: Map<string, { drives: string; barcodes: string }>,
  tapeLoadLines: Map<string, string>,
): void {
  const byAddr = new Map<string, number>();
  for (const [i, d] of devices.entries()) byAddr.set(formatHctl(d.hctl), i);
  const owner = new Map<string, string>();
  const cartridgeOwners = new Map<string, string>();
  const claimCartridge = (dir: string, barcode: string, who: string, where: string) => {
    const key = `${dir}\0${barcode}`;
    const prev = cartridgeOwners.get(key);
    if (prev && prev !== who)
      throw configError(where, `cartridge ${barcode} in ${dir} already belongs to ${prev}`);
    cartridgeOwners.set(key, who);
  };
  for (const d of devices) {
    if (d.kind !== "changer") continue;
    const addr = formatHctl(d.hctl);
    const lines = changerLines.get(addr)!;
    for (const h of d.drives) {
      const a = formatHctl(h);
      const i = byAddr.get(a);
      const t = i === undefined ? undefined : devices[i];
      if (t?.kind !== "tape")
        throw configError(lines.drives, `drive ${a} of changer ${addr} is not a [tape] unit of this config`);
      if (h.host !== d.hctl.host)
        throw configError(
          lines.drives,
          `drive ${a} is on host ${h.host}, changer ${addr} on host ${d.hctl.host}: a changer's drives are on its host`,
        );
      const prev = owner.get(a);
      if (prev) throw configError(lines.drives, `drive ${a} already belongs to changer ${prev}`);
      owner.set(a, addr);
      if (t.load !== null)
        throw configError(
          tapeLoadLines.get(a)!,
          `tape ${a} is a drive of changer ${addr}, which loads it: remove load`,
        );
      devices[i!] = { ...t, changer: addr };
    }
    for (const b of d.barcodes) claimCartridge(d.cartridges, b, `changer ${addr}`, lines.barcodes);
  }
  for (const d of devices) {
    if (d.kind === "tape" && d.load !== null && d.cartridges !== null)
      claimCartridge(
        d.cartridges,
        d.load,
        `tape ${formatHctl(d.hctl)}`,
        tapeLoadLines.get(formatHctl(d.hctl))!,
      );
  }
}
