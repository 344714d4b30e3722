import { open, stat, unlink } from "node:fs/promises";
import { basename, join } from "node:path";
import type { CommandResult } from "../../guest/userland/command.js";
import { controlRequest } from "../../toolstack/control-client.js";
import { defaultSocketPath, GUEST_FILE_CHUNK } from "../../toolstack/control-protocol.js";
import { configError } from "../../xen/errors.js";
import { type CliIo, type Command, EXIT_OK } from "../io.js";

const USAGE = `Usage: pvscsi guest [--socket <path>] <Domain> <command> [args...]

Run a command inside a running guest, against the SCSI devices its scsifront sees:

  lsscsi [-g]                          the guest's SCSI devices, as lsscsi prints them
  cat /proc/scsi/scsi                  the same, as Linux's /proc/scsi/scsi
  sg_inq <dev>                         standard INQUIRY, unit serial number, device identifiers
  sg_readcap [--16] <dev>              capacity and block size
  dd if=<dev> [bs=] [count=] [skip=] [status=hash]
                                       read; prints the records and rate (status=hash: the
                                       data's SHA-256 too)
  dd of=<dev> [if=/dev/zero|pattern:<seed>] [bs=] [count=] [seek=] [status=hash]
                                       write; status=hash prints the SHA-256 of what was written
  tar -c|-x|-t [-f <tape>] [-C dir] [path...]   the guest's files to tape and back
  help                                 every command the guest knows; <command> --help its options

  put [-f] <host-file> <guest-path>    copy a file of this host into the guest's filesystem
  get [-f] <guest-path> <host-file>    copy a guest's file out; an existing host file is kept
                                       unless -f. Exit status as cp's: 0 copied, 1 not.

Each guest has its own filesystem: a folder of dom0's (guest_root in its config, else
<state>/guests/<name>/root); guest paths are inside it, and '..' or symlinks cannot leave it.

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
    if (command[0] === "put" || command[0] === "get")
      return copyFile(socket, domain, command[0], command.slice(1), io);
    const r = (await controlRequest(socket, "guest", { domain, argv: command })) as CommandResult;
    if (r.stdout) io.out(r.stdout);
    if (r.stderr) io.err(r.stderr);
    return r.exitCode;
  },
};

/** What a `put`/`get` failure prints: cp's form, `pvscsi guest: put: <what>: <why>`. */
function errText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  const words: Record<string, string> = {
    ENOENT: "No such file or directory",
    EEXIST: "File exists",
    EISDIR: "Is a directory",
    EACCES: "Permission denied",
  };
  if (code !== undefined && words[code] !== undefined) return words[code];
  return e instanceof Error ? e.message : String(e);
}

/**
 * `put [-f] <host-file> <guest-path>` and `get [-f] <guest-path> <host-file>`: the host file is
 * read or written here, in the client's own process (its permissions, its working directory),
 * and the bytes travel over the control socket in {@link GUEST_FILE_CHUNK} pieces, base64.
 * An existing host file is not overwritten without `-f`. Exit status as cp(1)'s: 0 or 1.
 */
async function copyFile(
  socket: string,
  domain: string,
  verb: "put" | "get",
  args: readonly string[],
  io: CliIo,
): Promise<number> {
  const force = args.includes("-f");
  const operands = args.filter((a) => a !== "-f");
  const fail = (m: string) => {
    io.err(`pvscsi guest: ${verb}: ${m}\n`);
    return 1;
  };
  if (operands.length !== 2 || operands.some((a) => a.startsWith("-")))
    return fail(
      verb === "put" ? "expected [-f] <host-file> <guest-path>" : "expected [-f] <guest-path> <host-file>",
    );
  if (verb === "put") {
    const [hostFile, guestPath] = operands as [string, string];
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      fh = await open(hostFile, "r");
      if ((await fh.stat()).isDirectory()) {
        await fh.close();
        return fail(`'${hostFile}': Is a directory (copy files one by one, or tar them)`);
      }
    } catch (e) {
      return fail(`cannot stat '${hostFile}': ${errText(e)}`);
    }
    try {
      const buf = Buffer.alloc(GUEST_FILE_CHUNK);
      let offset = 0;
      let path = guestPath;
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
        if (bytesRead === 0 && offset > 0) break;
        const r = (await controlRequest(socket, "guest.put", {
          domain,
          path,
          offset,
          data: buf.subarray(0, bytesRead).toString("base64"),
          name: basename(hostFile),
        })) as { path: string };
        path = r.path; // later chunks go where the first went (into a directory: its file)
        offset += bytesRead;
        if (bytesRead === 0) break;
      }
      return 0;
    } catch (e) {
      return fail(errText(e));
    } finally {
      await fh.close();
    }
  }
  const [guestPath, hostArg] = operands as [string, string];
  const isDir = await stat(hostArg).then(
    (s) => s.isDirectory(),
    () => false,
  );
  const hostFile = isDir ? join(hostArg, basename(guestPath)) : hostArg;
  // The first chunk before the host file is made: a missing guest file leaves nothing behind.
  let first: { data: string; size: number };
  try {
    first = (await controlRequest(socket, "guest.get", {
      domain,
      path: guestPath,
      offset: 0,
      length: GUEST_FILE_CHUNK,
    })) as { data: string; size: number };
  } catch (e) {
    return fail(errText(e));
  }
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(hostFile, force ? "w" : "wx");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return fail(
      code === "EEXIST"
        ? `'${hostFile}': File exists (use -f to overwrite)`
        : `cannot create regular file '${hostFile}': ${errText(e)}`,
    );
  }
  try {
    let chunk = first;
    let offset = 0;
    for (;;) {
      const data = Buffer.from(chunk.data, "base64");
      if (data.length > 0) await fh.write(data, 0, data.length, offset);
      offset += data.length;
      if (data.length === 0 || offset >= chunk.size) break;
      chunk = (await controlRequest(socket, "guest.get", {
        domain,
        path: guestPath,
        offset,
        length: GUEST_FILE_CHUNK,
      })) as { data: string; size: number };
    }
    await fh.close();
    return 0;
  } catch (e) {
    await fh.close().catch(() => undefined);
    await unlink(hostFile).catch(() => undefined); // no half-copied file left behind
    return fail(errText(e));
  }
}
