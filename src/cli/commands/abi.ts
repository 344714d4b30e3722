import { abiDocument, ringEntries, sharedStructs } from "../../xen/abi-registry.js";
import { parseCommandArgs } from "../args.js";
import { type CliIo, type Command, EXIT_OK, EXIT_USAGE } from "../io.js";

const USAGE = `Usage: pvscsi abi [--json]

Print every structure pvscsi shares with Xen, field by field (offset and size in bytes, with
Xen's C names), and the vscsiif ring's entry count for 1, 2, 4 and 8 pages.

  --json   the same as a stable JSON document
`;

/** `pvscsi abi`: a protocol developer's quick reference, like pahole. */
export const abiCommand: Command = {
  name: "abi",
  summary: "print the layout of every structure shared with Xen",
  usage: USAGE,
  run(argv: readonly string[], io: CliIo): number {
    const { values, positionals } = parseCommandArgs("abi", argv, {
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    });
    if (values.help) {
      io.out(USAGE);
      return EXIT_OK;
    }
    if (positionals.length > 0) {
      io.err(`pvscsi abi: unexpected argument '${positionals[0]}' (see 'pvscsi abi --help')\n`);
      return EXIT_USAGE;
    }
    if (values.json) {
      io.out(`${JSON.stringify(abiDocument(), null, 2)}\n`);
      return EXIT_OK;
    }
    io.out(renderText());
    return EXIT_OK;
  },
};

function renderText(): string {
  const lines: string[] = [];
  for (const s of sharedStructs) {
    lines.push(`${s.cType} {  /* ${s.header}: ${s.size} bytes${s.cSize ? ` (${s.cSize})` : ""} */`);
    let end = 0;
    for (const [name, f] of Object.entries(s.fields)) {
      if (f.offset > end) lines.push(`\t/* bytes ${end}..${f.offset - 1}: padding */`);
      const decl = declaration(name, f.type);
      lines.push(
        `\t${decl.padEnd(42)}/* offset ${String(f.offset).padStart(4)}  size ${String(f.size).padStart(4)} */`,
      );
      end = f.offset + f.size;
    }
    if (s.size > end) lines.push(`\t/* bytes ${end}..${s.size - 1}: not listed */`);
    lines.push("};", "");
  }
  for (const [tag, counts] of Object.entries(ringEntries)) {
    const cells = Object.entries(counts).map(
      ([pages, n]) => `${pages} page${pages === "1" ? "" : "s"}: ${n}`,
    );
    lines.push(`${tag} ring entries (__CONST_RING_SIZE): ${cells.join(", ")}`);
  }
  return `${lines.join("\n")}\n`;
}

/** `uint8_t[16]` + `cmnd` → `uint8_t cmnd[16];` */
function declaration(name: string, type: string | undefined): string {
  if (type === undefined) return `${name};`;
  const bracket = type.indexOf("[");
  const base = bracket < 0 ? type : type.slice(0, bracket);
  const dims = bracket < 0 ? "" : type.slice(bracket);
  return `${base.padEnd(18)} ${name}${dims};`;
}
