import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { abiDocument, ringEntries, sharedStructs } from "../../src/xen/abi-registry.js";
import { compileC, GCC, XEN_HEADERS } from "../_support/cc.js";
import { requireSystem } from "../_support/system.js";
import { CLANG19, LLD19 } from "../_support/wasm.js";

/**
 * The ABI probe a second time, for wasm32 through the SDK's arch shim (sdk/include/pvwasm/
 * xen-wasm.h): every size and offset of every structure pvscsi shares with Xen, the ring sizes,
 * and the structures the SDK's hypercalls and a blkif driver read, must be what gcc gives on
 * x86_64. wasm32 has no printf here, so the probe is a table of numbers the test reads from
 * the module's memory.
 */
const SDK_INCLUDE = fileURLToPath(new URL("../../sdk/include", import.meta.url));

/** Extra structures a wasm driver shares: the hypercall arguments, and blkif (x86_64 vs i386 differ). */
const EXTRA: ReadonlyArray<readonly [string, string, readonly string[]]> = [
  ["evtchn_alloc_unbound_t", "xen/event_channel.h", ["dom", "remote_dom", "port"]],
  ["evtchn_bind_interdomain_t", "xen/event_channel.h", ["remote_dom", "remote_port", "local_port"]],
  ["evtchn_send_t", "xen/event_channel.h", ["port"]],
  [
    "struct blkif_request",
    "xen/io/blkif.h",
    ["operation", "nr_segments", "handle", "id", "sector_number", "seg"],
  ],
  [
    "struct blkif_request_indirect",
    "xen/io/blkif.h",
    ["operation", "indirect_op", "nr_segments", "id", "sector_number", "handle", "indirect_grefs"],
  ],
  ["struct blkif_response", "xen/io/blkif.h", ["id", "operation", "status"]],
];

/** [label, C expression] of every number to compare. */
function probes(): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const add = (cType: string, name: string, fields: readonly string[], size?: string) => {
    out.push([`S ${name}`, size ?? `sizeof(${cType})`]);
    for (const f of fields) {
      out.push([`F ${name}.${f} offset`, `offsetof(${cType}, ${f})`]);
      out.push([`F ${name}.${f} size`, `sizeof(((${cType} *)0)->${f})`]);
    }
  };
  for (const s of sharedStructs) add(s.cType, s.name, Object.keys(s.fields), s.cSize);
  for (const [cType, , fields] of EXTRA) add(cType, cType, fields);
  for (const [tag, counts] of Object.entries(ringEntries))
    for (const pages of Object.keys(counts))
      out.push([`R ${tag} ${pages}`, `__CONST_RING_SIZE(${tag}, ${pages} * 4096)`]);
  return out;
}

function headers(): string {
  const hs = [...new Set([...sharedStructs.map((s) => s.header), ...EXTRA.map((e) => e[1])])];
  return hs.map((h) => `#include <${h}>`).join("\n");
}

function gccValues(): number[] {
  const body = probes()
    .map(([, e]) => `  printf("%zu\\n", (size_t)(${e}));`)
    .join("\n");
  const exe = compileC(
    "abi-probe-x86_64",
    `#include <stddef.h>\n#include <stdint.h>\n#include <stdio.h>\n#include <errno.h>\n${headers()}\nint main(void)\n{\n${body}\n  return 0;\n}\n`,
  );
  return execFileSync(exe, { encoding: "utf8" }).trim().split("\n").map(Number);
}

function wasm32Values(): number[] {
  const ps = probes();
  const src = `#include <pvwasm/xen-wasm.h>
${headers()}
static const unsigned probe[] = {
${ps.map(([, e]) => `  (unsigned)(${e}),`).join("\n")}
};
__attribute__((export_name("probe_ptr"))) const unsigned *probe_ptr(void) { return probe; }
__attribute__((export_name("probe_len"))) unsigned probe_len(void) { return sizeof probe / sizeof probe[0]; }
`;
  const dir = mkdtempSync(join(tmpdir(), "pvscsi-abi-wasm32-"));
  writeFileSync(join(dir, "probe.c"), src);
  const out = join(dir, "probe.wasm");
  try {
    execFileSync(
      "clang-19",
      [
        "--target=wasm32",
        "-O1",
        "-ffreestanding",
        "-nostdlib",
        "-matomics",
        "-mbulk-memory",
        "-Wall",
        "-Werror",
        `-I${SDK_INCLUDE}`,
        "-idirafter",
        "/usr/include",
        "-Wl,--no-entry",
        "-o",
        out,
        join(dir, "probe.c"),
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
  } catch (e) {
    throw new Error(
      `clang-19 --target=wasm32 failed:\n${(e as { stderr?: Buffer }).stderr?.toString() ?? e}`,
    );
  }
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(out)), {});
  const mem = exports.memory as WebAssembly.Memory;
  const ptr = (exports.probe_ptr as () => number)();
  const len = (exports.probe_len as () => number)();
  return [...new Uint32Array(mem.buffer, ptr, len)];
}

describe.runIf(requireSystem(XEN_HEADERS, GCC, CLANG19, LLD19))(
  "ABI on wasm32 through the SDK's arch shim",
  () => {
    it("every size, offset and ring size matches x86_64 (gcc) and pvscsi's registry", () => {
      const labels = probes().map(([l]) => l);
      const x86 = gccValues();
      const wasm = wasm32Values();
      const table = (v: number[]) => Object.fromEntries(labels.map((l, i) => [l, v[i]]));
      expect(table(wasm)).toEqual(table(x86));
      // And both are what the codecs use (the registry gcc is checked against in test/xen).
      const doc = abiDocument();
      for (const s of sharedStructs) expect(table(wasm)[`S ${s.name}`]).toBe(doc.structs[s.name]!.size);
      expect(table(wasm)["S struct blkif_request_indirect"]).toBe(64);
      expect(table(wasm)["F struct blkif_request.id offset"]).toBe(8);
    });
  },
);
