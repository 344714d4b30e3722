import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import * as blkif from "../../src/blkif/constants.js";
import { BlkifRequest, blkifEntrySize } from "../../src/blkif/request.js";
import {
  BLKIF_ENTRY_SIZE_X86_32,
  BLKIF_ENTRY_SIZE_X86_64,
  blkifRequestDiscardLayout,
  blkifRequestIndirectLayout,
  blkifRequestLayout,
  blkifResponseLayout,
  blkifX86_32Layouts,
} from "../../src/xen/blkif-layout.js";
import type { StructLayout } from "../../src/xen/struct-layout.js";
import { compileC, GCC, XEN_HEADERS } from "../_support/cc.js";
import { requireSystem } from "../_support/system.js";

/** gcc -m32 needs the i386 libc headers (Debian's gcc-multilib). */
const MULTILIB = { pkg: "gcc-multilib", file: "/usr/include/x86_64-linux-gnu/gnu/stubs-32.h" } as const;

function layoutProbe(structs: readonly StructLayout[]): string {
  const body: string[] = [];
  for (const s of structs) {
    body.push(`  printf("S %s %zu\\n", "${s.name}", sizeof(${s.cType}));`);
    for (const f of Object.keys(s.fields))
      body.push(
        `  printf("F %s %s %zu %zu\\n", "${s.name}", "${f}", offsetof(${s.cType}, ${f}), sizeof(((${s.cType} *)0)->${f}));`,
      );
  }
  body.push(`  printf("E %zu\\n", sizeof(union blkif_sring_entry));`);
  body.push(`  printf("R %u\\n", (unsigned)__CONST_RING_SIZE(blkif, 4096));`);
  return `#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <xen/io/blkif.h>
int main(void)
{
${body.join("\n")}
  return 0;
}
`;
}

function ours(structs: readonly StructLayout[], entry: number, ring: number): string {
  const out: string[] = [];
  for (const s of structs) {
    out.push(`S ${s.name} ${s.size}`);
    for (const [f, l] of Object.entries(s.fields)) out.push(`F ${s.name} ${f} ${l.offset} ${l.size}`);
  }
  out.push(`E ${entry}`, `R ${ring}`);
  return `${out.join("\n")}\n`;
}

const haveGcc = requireSystem(XEN_HEADERS, GCC);

describe.runIf(haveGcc)("blkif layouts against io/blkif.h compiled by gcc", () => {
  it("x86_64: request 112 (id at 8), discard, indirect 64, response 16; 32 entries per page", () => {
    const structs = [
      blkifRequestLayout,
      blkifRequestDiscardLayout,
      blkifRequestIndirectLayout,
      blkifResponseLayout,
    ];
    const exe = compileC("blkif64-probe", layoutProbe(structs));
    expect(execFileSync(exe, { encoding: "utf8" })).toBe(ours(structs, BLKIF_ENTRY_SIZE_X86_64, 32));
    expect(blkifRequestLayout.fields.id.offset).toBe(8);
    expect(blkifEntrySize("x86_64")).toBe(112);
  });

  it("every exported BLKIF_/VDISK_/XEN_IO_PROTO constant has the header's value", () => {
    const hdr = ["xen/io/blkif.h", "xen/io/protocols.h"]
      .map((h) => readFileSync(`/usr/include/${h}`, "utf8"))
      .join("\n");
    const numeric = Object.entries(blkif).filter(([k, v]) => typeof v === "number" && /^[A-Z]/.test(k));
    // Named by pvscsi, not by the header (each derived from it in constants.ts).
    const own = new Set(["BLKIF_SECTOR_SIZE", "BLKIF_SECTORS_PER_PAGE", "BLKIF_SEGS_PER_INDIRECT_FRAME"]);
    const probed = numeric.filter(([k]) => !own.has(k));
    for (const [k] of probed) expect(new RegExp(`#define\\s+${k}\\b`).test(hdr), k).toBe(true);
    const strings = ["XEN_IO_PROTO_ABI_X86_64", "XEN_IO_PROTO_ABI_X86_32"] as const;
    const exe = compileC(
      "blkif-constants",
      `#include <stdint.h>
#include <stdio.h>
#include <xen/io/blkif.h>
#include <xen/io/protocols.h>
int main(void)
{
${probed.map(([k]) => `  printf("%s %lld\\n", "${k}", (long long)(${k}));`).join("\n")}
${strings.map((k) => `  printf("%s %s\\n", "${k}", ${k});`).join("\n")}
  printf("SEGS_PER_FRAME %zu\\n", 4096 / sizeof(struct blkif_request_segment));
  return 0;
}
`,
    );
    const got = execFileSync(exe, { encoding: "utf8" });
    const want = [
      ...probed.map(([k, v]) => `${k} ${v}`),
      `XEN_IO_PROTO_ABI_X86_64 ${blkif.XEN_IO_PROTO_ABI_X86_64}`,
      `XEN_IO_PROTO_ABI_X86_32 ${blkif.XEN_IO_PROTO_ABI_X86_32}`,
      `SEGS_PER_FRAME ${blkif.BLKIF_SEGS_PER_INDIRECT_FRAME}`,
    ];
    expect(got).toBe(`${want.join("\n")}\n`);
  });
});

describe.runIf(haveGcc && requireSystem(MULTILIB))("blkif's x86_32 ABI against gcc -m32", () => {
  it("request 108 (id at 4), discard 28, indirect 64 with pad, response 12; entry 108; 32 per page", () => {
    const L = blkifX86_32Layouts;
    const structs = [L.request, L.discard, L.indirect, L.response, L.segment];
    const exe = compileC("blkif32-probe", layoutProbe(structs), ["-m32"]);
    expect(execFileSync(exe, { encoding: "utf8" })).toBe(ours(structs, BLKIF_ENTRY_SIZE_X86_32, 32));
    expect(L.request.fields.id.offset).toBe(4);
  });

  it("a request encoded for x86_32 has the bytes an i386 guest's gcc writes", () => {
    const exe = compileC(
      "blkif32-bytes",
      `#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <xen/io/blkif.h>
int main(void)
{
  struct blkif_request r;
  memset(&r, 0, sizeof(r));
  r.operation = 1; r.nr_segments = 2; r.handle = 51712; r.id = 0x0102030405060708ULL;
  r.sector_number = 0x1122334455ULL;
  r.seg[0].gref = 77; r.seg[0].first_sect = 1; r.seg[0].last_sect = 7;
  r.seg[10].gref = 0xfffffff0u; r.seg[10].last_sect = 3;
  const unsigned char *b = (const unsigned char *)&r;
  for (size_t i = 0; i < sizeof(r); i++) printf("%02x", b[i]);
  printf("\\n");
  return 0;
}
`,
      ["-m32"],
    );
    const req = new BlkifRequest("x86_32").clear();
    req.operation = 1;
    req.nrSegments = 2;
    req.handle = 51712;
    req.setId64(0x01020304, 0x05060708);
    req.setSectorNumber64(0x11, 0x22334455);
    req.setSegment(0, 77, 1, 7);
    req.setSegment(10, 0xfffffff0, 0, 3);
    const hex = Buffer.from(req.entry.bytes).toString("hex");
    expect(hex).toBe(execFileSync(exe, { encoding: "utf8" }).trim());
  });
});
