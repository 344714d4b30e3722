import { readFileSync } from "node:fs";
import type { LsscsiRow } from "../../targets/inventory/inventory.js";
import { controlRequest } from "../../toolstack/control-client.js";
import { domxmlFromNative, domxmlToNative } from "../../toolstack/virsh.js";
import { parseCommandArgs } from "../args.js";
import { type CliIo, type Command, EXIT_FAILURE, EXIT_OK } from "../io.js";

const USAGE = `Usage: pvscsi virsh [--socket <path>] domxml-from-native xen-xl <config>
       pvscsi virsh [--socket <path>] domxml-to-native xen-xl <domain.xml>

libvirt's virsh, for the PVSCSI part of a Xen domain: convert an xl config's vscsi = [ ... ]
to and from <hostdev mode='subsystem' type='scsi'> elements (docs/libvirt.md).

  --socket PATH   a running 'pvscsi up' whose SCSI devices resolve /dev/<name> and naa.<wwn>:<lun>
                  pdevs to the h:c:t:l libvirt names, and decide <shareable/> and <readonly/>.
                  Without it the conversion is offline: h:c:t:l pdevs only, flags not checked.

Exit status as virsh: 0 on success, 1 on any error ("error: ..." on stderr).
`;

/** `pvscsi virsh domxml-from-native|domxml-to-native xen-xl FILE`, as libvirt's virsh names them. */
export const virshCommand: Command = {
  name: "virsh",
  summary: "virsh domxml-from-native / domxml-to-native xen-xl: vscsi <-> libvirt SCSI hostdev XML",
  usage: USAGE,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    try {
      const { values, positionals } = parseCommandArgs("virsh", argv, {
        socket: { type: "string" },
        help: { type: "boolean", short: "h" },
      });
      if (values.help) {
        io.out(USAGE);
        return EXIT_OK;
      }
      const [sub, format, file, ...extra] = positionals;
      if (sub !== "domxml-from-native" && sub !== "domxml-to-native")
        throw new Error(
          sub === undefined
            ? "expected domxml-from-native or domxml-to-native (see 'pvscsi virsh --help')"
            : `unknown command: '${sub}'`,
        );
      if (format !== "xen-xl")
        throw new Error(
          `unsupported config type ${format === undefined ? "(none given)" : `'${format}'`}: only xen-xl`,
        );
      if (file === undefined || extra.length > 0)
        throw new Error(`${sub} xen-xl takes exactly one file (see 'pvscsi virsh --help')`);
      let text: string;
      try {
        text = readFileSync(file, "utf8");
      } catch (e) {
        throw new Error(`Failed to open file '${file}': ${(e as Error).message}`);
      }
      const inventory =
        typeof values.socket === "string"
          ? ((await controlRequest(values.socket, "inventory")) as LsscsiRow[])
          : null;
      const r =
        sub === "domxml-from-native"
          ? domxmlFromNative(text, file, inventory)
          : domxmlToNative(text, file, inventory);
      for (const w of r.warnings) io.err(`warning: ${w}\n`);
      io.out(r.text);
      return EXIT_OK;
    } catch (e) {
      io.err(`error: ${e instanceof Error ? e.message : String(e)}\n`);
      return EXIT_FAILURE;
    }
  },
};
