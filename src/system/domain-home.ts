import type { XsOps } from "../xenstore/client.js";

/**
 * `/local/domain/<id>` as libxl's `libxl__domain_make` lays it out, inside the caller's
 * transaction: owned by dom0 and readable by the domain, with its `name` and `domid`; `device`
 * (its frontends), `error` (where its drivers' `xenbus_dev_error` writes) and `data` (libxl makes
 * it writable by the domain too; a driver domain's kernel reports LUN changes there) are the
 * domain's own.
 */
export async function writeDomainHome(tx: XsOps, domid: number, name: string): Promise<string> {
  const home = `/local/domain/${domid}`;
  await tx.mkdir(home);
  await tx.setPerms(home, ["n0", `r${domid}`]);
  await tx.write(`${home}/name`, name);
  await tx.write(`${home}/domid`, String(domid));
  for (const own of ["device", "error", "data"]) {
    await tx.mkdir(`${home}/${own}`);
    await tx.setPerms(`${home}/${own}`, [`n${domid}`]);
  }
  return home;
}
