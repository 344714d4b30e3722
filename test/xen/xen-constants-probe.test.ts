import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import * as vscsiif from "../../src/vscsiif/constants.js";
import * as evtchn from "../../src/xen/evtchn-constants.js";
import * as grant from "../../src/xen/grant-constants.js";
import { compileC, GCC, XEN_HEADERS } from "../_support/cc.js";
import { requireSystem } from "../_support/system.js";

/**
 * Every numeric constant pvscsi exports from its vscsiif, grant and event-channel modules under
 * a Xen name is compared with what gcc evaluates that name to in Xen's public headers; so are
 * grant_table.h's `GNTTABOP_error_msgs` strings and vscsiif.h's `rslt` accessor macros. A
 * constant that no header defines must be listed here as pvscsi's own, so a misspelt Xen name
 * cannot slip through as "ours".
 */
const HEADERS = [
  "xen/io/vscsiif.h",
  "xen/grant_table.h",
  "xen/event_channel.h",
  "xen/errno.h",
  "xen/xen.h",
] as const;

/** Exported constants that are pvscsi's, not a header's (with why). */
const OURS = new Set<string>([
  // vscsiif.h names the DMA directions only in a comment; the values are Linux's dma_data_direction.
  "DMA_BIDIRECTIONAL",
  "DMA_TO_DEVICE",
  "DMA_FROM_DEVICE",
  "DMA_NONE",
]);

function numericExports(...mods: Array<Record<string, unknown>>): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  for (const m of mods)
    for (const [k, v] of Object.entries(m)) if (typeof v === "number" && /^[A-Z_]/.test(k)) out.push([k, v]);
  return out.sort((a, b) => a[0].localeCompare(b[0]));
}

const available = requireSystem(XEN_HEADERS, GCC);

describe.runIf(available)("constants against Xen's public headers compiled by gcc", () => {
  const constants = numericExports(vscsiif, grant, evtchn);
  // Read when a test runs: a skipped describe still runs its body to collect the tests.
  let text: string | undefined;
  const headerText = () => {
    text ??= HEADERS.map((h) => readFileSync(`/usr/include/${h}`, "utf8")).join("\n");
    return text;
  };
  // A #define, or one of errno.h's `XEN_ERRNO(EPERM, 1)` enum members (XEN_EPERM).
  const defined = (name: string) =>
    new RegExp(`#define\\s+${name}\\b`).test(headerText()) ||
    (name.startsWith("XEN_E") && new RegExp(`XEN_ERRNO\\(${name.slice(4)},`).test(headerText()));

  it("every exported Xen-named constant is a header's, and the others are listed as pvscsi's", () => {
    const undefinedNames = constants.map(([k]) => k).filter((k) => !defined(k) && !OURS.has(k));
    expect(undefinedNames).toEqual([]);
    expect(constants.filter(([k]) => defined(k)).length).toBeGreaterThan(70);
  });

  it("each has the value gcc gives it", () => {
    const probed = constants.filter(([k]) => defined(k));
    const lines = probed.map(([k]) => `  printf("%s %lld\\n", "${k}", (long long)(${k}));`);
    const exe = compileC(
      "constants-probe",
      `#include <stdint.h>
#include <stdio.h>
${HEADERS.map((h) => `#include <${h}>`).join("\n")}

int main(void)
{
${lines.join("\n")}
  return 0;
}
`,
    );
    const fromC = Object.fromEntries(
      execFileSync(exe, { encoding: "utf8" })
        .trim()
        .split("\n")
        .map((l) => {
          const [k, v] = l.split(" ");
          return [k!, Number(v)];
        }),
    );
    expect(Object.fromEntries(probed)).toEqual(fromC);
  });

  it("GNTTABOP_error_msgs and the rslt accessors match grant_table.h and vscsiif.h", () => {
    const samples = [0, 0x2, 0x00010000, 0x00070002, 0x00ff00ff, 0x2002, 0x2003, 0xffffffff, 0x12345678];
    const exe = compileC(
      "msgs-probe",
      `#include <stdint.h>
#include <stdio.h>
#include <xen/grant_table.h>
#include <xen/io/vscsiif.h>

static const char *msgs[] = GNTTABOP_error_msgs;
static const uint32_t samples[] = { ${samples.map((n) => `0x${n.toString(16)}u`).join(", ")} };

int main(void)
{
  for (unsigned i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++)
    printf("M %s\\n", msgs[i]);
  for (unsigned i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
    printf("R %u %u\\n", (unsigned)XEN_VSCSIIF_RSLT_STATUS(samples[i]), (unsigned)XEN_VSCSIIF_RSLT_HOST(samples[i]));
  return 0;
}
`,
    );
    const out = execFileSync(exe, { encoding: "utf8" }).trim().split("\n");
    expect(out.filter((l) => l.startsWith("M ")).map((l) => l.slice(2))).toEqual([
      ...grant.GNTTABOP_error_msgs,
    ]);
    expect(out.filter((l) => l.startsWith("R ")).map((l) => l.slice(2))).toEqual(
      samples.map((n) => `${vscsiif.rsltStatus(n)} ${vscsiif.rsltHost(n)}`),
    );
  });
});
