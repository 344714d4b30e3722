import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { XENSTORE_RING_SIZE } from "../../src/xen/xenstore-layout.js";
import * as wire from "../../src/xenstore/wire.js";
import { compileC, GCC, XEN_HEADERS } from "../_support/cc.js";
import { requireSystem } from "../_support/system.js";

const TYPES = Object.entries(wire.XS_TYPE_NAMES).map(([v, n]) => [`XS_${n}`, Number(v)] as const);
const CONSTANTS = [
  "XS_TYPE_COUNT",
  "XS_INVALID",
  "XENSTORE_PAYLOAD_MAX",
  "XENSTORE_ABS_PATH_MAX",
  "XENSTORE_REL_PATH_MAX",
  "XENSTORE_RING_SIZE",
  "XENSTORE_SERVER_FEATURE_RECONNECTION",
  "XENSTORE_SERVER_FEATURE_ERROR",
  "XENSTORE_CONNECTED",
  "XENSTORE_RECONNECT",
  "XENSTORE_ERROR_NONE",
  "XENSTORE_ERROR_COMM",
  "XENSTORE_ERROR_RINGIDX",
  "XENSTORE_ERROR_PROTO",
  "XS_WATCH_PATH",
  "XS_WATCH_TOKEN",
] as const;

/** Every constant of `xs_wire.h` pvscsi uses, and the `xsd_errors[]` table, as gcc sees them. */
describe.runIf(requireSystem(XEN_HEADERS, GCC))("xs_wire.h constants", () => {
  it("message types, limits, ring values and the error table match the header", () => {
    const lines = [
      ...TYPES.map(([n]) => `  printf("%s %ld\\n", "${n}", (long)${n});`),
      ...CONSTANTS.map((n) => `  printf("%s %ld\\n", "${n}", (long)${n});`),
      `  for (size_t i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++) printf("ERR %s\\n", xsd_errors[i].errstring);`,
    ];
    const exe = compileC(
      "xs-wire-probe",
      `#include <stddef.h>\n#include <stdint.h>\n#include <stdio.h>\n#include <errno.h>\n#include <xen/io/xs_wire.h>\nint main(void)\n{\n${lines.join("\n")}\n  return 0;\n}\n`,
    );
    const out = execFileSync(exe, { encoding: "utf8" }).trim().split("\n");
    const values = new Map(
      out.filter((l) => !l.startsWith("ERR ")).map((l) => l.split(" ") as [string, string]),
    );
    for (const [n, v] of TYPES) expect(Number(values.get(n)), n).toBe(v);
    const ours = wire as unknown as Record<string, number>;
    for (const n of CONSTANTS) {
      expect(Number(values.get(n)), n).toBe(n === "XENSTORE_RING_SIZE" ? XENSTORE_RING_SIZE : ours[n]);
    }
    expect(out.filter((l) => l.startsWith("ERR ")).map((l) => l.slice(4))).toEqual([...wire.XSD_ERRORS]);
  });
});
