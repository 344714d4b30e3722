import { readFileSync } from "node:fs";
import { controlRequest } from "../../toolstack/control-client.js";
import { defaultSocketPath } from "../../toolstack/control-protocol.js";
import { configError, XenstoreError } from "../../xen/errors.js";
import { XenstoreDb } from "../../xenstore/database.js";
import { rootOfDumpFile } from "../../xenstore/dump.js";
import { dbLsSource, lsJson, renderLs, type XenstoreLsSource } from "../../xenstore/ls.js";
import { parseCommandArgs } from "../args.js";
import { type CliIo, type Command, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from "../io.js";

const USAGE = `Usage: pvscsi xenstore-ls [-p] [-f] [--json] [--socket <path> | --from <dump.json>] [path]

List the xenstore tree below path (default /) in the format of Xen's xenstore-ls: one space of
indent per level, name = "value" with non-printable bytes escaped, values cut to the terminal's
width (80 columns when not a terminal).

  -p, --perms     show each node's permissions, e.g. (n0,r1): owner first, then per-domain grants
  -f, --flat      print whole paths and never truncate
      --json      print the subtree as JSON: {name, value | value64, perms, children: [...]}
      --socket P  read the store of the host running 'pvscsi up' (the default, at its default
                  socket: $PVSCSI_SOCKET or $XDG_RUNTIME_DIR/pvscsi-<uid>.sock)
      --from FILE read the store from a dump written by XenstoreDb.dump() / dumpFile()
                  (format "${"pvscsi-xenstore-dump"}", version 1)
`;

/** Where the listing is read from: a dump file, or a running host's store over its control socket. */
type Source =
  | { readonly kind: "dump"; readonly file: string }
  | { readonly kind: "socket"; readonly path: string };

async function openSource(source: Source): Promise<XenstoreLsSource> {
  let doc: unknown;
  if (source.kind === "socket") {
    doc = await controlRequest(source.path, "xenstore.dump");
  } else {
    let text: string;
    try {
      text = readFileSync(source.file, "utf8");
    } catch (e) {
      throw configError(`--from ${source.file}`, `cannot read: ${(e as Error).message}`);
    }
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw configError(source.file, `not JSON: ${(e as Error).message}`);
    }
  }
  const where = source.kind === "socket" ? source.path : source.file;
  const db = new XenstoreDb({ root: rootOfDumpFile(doc, where) });
  return dbLsSource(db.connect(0));
}

/** `pvscsi xenstore-ls`: Xen's `xenstore-ls` over pvscsi's store. */
export const xenstoreLsCommand: Command = {
  name: "xenstore-ls",
  summary: "list a xenstore tree the way Xen's xenstore-ls does",
  usage: USAGE,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseCommandArgs("xenstore-ls", argv, {
      perms: { type: "boolean", short: "p" },
      flat: { type: "boolean", short: "f" },
      json: { type: "boolean" },
      from: { type: "string" },
      socket: { type: "string" },
      help: { type: "boolean", short: "h" },
    });
    if (values.help) {
      io.out(USAGE);
      return EXIT_OK;
    }
    if (positionals.length > 1) {
      io.err(
        `pvscsi xenstore-ls: unexpected argument '${positionals[1]}' (see 'pvscsi xenstore-ls --help')\n`,
      );
      return EXIT_USAGE;
    }
    if (typeof values.from === "string" && typeof values.socket === "string") {
      io.err("pvscsi xenstore-ls: --from and --socket name two stores; pass one\n");
      return EXIT_USAGE;
    }
    const path = positionals[0] ?? "/";
    const source = await openSource(
      typeof values.from === "string"
        ? { kind: "dump", file: values.from }
        : { kind: "socket", path: typeof values.socket === "string" ? values.socket : defaultSocketPath() },
    );
    try {
      if (values.json) {
        io.out(`${JSON.stringify(await lsJson(source, path), null, 2)}\n`);
        return EXIT_OK;
      }
      const width = io.columns !== undefined ? io.columns - 2 : 80;
      await renderLs(
        source,
        path,
        { perms: values.perms === true, flat: values.flat === true, width },
        {
          out: (t) => io.out(t),
          warn: (t) => io.err(`pvscsi xenstore-ls: ${t}`),
        },
      );
      return EXIT_OK;
    } catch (e) {
      if (e instanceof XenstoreError) {
        io.err(`pvscsi xenstore-ls: xs_directory (${path}): ${e.errno}\n`);
        return EXIT_FAILURE;
      }
      throw e;
    }
  },
};
