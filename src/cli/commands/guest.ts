import type { CommandResult } from "../../guest/userland/command.js";
import { controlRequest } from "../../toolstack/control-client.js";
import { defaultSocketPath } from "../../toolstack/control-protocol.js";
import { configError } from "../../xen/errors.js";
import { type CliIo, type Command, EXIT_OK } from "../io.js";

const USAGE = `Usage: pvscsi guest [--socket <path>] <Domain> <command> [args...]

Run a command inside a running guest, against the SCSI devices its scsifront sees:

  lsscsi [-g]                          the guest's SCSI devices, as lsscsi prints them
  cat /proc/scsi/scsi                  the same, as Linux's /proc/scsi/scsi
  sg_inq <dev>                         standard INQUIRY, unit serial number, device identifiers
  sg_readcap [--16] <dev>              capacity and block size
  dd if=<dev> [bs=] [count=] [skip=]   read; prints the records, rate and the data's SHA-256
  dd of=<dev> [if=/dev/zero|pattern:<seed>] [bs=] [count=] [seek=]
                                       write; prints the SHA-256 of what was written
  help                                 every command the guest knows (tape tools included)

<dev> is /dev/sdX, /dev/stN, /dev/nstN, /dev/schN, /dev/srN, /dev/sgN or h:c:t:l (guest numbering).
`;

export const guestCommand: Command = {
  name: "guest",
  summary: "run a command inside a guest (lsscsi, cat /proc/scsi/scsi, sg_inq, dd, mt, mtx, ...)",
  usage: USAGE,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    let socket = defaultSocketPath();
    let args = [...argv];
    if (args[0] === "--help" || args[0] === "-h") {
      io.out(USAGE);
      return EXIT_OK;
    }
    if (args[0] === "--socket") {
      if (args[1] === undefined) throw configError("pvscsi guest --socket", "expected a path");
      socket = args[1];
      args = args.slice(2);
    } else if (args[0]?.startsWith("--socket=")) {
      socket = args[0].slice("--socket=".length);
      args = args.slice(1);
    }
    const [domain, ...command] = args;
    if (domain === undefined || command.length === 0)
      throw configError("pvscsi guest", "expected <Domain> <command> [args...] (see 'pvscsi guest --help')");
    const r = (await controlRequest(socket, "guest", { domain, argv: command })) as CommandResult;
    if (r.stdout) io.out(r.stdout);
    if (r.stderr) io.err(r.stderr);
    return r.exitCode;
  },
};
