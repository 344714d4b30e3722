/**
 * `iscsi-target`: the guest's iSCSI target application. It exports guest SCSI devices (all of
 * them, or those named) as LUNs 0, 1, … of one target, listening until stopped; every command a
 * remote initiator sends is executed by this guest through its scsifront.
 * @module
 */
import { groupPaths, IscsiExport } from "../iscsi-export.js";
import type { GuestScsi, GuestScsiDevice } from "../midlayer.js";
import { fail, ok } from "./_common.js";
import type { CommandResult } from "./command.js";

/** `iscsi-target --help`. */
export const ISCSI_TARGET_USAGE = {
  summary: "export the guest's SCSI devices as an iSCSI target (libiscsi's tools can test them)",
  usage:
    "Usage: iscsi-target [-p <port>] [-a <address>] [-n <iqn>] [--allow <initiator-iqn>]... [<device>...]\n" +
    "       iscsi-target --list\n" +
    "       iscsi-target --stop [<port>]\n" +
    "Start an iSCSI target (RFC 7143) in the guest: LUN i is the i-th <device> (default: every\n" +
    "device lsscsi lists). Every command it receives is issued by the guest through its scsifront.\n" +
    "Devices with the same VPD 83h identity (one LU on several vscsi controllers) are one LUN with\n" +
    "a path each; each iSCSI session is bound to its own path, so the device tells sessions apart.\n" +
    "  -p, --port <port>      TCP port (default 3260; 0 picks a free one)\n" +
    "  -a, --address <addr>   listen address (default 127.0.0.1)\n" +
    "  -n, --iqn <iqn>        target name (default iqn.2026-12.org.pvscsi:export)\n" +
    "  --allow <iqn>          only this initiator may log in (repeatable)\n" +
    "  --list                 the targets running in this guest\n" +
    "  --stop [<port>]        stop them (or the one on <port>)\n",
};

const running = new WeakMap<GuestScsi, IscsiExport[]>();

function describe(e: IscsiExport): string {
  const lines = [`iSCSI target ${e.iqn} on ${e.portal}`, `  URL: iscsi://${e.portal}/${e.iqn}/0`];
  const hctl = (d: GuestScsiDevice) => `[${d.host.hostNo}:${d.channel}:${d.id}:${d.lun}]`;
  for (const { lun, device, paths } of e.luns)
    lines.push(
      `  LUN ${lun}: ${hctl(device)} ${device.devNode ?? device.sgNode} ${device.vendor.trim()} ${device.model.trim()}${
        paths.length > 1 ? ` (${paths.length} paths: ${paths.map(hctl).join(" ")})` : ""
      }`,
    );
  return `${lines.join("\n")}\n`;
}

/** The `iscsi-target` guest command. */
export async function iscsiTarget(argv: readonly string[], scsi: GuestScsi): Promise<CommandResult> {
  const list = running.get(scsi) ?? [];
  if (argv[0] === "--list") return ok(list.map(describe).join(""));
  if (argv[0] === "--stop") {
    const port = argv[1] === undefined ? null : Number(argv[1]);
    const stop = list.filter((e) => port === null || e.port === port);
    if (port !== null && stop.length === 0) return fail(`iscsi-target: no target on port ${argv[1]}`);
    for (const e of stop) await e.close();
    running.set(
      scsi,
      list.filter((e) => !stop.includes(e)),
    );
    return ok(stop.map((e) => `stopped ${e.iqn} on ${e.portal}\n`).join(""));
  }
  let port = 3260;
  let host = "127.0.0.1";
  let iqn: string | undefined;
  const allow: string[] = [];
  const names: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "-p" || a === "--port") {
      const v = value();
      port = Number(v);
      if (!/^[0-9]+$/.test(v) || port > 65535) return fail(`iscsi-target: bad port '${v}'`);
    } else if (a === "-a" || a === "--address") host = value();
    else if (a === "-n" || a === "--iqn") {
      iqn = value();
      if (!/^(iqn\.\d{4}-\d{2}\.[^\s]+|eui\.[0-9A-Fa-f]{16}|naa\.[0-9A-Fa-f]{16,32})$/.test(iqn))
        return fail(`iscsi-target: '${iqn}' is not an iSCSI name (iqn.YYYY-MM.reversed.domain[:id])`);
    } else if (a === "--allow") allow.push(value());
    else if (a.startsWith("-")) return fail(`iscsi-target: unknown option '${a}'`);
    else names.push(a);
  }
  let devices: GuestScsiDevice[];
  try {
    devices = names.length > 0 ? names.map((n) => scsi.resolve(n)) : [...scsi.list()];
  } catch (e) {
    return fail(`iscsi-target: ${(e as Error).message}`);
  }
  if (devices.length === 0) return fail("iscsi-target: the guest has no SCSI devices to export");
  // Devices that are one LU through several vscsi controllers become one LUN with a path per
  // controller (each session is bound to one path: its own I_T nexus at the device).
  const exp = new IscsiExport(await groupPaths(devices), "export", {
    port,
    host,
    ...(iqn ? { iqn } : {}),
    ...(allow.length > 0 ? { allow } : {}),
  });
  try {
    await exp.listen();
  } catch (e) {
    return fail(`iscsi-target: cannot listen on ${host}:${port}: ${(e as Error).message}`);
  }
  running.set(scsi, [...list, exp]);
  return ok(describe(exp));
}

/**
 * Whether the guest runs an iSCSI target: its sockets live on the guest worker's event loop, so
 * the guest's kernel loop must not block its thread while one runs (it sleeps with `waitAsync`).
 */
export function iscsiTargetsRunning(scsi: GuestScsi): boolean {
  return (running.get(scsi)?.length ?? 0) > 0;
}
