import { configError } from "../xen/errors.js";
import { dumpFile } from "../xenstore/dump.js";
import { type ControlHandler, GUEST_FILE_CHUNK } from "./control-protocol.js";
import type { Host } from "./host.js";
import { MigrationReceiver, migrateOut } from "./migrate.js";

function str(args: Record<string, unknown>, key: string, op: string): string {
  const v = args[key];
  if (typeof v !== "string") throw configError(`control ${op}`, `'${key}' must be a string`);
  return v;
}

/** A non-negative integer argument (a file offset or length). */
function count(args: Record<string, unknown>, key: string, op: string): number {
  const v = args[key];
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0)
    throw configError(`control ${op}`, `'${key}' must be a non-negative integer`);
  return v;
}

/** `xl scsi-attach`'s options after the vdev: one string, or a list of them. */
function options(args: Record<string, unknown>, op: string): string[] {
  const v = args.option;
  if (v === undefined || v === null) return [];
  if (typeof v === "string") return [v];
  if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v as string[];
  throw configError(`control ${op}`, "'option' must be a string or a list of strings");
}

/**
 * The operations `pvscsi up` serves on its control socket, each a thin call into the {@link Host}:
 * xl's commands, guest commands, and reads of the store and of scsiback's state.
 */
export function hostControlHandler(host: Host): ControlHandler {
  const receiver = new MigrationReceiver(host);
  return {
    async handle(op, args) {
      switch (op) {
        case "xl.create":
          return host.create(str(args, "config", op), str(args, "file", op), {
            force: args.force === true,
            ...(typeof args.baseDir === "string" ? { baseDir: args.baseDir } : {}),
          });
        case "xl.list":
          return host.list();
        case "xl.destroy":
          return host.destroy(str(args, "domain", op));
        case "xl.scsi-attach":
          await host.scsiAttach(
            str(args, "domain", op),
            str(args, "pdev", op),
            str(args, "vdev", op),
            options(args, op),
            { force: args.force === true },
          );
          return null;
        case "xl.scsi-detach":
          await host.scsiDetach(str(args, "domain", op), str(args, "vdev", op));
          return null;
        case "xl.scsi-rescan": {
          const h = args.host;
          if (h !== undefined && (typeof h !== "number" || !Number.isInteger(h) || h < 0 || h > 0xffff))
            throw configError(`control ${op}`, "'host' must be a host number 0..65535");
          return host.scsiRescan({
            ...(typeof args.backend === "string" ? { backend: args.backend } : {}),
            ...(h !== undefined ? { host: h } : {}),
          });
        }
        case "xl.scsi-list": {
          const domains = args.domains;
          if (!Array.isArray(domains) || !domains.every((d) => typeof d === "string")) {
            throw configError(`control ${op}`, "'domains' must be a list of domain names or ids");
          }
          return host.scsiList(domains as string[]);
        }
        case "xl.block-attach": {
          const spec = args.spec;
          if (!Array.isArray(spec) || !spec.every((d) => typeof d === "string"))
            throw configError(`control ${op}`, "'spec' must be a list of disk spec components");
          await host.blockAttach(str(args, "domain", op), spec as string[]);
          return null;
        }
        case "xl.block-detach":
          await host.blockDetach(str(args, "domain", op), str(args, "vdev", op));
          return null;
        case "xl.block-list":
          return host.blockList(str(args, "domain", op));
        case "guest": {
          const argv = args.argv;
          if (!Array.isArray(argv) || !argv.every((a) => typeof a === "string"))
            throw configError(`control ${op}`, "'argv' must be a list of strings");
          return host.guestCommand(str(args, "domain", op), argv as string[]);
        }
        case "guest.put": {
          const data = Buffer.from(str(args, "data", op), "base64");
          const name = typeof args.name === "string" ? args.name : undefined;
          const path = await host.guestPut(
            str(args, "domain", op),
            str(args, "path", op),
            count(args, "offset", op),
            data,
            name,
          );
          return { path };
        }
        case "guest.get": {
          const length = Math.min(count(args, "length", op), GUEST_FILE_CHUNK);
          const r = await host.guestGet(
            str(args, "domain", op),
            str(args, "path", op),
            count(args, "offset", op),
            length,
          );
          return { data: Buffer.from(r.data).toString("base64"), size: r.size };
        }
        case "xl.save":
          return host.save(str(args, "domain", op), str(args, "file", op));
        case "xl.restore":
          return host.restore(str(args, "file", op));
        case "xl.migrate":
          return migrateOut(
            host,
            str(args, "domain", op),
            str(args, "target", op),
            typeof args.token === "string" ? args.token : undefined,
          );
        case "migrate.prepare":
          return receiver.prepare(args.meta);
        case "migrate.memory":
          return receiver.memory(args.session, args.frames, args.data);
        case "migrate.image":
          return receiver.image(args.session, args.offset, args.data);
        case "migrate.commit":
          return receiver.commit(args.session);
        case "migrate.abort":
          return receiver.abort(str(args, "session", op));
        case "xenstore.dump":
          return dumpFile(host.xenstored.db.dump());
        case "backend.report":
          return host.backendReport();
        case "inventory":
          return host.inventory;
        default:
          throw configError(`control request '${op}'`, "unknown operation");
      }
    },
  };
}
