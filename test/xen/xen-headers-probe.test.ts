import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { type AbiDocument, abiDocument, ringEntries, sharedStructs } from "../../src/xen/abi-registry.js";
import { compileC, GCC, XEN_HEADERS } from "../_support/cc.js";
import { requireSystem } from "../_support/system.js";

/**
 * Build a C probe from pvscsi's own structure registry: for every structure and field it prints
 * what gcc says `sizeof`/`offsetof` are in Xen's headers, plus `__CONST_RING_SIZE` for 1-8 pages.
 * The registry is what the codecs and `pvscsi abi` are built from, so a mismatch anywhere shows.
 */
function probeSource(): string {
  const headers = [...new Set(sharedStructs.map((s) => s.header))];
  const body: string[] = [];
  for (const s of sharedStructs) {
    const size = s.cSize ?? `sizeof(${s.cType})`;
    body.push(`  printf("S %s %zu\\n", "${s.name}", (size_t)(${size}));`);
    for (const field of Object.keys(s.fields)) {
      body.push(
        `  printf("F %s %s %zu %zu\\n", "${s.name}", "${field}", offsetof(${s.cType}, ${field}), sizeof(((${s.cType} *)0)->${field}));`,
      );
    }
  }
  for (const [tag, counts] of Object.entries(ringEntries)) {
    for (const pages of Object.keys(counts)) {
      body.push(
        `  printf("R %s %s %u\\n", "${tag}", "${pages}", (unsigned)__CONST_RING_SIZE(${tag}, ${pages} * 4096));`,
      );
    }
  }
  return `#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <errno.h>
${headers.map((h) => `#include <${h}>`).join("\n")}

int main(void)
{
${body.join("\n")}
  return 0;
}
`;
}

function parseProbe(text: string): AbiDocument {
  const doc: AbiDocument = { structs: {}, ringEntries: {} };
  for (const line of text.trim().split("\n")) {
    const [kind, a, b, c, d] = line.split(" ");
    if (kind === "S") doc.structs[a!] = { size: Number(b), fields: {} };
    else if (kind === "F") doc.structs[a!]!.fields[b!] = { offset: Number(c), size: Number(d) };
    else if (kind === "R") {
      doc.ringEntries[a!] ??= {};
      doc.ringEntries[a!]![b!] = Number(c);
    }
  }
  return doc;
}

describe.runIf(requireSystem(XEN_HEADERS, GCC))("ABI against Xen's public headers compiled by gcc", () => {
  it("every shared structure, field offset and size, and the ring sizes, match", () => {
    const exe = compileC("abi-probe", probeSource());
    const fromC = parseProbe(execFileSync(exe, { encoding: "utf8" }));
    const ours = abiDocument();
    // Same key order is not required; same contents are.
    expect(fromC).toEqual(ours);
    expect(Object.keys(fromC.structs).length).toBe(sharedStructs.length);
  });
});
