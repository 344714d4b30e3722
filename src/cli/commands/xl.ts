import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { type DomainReport, describeLeaks } from "../../hypervisor/report.js";
import { controlRequest } from "../../toolstack/control-client.js";
import { defaultSocketPath } from "../../toolstack/control-protocol.js";
import type { BlockListRow, DomainRow, HbaRescan, ScsiListRow } from "../../toolstack/host.js";
import type { MigrationReport } from "../../toolstack/migrate.js";
import { isTcpTarget, parseLoopbackAddress } from "../../toolstack/migrate-tcp.js";
import { configError } from "../../xen/errors.js";
import { parseCommandArgs } from "../args.js";
import { type CliIo, type Command, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from "../io.js";

const USAGE = `Usage: pvscsi xl [--socket <path>] <subcommand> [args]

Xen's xl, for the PVSCSI parts, against a host started with 'pvscsi up':

  create <ConfigFile> [--force]              create a domain from an xl config file:
                                               name = "guest1"
                                               memory = 32          # MiB
                                               vscsi = [ '/dev/sda,0:0:0:0', '/dev/st0,0:0:1:0' ]
                                             or a driver domain, running scsiback over its own devices:
                                               name = "scsidd"
                                               driver_domain = 1
                                               scsi_host_config = "dd-host.conf"   # as for 'pvscsi up'
                                             whose devices guests take with backend=scsidd:
                                               vscsi = [ '/dev/sda,0:0:0:0,backend=scsidd' ]
  list                                       list domains
  destroy <Domain>                           close the domain's devices and destroy it
  scsi-attach <Domain> <PhysDevice> <VirtDevice> [feature-host] [backend=<Domain>] [munging=<policy>] [--force]
  scsi-detach <Domain> <VirtDevice>
  scsi-rescan [<Host>] [backend=<Domain>]    rescan the backend's [iscsi-target] hosts (all, or <Host>):
                                             LUNs that appeared or left are hot-plugged into or out of
                                             every whole-HBA controller (vscsi = [ '2:0:0:1,host' ])
  scsi-list <Domain> [<Domain> ...]
  block-attach <Domain> <disk-spec-component(s)>...   a Xen virtual block device (blkif), e.g.
                                               block-attach guest1 'format=raw, vdev=xvdb, access=rw, target=/dev/sda'
                                             (or in a config: disk = [ '/dev/sda,raw,xvda,rw' ])
  block-detach <Domain> <DevId>              DevId: the vdev (xvdb) or its number (51728)
  block-list <Domain>
  save <Domain> <CheckpointFile>             save the guest (memory, filesystem, xenstore device
                                             nodes, vscsi devices by identity) and destroy it
  restore <CheckpointFile>                   recreate a saved guest; its devices are found here by
                                             identity (same image files), h:c:t:l renumbered
  migrate <Domain> <Host> [--token-file F]   live-migrate the guest to another 'pvscsi up', <Host>
                                             being its control socket, or tcp://127.0.0.1:<port>
                                             (its --migrate-listen, with its token file F);
                                             memory in rounds, then stop-and-copy; devices
                                             re-evaluated on the target

PhysDevice: /dev/<sdX|stN|nstN|srN|schN|sgN>, h:c:t:l, or naa.<16 hex>:<lun> of the backend
            domain (dom0's: see 'pvscsi up').
VirtDevice: h:c:t:l, where h selects the guest's controller (vHOST); or host (xm's whole HBA):
            every unit of PhysDevice's host, each at its own h:c:t:l, with feature-host.
--force lets a device that is not declared shareable be given to a second guest.
`;

/** `xl list`'s format (tools/xl/xl_info.c `list_domains`). */
export function formatXlList(rows: readonly DomainRow[]): string {
  let out = "Name                                        ID   Mem VCPUs\tState\tTime(s)\n";
  for (const r of rows) {
    out += `${r.name.padEnd(40)} ${String(r.domid).padStart(5)} ${String(r.memMiB).padStart(5)} ${String(r.vcpus).padStart(5)}     ${r.state}  ${r.seconds.toFixed(1).padStart(8)}\n`;
  }
  return out;
}

/**
 * `xl scsi-list`'s format (libxl vscsi series, xl_cmdimpl.c): `%-3s %-3s %-5s %-5s %-10s %-10s %-5s`
 * header, `%-3d %-3d %-5d %-5d %-10s %-10s %d` rows. The ctrl column shows the controller index
 * (the vHOST), not the backend id the upstream patch prints there by mistake.
 */
export function formatScsiList(rows: readonly ScsiListRow[]): string {
  let out = `${"Idx".padEnd(3)} ${"BE".padEnd(3)} ${"state".padEnd(5)} ${"ctrl".padEnd(5)} ${"phy-hctl".padEnd(10)} ${"vir-hctl".padEnd(10)} ${"devstate".padEnd(5)}\n`;
  for (const r of rows) {
    out += `${String(r.idx).padEnd(3)} ${String(r.backendId).padEnd(3)} ${String(r.state).padEnd(5)} ${String(r.ctrl).padEnd(5)} ${r.phyHctl.padEnd(10)} ${r.virHctl.padEnd(10)} ${r.devstate}\n`;
  }
  return out;
}

/**
 * `xl block-list`'s format (tools/xl/xl_vdevs.c `main_blocklist`): `%-5s %-3s %-6s %-5s %-6s %-8s %-30s`
 * header (Vdev BE handle state evt-ch ring-ref BE-path), `%-5d %-3d %-6d %-5d %-6d %-8d %-30s` rows.
 */
export function formatBlockList(rows: readonly BlockListRow[]): string {
  let out = `${"Vdev".padEnd(5)} ${"BE".padEnd(3)} ${"handle".padEnd(6)} ${"state".padEnd(5)} ${"evt-ch".padEnd(6)} ${"ring-ref".padEnd(8)} ${"BE-path".padEnd(30)}\n`;
  for (const r of rows)
    out += `${String(r.vdev).padEnd(5)} ${String(r.backendId).padEnd(3)} ${String(r.frontendId).padEnd(6)} ${String(r.state).padEnd(5)} ${String(r.eventChannel).padEnd(6)} ${String(r.ringRef).padEnd(8)} ${r.backendPath.padEnd(30)}\n`;
  return out;
}

export const xlCommand: Command = {
  name: "xl",
  summary:
    "xl create|list|destroy|scsi-attach|scsi-detach|scsi-rescan|scsi-list|block-attach|block-detach|block-list|save|restore|migrate against 'pvscsi up'",
  usage: USAGE,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseCommandArgs("xl", argv, {
      socket: { type: "string" },
      force: { type: "boolean", short: "f" },
      "token-file": { type: "string" },
      help: { type: "boolean", short: "h" },
    });
    const [sub, ...rest] = positionals;
    if (values.help || sub === undefined) {
      io.out(USAGE);
      return values.help ? EXIT_OK : EXIT_USAGE;
    }
    const socket = typeof values.socket === "string" ? values.socket : defaultSocketPath();
    const force = values.force === true;
    const need = (n: number, max: number, form: string) => {
      if (rest.length < n || rest.length > max)
        throw configError(`pvscsi xl ${sub}`, `expected ${form} (see 'pvscsi xl --help')`);
    };
    switch (sub) {
      case "create": {
        need(1, 1, "<ConfigFile>");
        const file = rest[0]!;
        let text: string;
        try {
          text = readFileSync(file, "utf8");
        } catch (e) {
          throw configError(file, `cannot read: ${(e as Error).message}`);
        }
        // Paths in the config (a driver domain's scsi_host_config) start at the config's directory.
        const baseDir = dirname(resolve(file));
        io.err(`Parsing config from ${file}\n`); // as xl does, on stderr
        const r = (await controlRequest(socket, "xl.create", { config: text, file, baseDir, force })) as {
          domid: number;
          name: string;
          warnings?: string[];
        };
        for (const w of r.warnings ?? []) io.err(`warning: ${w}\n`);
        io.out(`created domain ${r.name} (domid ${r.domid})\n`);
        return EXIT_OK;
      }
      case "list":
        need(0, 0, "no arguments");
        io.out(formatXlList((await controlRequest(socket, "xl.list")) as DomainRow[]));
        return EXIT_OK;
      case "destroy": {
        need(1, 1, "<Domain>");
        const report = (await controlRequest(socket, "xl.destroy", { domain: rest[0] })) as DomainReport;
        if (report.clean) return EXIT_OK;
        // The domain is gone, but something of it is not: that is a failure an admin must see.
        io.err(`xl destroy ${rest[0]}: the domain is destroyed but left resources behind:\n`);
        for (const line of describeLeaks(report)) io.err(`  ${line}\n`);
        return EXIT_FAILURE;
      }
      case "scsi-attach":
        need(3, 5, "<Domain> <PhysDevice> <VirtDevice> [feature-host] [backend=<Domain>]");
        await controlRequest(socket, "xl.scsi-attach", {
          domain: rest[0],
          pdev: rest[1],
          vdev: rest[2],
          option: rest.slice(3),
          force,
        });
        return EXIT_OK;
      case "scsi-detach":
        need(2, 2, "<Domain> <VirtDevice>");
        try {
          await controlRequest(socket, "xl.scsi-detach", { domain: rest[0], vdev: rest[1] });
        } catch (e) {
          io.err(`${e instanceof Error ? e.message : e}\nscsi-detach ${rest[0]} ${rest[1]} failed\n`);
          return 1;
        }
        return EXIT_OK;
      case "scsi-rescan": {
        need(0, 2, "[<Host>] [backend=<Domain>]");
        let backend: string | undefined;
        let hostNo: number | undefined;
        for (const a of rest) {
          if (a.startsWith("backend=")) backend = a.slice(8);
          else if (/^\d{1,5}$/.test(a)) hostNo = Number(a);
          else {
            io.err(`xl scsi-rescan: expected a host number or backend=<Domain>, got '${a}'\n`);
            return EXIT_FAILURE;
          }
        }
        const r = (await controlRequest(socket, "xl.scsi-rescan", {
          ...(backend !== undefined ? { backend } : {}),
          ...(hostNo !== undefined ? { host: hostNo } : {}),
        })) as HbaRescan;
        for (const u of r.added) io.out(`added ${u}\n`);
        for (const u of r.removed) io.out(`removed ${u}\n`);
        for (const u of r.plugged) io.out(`hot-plugged ${u}\n`);
        for (const u of r.unplugged) io.out(`hot-unplugged ${u}\n`);
        for (const s of r.skipped) io.err(`skipped: ${s}\n`);
        return EXIT_OK;
      }
      case "scsi-list":
        need(1, Number.POSITIVE_INFINITY, "<Domain> [<Domain> ...]");
        io.out(
          formatScsiList((await controlRequest(socket, "xl.scsi-list", { domains: rest })) as ScsiListRow[]),
        );
        return EXIT_OK;
      case "block-attach":
        need(2, Number.POSITIVE_INFINITY, "<Domain> <disk-spec-component(s)>...");
        await controlRequest(socket, "xl.block-attach", { domain: rest[0], spec: rest.slice(1) });
        return EXIT_OK;
      case "block-detach":
        need(2, 2, "<Domain> <DevId>");
        try {
          await controlRequest(socket, "xl.block-detach", { domain: rest[0], vdev: rest[1] });
        } catch (e) {
          io.err(`${e instanceof Error ? e.message : e}\n`);
          return EXIT_FAILURE;
        }
        return EXIT_OK;
      case "block-list":
        need(1, 1, "<Domain>");
        io.out(
          formatBlockList(
            (await controlRequest(socket, "xl.block-list", { domain: rest[0] })) as BlockListRow[],
          ),
        );
        return EXIT_OK;
      case "save": {
        need(2, 2, "<Domain> <CheckpointFile>");
        const file = resolve(rest[1]!);
        io.err(`Saving to ${file}\n`);
        const r = (await controlRequest(socket, "xl.save", { domain: rest[0], file })) as {
          name: string;
          bytes: number;
          devices: number;
        };
        io.out(`saved ${r.name}: ${r.bytes} bytes, ${r.devices} vscsi device(s), to ${file}\n`);
        return EXIT_OK;
      }
      case "restore": {
        need(1, 1, "<CheckpointFile>");
        const file = resolve(rest[0]!);
        io.err(`Loading save file ${file}\n`);
        const r = (await controlRequest(socket, "xl.restore", { file })) as {
          domid: number;
          name: string;
          devices: Array<{ vdev: string; pdevname: string; from: string; to: string }>;
        };
        for (const d of r.devices)
          io.out(`  vdev ${d.vdev}: ${d.pdevname} was ${d.from} on the source, is ${d.to} here\n`);
        io.out(`restored domain ${r.name} (domid ${r.domid})\n`);
        return EXIT_OK;
      }
      case "migrate": {
        need(2, 2, "<Domain> <Host>");
        // <Host>: the other host's control socket, or its migration listener on loopback TCP
        // (`tcp://127.0.0.1:<port>`, with the token file it wrote).
        const tcp = isTcpTarget(rest[1]!);
        const target = tcp ? rest[1]! : resolve(rest[1]!);
        if (tcp) parseLoopbackAddress(target);
        else if (target === resolve(socket))
          throw configError(`pvscsi xl migrate`, `${rest[1]} is this host's own control socket`);
        let token: string | undefined;
        if (typeof values["token-file"] === "string") {
          try {
            token = readFileSync(values["token-file"], "utf8").trim();
          } catch (e) {
            throw configError(
              `pvscsi xl migrate`,
              `--token-file ${values["token-file"]}: ${(e as Error).message}`,
            );
          }
        } else if (tcp)
          throw configError(
            `pvscsi xl migrate`,
            `a tcp:// target needs --token-file (the target's <socket>.migrate-token)`,
          );
        const r = (await controlRequest(socket, "xl.migrate", {
          domain: rest[0],
          target,
          ...(token !== undefined ? { token } : {}),
        })) as MigrationReport;
        for (const d of r.devices)
          io.out(`  vdev ${d.vdev}: ${d.pdevname} was ${d.from} on the source, is ${d.to} on the target\n`);
        io.out(
          `migrated ${r.name} to ${r.target} (domid ${r.domid} there): memory rounds ${r.rounds.join(", ")} + ${r.stopAndCopyFrames} frames at stop; downtime ${r.downtimeMs.toFixed(1)} ms, total ${r.totalMs.toFixed(1)} ms\n`,
        );
        if (r.resumed !== null)
          io.out(
            `  kernel resumed on the target: ${r.resumed.carried} request(s) carried over, ${r.resumed.resetCompletions} completed with DID_RESET; requests retried after DID_RESET: ${r.resumed.resetRetries}\n`,
          );
        return EXIT_OK;
      }
      default:
        io.err(`pvscsi xl: unknown subcommand '${sub}' (see 'pvscsi xl --help')\n`);
        return EXIT_USAGE;
    }
  },
};
