/**
 * Linux xen-blkfront's module parameters as a guest's kernel command line sets them
 * (`xen_blkfront.max_ring_page_order=4 xen_blkfront.feature_persistent=0`), which is how an xl
 * config (`extra = "..."` or `cmdline = "..."`) tunes a guest's blkfront.
 */

/** The blkfront parameters found on a command line; absent ones keep blkfront's defaults. */
export interface BlkfrontParams {
  /** `max_ring_page_order` (Linux default 0: single-page rings). */
  readonly maxRingPageOrder?: number;
  /** `feature_persistent` (Linux default Y). */
  readonly persistent?: boolean;
}

/** The kernel's `strtobool`: y/Y/1/on → true, n/N/0/off → false, else not a boolean. */
function parseBool(v: string): boolean | undefined {
  if (/^(y|Y|1|on)$/.test(v)) return true;
  if (/^(n|N|0|off)$/.test(v)) return false;
  return undefined;
}

/**
 * Read `xen_blkfront.max_ring_page_order` and `xen_blkfront.feature_persistent` from a kernel
 * command line. A value the kernel would not parse is ignored (the parameter keeps its default),
 * as Linux does with an unparsable module parameter; a later setting overrides an earlier one.
 */
export function parseBlkfrontParams(cmdline: string): BlkfrontParams {
  let maxRingPageOrder: number | undefined;
  let persistent: boolean | undefined;
  for (const word of cmdline.split(/\s+/)) {
    const eq = word.indexOf("=");
    if (eq < 0) continue;
    // The kernel treats '-' and '_' in parameter names alike.
    const key = word.slice(0, eq).replace(/-/g, "_");
    const value = word.slice(eq + 1);
    if (key === "xen_blkfront.max_ring_page_order" && /^\d{1,9}$/.test(value))
      maxRingPageOrder = Number(value);
    else if (key === "xen_blkfront.feature_persistent") persistent = parseBool(value) ?? persistent;
  }
  return {
    ...(maxRingPageOrder !== undefined ? { maxRingPageOrder } : {}),
    ...(persistent !== undefined ? { persistent } : {}),
  };
}
