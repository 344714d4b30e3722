import { createHash } from "node:crypto";
import { join } from "node:path";
import createDebug from "debug";
import {
  type DeviceInfo,
  type ScsiDevice,
  TYPE_DISK,
  TYPE_MEDIUM_CHANGER,
  TYPE_ROM,
  TYPE_TAPE,
} from "../../scsi/device.js";
import { compareHctl, formatHct, formatHctl, type Hctl, parseHctl } from "../../scsi/hctl.js";
import { formatLsscsiLine, lsscsiTypeName } from "../../scsi/lsscsi-format.js";
import { configError, invalidArgument, invalidState } from "../../xen/errors.js";
import { Cdrom } from "../mmc/cdrom.js";
import { NullDevice } from "../null-device.js";
import { Disk } from "../sbc/disk.js";
import { MediumChanger } from "../smc/medium-changer.js";
import { FileCartridgeLibrary } from "../ssc/cartridge-library.js";
import { TapeDrive } from "../ssc/tape-drive.js";
import { MAX_LUN, ScsiTarget } from "../target.js";
import type { TargetMember } from "../target-port.js";
import { DEFAULT_HOST_CONFIG, DEFAULT_HOST_CONFIG_SOURCE } from "./default-config.js";
import {
  type CartridgeDefaults,
  type ChangerConfig,
  type DeviceConfig,
  type DeviceKind,
  type HostConfig,
  loadHostConfig,
  parseHostConfig,
} from "./host-config.js";
import { type DeviceNames, LinuxNamer, sdIndex } from "./names.js";
import { defaultStateDir } from "./state-dir.js";

const log = createDebug("pvscsi:targets");

/** One logical unit of dom0's emulated SCSI subsystem. */
export interface InventoryEntry {
  readonly hctl: Hctl;
  readonly kind: DeviceKind;
  readonly info: DeviceInfo;
  readonly device: ScsiDevice & TargetMember;
  /** The target the unit sits behind (routes LUNs, answers REPORT LUNS and empty LUNs). */
  readonly target: ScsiTarget;
  readonly names: DeviceNames;
  /** The unit's WWN (VPD 83h, association LU): 16 hex digits. */
  readonly wwn: string;
  /** Linux scsiback's p-dev for it: `naa.<target port WWN>:<lun>`. */
  readonly pdevWwn: string;
  /** May be assigned to several running guests at once. */
  readonly shareable: boolean;
  /** Why the unit cannot serve data (bad image), or null. */
  readonly fault: string | null;
}

/** One row of {@link Inventory.list}, the data `lsscsi -g` prints. */
export interface LsscsiRow {
  readonly hctl: string;
  /** lsscsi's type name: disk, cd/dvd, tape, mediumx, no dev. */
  readonly type: string;
  /** The peripheral device type (INQUIRY byte 0). */
  readonly typeCode: number;
  readonly vendor: string;
  readonly model: string;
  readonly rev: string;
  /** `/dev/sda`, or "-". */
  readonly dev: string;
  readonly sg: string;
  readonly wwn: string;
  readonly pdev: string;
  readonly shareable: boolean;
}

/** A target's WWN and the devices behind it. */
interface TargetInfo {
  readonly target: ScsiTarget;
  readonly wwn: string;
}

/**
 * dom0's emulated physical SCSI subsystem, built from a host config: hosts, targets, logical
 * units with their Linux names and WWNs, and the lookups the toolstack needs to resolve an
 * `xl` p-dev — `/dev/<name>`, `h:c:t:l`, or `naa.<16 hex>:<lun>`.
 *
 * The target port WWN of an emulated target (the `naa.` part of a p-dev, as in Linux
 * xen-scsiback where it names a TCM target port) is the config's `[target h:c:t] wwn`, or an
 * NAA 3 (locally assigned) value derived from `h:c:t`; the LUN after the colon is the unit's
 * LUN. A unit's own WWN (VPD page 83h) is likewise explicit or derived from its kind and address.
 *
 * All units are created by {@link open}; a bad image does not fail it (that unit reports NOT
 * READY and {@link InventoryEntry.fault} says why). {@link close} closes them all.
 */
export class Inventory {
  /** Units in scan order (host, channel, target, LUN). */
  readonly entries: readonly InventoryEntry[];
  /** Host adapter names. */
  readonly hosts: ReadonlyMap<number, string>;
  readonly source: string;
  private readonly byHctl = new Map<string, InventoryEntry>();
  private readonly byName = new Map<string, InventoryEntry>();
  private readonly byTargetWwn = new Map<string, TargetInfo>();
  private readonly claims = new Map<InventoryEntry, Set<string>>();
  private closed = false;

  private constructor(config: HostConfig, entries: InventoryEntry[], targets: Map<string, TargetInfo>) {
    this.source = config.source;
    this.entries = entries;
    const hosts = new Map(config.hosts);
    for (const e of entries) if (!hosts.has(e.hctl.host)) hosts.set(e.hctl.host, "pvscsi");
    this.hosts = hosts;
    for (const e of entries) {
      this.byHctl.set(formatHctl(e.hctl), e);
      if (e.names.dev) this.byName.set(e.names.dev, e);
      if (e.names.nst) this.byName.set(e.names.nst, e);
      this.byName.set(e.names.sg, e);
    }
    for (const t of targets.values()) this.byTargetWwn.set(t.wwn, t);
  }

  /**
   * Build from the built-in config ({@link DEFAULT_HOST_CONFIG}): its cartridges live under
   * `stateDir` (default {@link defaultStateDir}: `$PVSCSI_STATE_DIR`, else
   * `$XDG_STATE_HOME/pvscsi`, else `~/.local/state/pvscsi`). Nothing is written there until a
   * cartridge is first loaded or moved.
   */
  static openDefault(options: { stateDir?: string } = {}): Promise<Inventory> {
    const dir = options.stateDir ?? defaultStateDir();
    return Inventory.open(parseHostConfig(DEFAULT_HOST_CONFIG, DEFAULT_HOST_CONFIG_SOURCE, dir));
  }

  /** Build from a host config file. */
  static async openFile(path: string): Promise<Inventory> {
    return Inventory.open(await loadHostConfig(path));
  }

  /** Build from a parsed config; rejects (creating nothing) on a derived-WWN clash. */
  static async open(config: HostConfig): Promise<Inventory> {
    const sorted = [...config.devices].sort((a, b) => compareHctl(a.hctl, b.hctl));
    // Identities first, so a clash is reported before any device exists.
    const used = new Map<string, string>();
    for (const [hct, wwn] of config.targetWwns) used.set(wwn, `target ${hct}`);
    for (const d of config.devices) if (d.wwn) used.set(d.wwn, formatHctl(d.hctl));
    const targetWwn = new Map<string, string>();
    for (const d of sorted) {
      const hct = formatHct(d.hctl);
      if (targetWwn.has(hct)) continue;
      const wwn = config.targetWwns.get(hct) ?? derivedWwn(`target-port ${hct}`);
      if (!config.targetWwns.has(hct)) claim(used, wwn, `target ${hct}`, d.where);
      targetWwn.set(hct, wwn);
    }
    const wwnOf = new Map<DeviceConfig, string>();
    for (const d of sorted) {
      const wwn = d.wwn ?? derivedWwn(`${d.kind} ${formatHctl(d.hctl)}`);
      if (!d.wwn) claim(used, wwn, formatHctl(d.hctl), d.where);
      wwnOf.set(d, wwn);
    }
    const targets = new Map<string, TargetInfo>();
    const entries: InventoryEntry[] = [];
    const namer = new LinuxNamer();
    const created = new Map<DeviceConfig, Created>();
    try {
      // Changers last: they hold their drives.
      const tapes = new Map<string, TapeDrive>();
      for (const d of sorted) {
        if (d.kind === "changer") continue;
        const c = await createDevice(d, wwnOf.get(d)!);
        created.set(d, c);
        if (c.device instanceof TapeDrive) tapes.set(formatHctl(d.hctl), c.device);
      }
      for (const d of sorted) {
        if (d.kind === "changer") created.set(d, await createChanger(d, wwnOf.get(d)!, tapes));
      }
      for (const d of sorted) {
        const hct = formatHct(d.hctl);
        let t = targets.get(hct);
        if (!t) {
          const wwn = targetWwn.get(hct)!;
          t = { target: new ScsiTarget({ wwn }), wwn };
          targets.set(hct, t);
        }
        const wwn = wwnOf.get(d)!;
        const { device, info, fault } = created.get(d)!;
        t.target.attach(d.hctl.lun, device);
        const names = namer.next(info.type);
        entries.push({
          hctl: d.hctl,
          kind: d.kind,
          info,
          device,
          target: t.target,
          names,
          wwn,
          pdevWwn: `naa.${t.wwn}:${d.hctl.lun}`,
          shareable: d.shareable,
          fault,
        });
        if (fault) log("%s %s: %s", d.kind, formatHctl(d.hctl), fault);
      }
    } catch (e) {
      await Promise.allSettled([...created.values()].map((x) => x.device.close()));
      throw e;
    }
    return new Inventory(config, entries, targets);
  }

  /**
   * The unit a p-dev names: `/dev/sda` (or `sda`), `/dev/sr0`, `/dev/sg3`, `/dev/st0`,
   * `/dev/nst0`, `/dev/sch0`, `h:c:t:l`, or `naa.<16 hex>:<lun>`. Undefined when nothing matches.
   */
  find(pdev: string): InventoryEntry | undefined {
    const s = pdev.trim();
    const naa = /^naa\.([0-9a-fA-F]{16}):(\d+)$/.exec(s);
    if (naa) {
      const t = this.byTargetWwn.get(naa[1]!.toLowerCase());
      if (!t) return undefined;
      const lun = Number(naa[2]);
      return this.entries.find((e) => e.target === t.target && e.hctl.lun === lun);
    }
    const hctl = parseHctl(s, MAX_LUN);
    if (hctl) return this.byHctl.get(formatHctl(hctl));
    const name = s.startsWith("/dev/") ? s.slice(5) : s;
    return this.byName.get(name);
  }

  /** {@link find}, or an error naming the argument and the accepted forms. */
  resolve(pdev: string): InventoryEntry {
    const e = this.find(pdev);
    if (e) return e;
    const s = pdev.trim();
    const name = s.startsWith("/dev/") ? s.slice(5) : s;
    let why = "no such device in dom0's SCSI inventory";
    if (/^sd[a-z]+\d+$/.test(name)) why = "is a partition; PV SCSI passes whole SCSI devices";
    else if (/^naa\./i.test(s) && !/^naa\.[0-9a-fA-F]{16}:\d+$/.test(s))
      why = "expected naa.<16 hex digits>:<lun>";
    else if (/^sd[a-z]+$/.test(name) && sdIndex(name.slice(2)) >= 0) why = "no such disk";
    throw configError(
      `p-dev ${JSON.stringify(pdev)}`,
      `${why} (expected /dev/<sdX|srN|stN|nstN|schN|sgN>, h:c:t:l or naa.<wwn>:<lun>; known: ${this.entries
        .map((x) => formatHctl(x.hctl))
        .join(", ")})`,
    );
  }

  /** The `lsscsi -g`-like listing, in scan order. */
  list(): LsscsiRow[] {
    return this.entries.map((e) => ({
      hctl: formatHctl(e.hctl),
      type: lsscsiTypeName(e.info.type),
      typeCode: e.info.type,
      vendor: e.info.vendor,
      model: e.info.product,
      rev: e.info.revision,
      dev: e.names.dev ? `/dev/${e.names.dev}` : "-",
      sg: `/dev/${e.names.sg}`,
      wwn: e.wwn,
      pdev: e.pdevWwn,
      shareable: e.shareable,
    }));
  }

  /**
   * Record that `owner` (e.g. "dom3") uses `entry`; refuses a non-shareable unit another owner
   * already holds. The toolstack calls it on attach and {@link release} on detach or domain death.
   */
  claim(entry: InventoryEntry, owner: string): void {
    const owners = this.claims.get(entry) ?? new Set<string>();
    if (!entry.shareable && owners.size > 0 && !owners.has(owner)) {
      throw invalidState(
        `${formatHctl(entry.hctl)}${entry.names.dev ? ` (/dev/${entry.names.dev})` : ""}`,
        `is assigned to ${[...owners].join(", ")} and not shareable (set shareable = yes in the host config)`,
      );
    }
    owners.add(owner);
    this.claims.set(entry, owners);
  }

  /** Forget `owner`'s use of `entry`. */
  release(entry: InventoryEntry, owner: string): void {
    this.claims.get(entry)?.delete(owner);
  }

  /** Current owners of `entry`. */
  owners(entry: InventoryEntry): readonly string[] {
    return [...(this.claims.get(entry) ?? [])];
  }

  /** Close every unit (flushing file-backed ones). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const results = await Promise.allSettled(this.entries.map((e) => e.device.close()));
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }
}

/** Format rows like `lsscsi -g`. */
export function formatLsscsi(rows: readonly LsscsiRow[]): string {
  return rows.map((r) => `${formatLsscsiLine({ ...r, type: r.typeCode }, true)}\n`).join("");
}

/** NAA 3 (locally assigned) WWN from the SHA-256 of `what`: stable across runs. */
function derivedWwn(what: string): string {
  return `3${createHash("sha256").update(`pvscsi ${what}`).digest("hex").slice(0, 15)}`;
}

function claim(used: Map<string, string>, wwn: string, owner: string, where: string): void {
  const prev = used.get(wwn);
  if (prev && prev !== owner)
    throw configError(where, `derived wwn ${wwn} of ${owner} clashes with ${prev}; set wwn explicitly`);
  used.set(wwn, owner);
}

const DEFAULT_MODEL: Record<DeviceKind, string> = {
  disk: "VIRTUAL-DISK",
  cdrom: "VIRTUAL-CDROM",
  null: "NULL",
  tape: "VIRTUAL-TAPE",
  changer: "VIRTUAL-CHANGER",
};

const DEVICE_TYPE: Record<DeviceKind, number> = {
  disk: TYPE_DISK,
  cdrom: TYPE_ROM,
  null: TYPE_DISK,
  tape: TYPE_TAPE,
  changer: TYPE_MEDIUM_CHANGER,
};

/** A unit made from its section. */
interface Created {
  readonly device: ScsiDevice & TargetMember;
  readonly info: DeviceInfo;
  readonly fault: string | null;
}

function infoOf(d: DeviceConfig, wwn: string): DeviceInfo {
  return {
    type: DEVICE_TYPE[d.kind],
    vendor: d.vendor ?? "PVSCSI",
    product: d.model ?? DEFAULT_MODEL[d.kind],
    revision: d.rev ?? "0001",
    scsiLevel: 5,
    removable: d.kind === "cdrom" || d.kind === "tape" || d.kind === "changer",
    serial: d.serial ?? wwn.toUpperCase(),
    wwn,
  };
}

/** The cartridge library of a directory, making new cartridges as `c` says. */
function libraryOf(
  dir: string,
  c: CartridgeDefaults,
  writeProtected: readonly string[],
): FileCartridgeLibrary {
  return new FileCartridgeLibrary(dir, {
    capacity: c.capacity,
    ...(c.earlyWarningZone === undefined ? {} : { earlyWarning: c.capacity - c.earlyWarningZone }),
    writeProtected: new Set(writeProtected),
  });
}

/** A changer and the data transfer elements it is bound to (the drives exist already). */
async function createChanger(d: ChangerConfig, wwn: string, tapes: Map<string, TapeDrive>): Promise<Created> {
  const info = infoOf(d, wwn);
  const changer = await MediumChanger.open({
    info,
    slots: d.slots,
    importExport: d.importExport,
    transports: d.transports,
    drives: d.drives.map((h) => ({
      drive: tapes.get(formatHctl(h))!,
      target: h.target,
      lun: h.lun,
      sameBus: h.channel === d.hctl.channel,
    })),
    library: libraryOf(d.cartridges, d, d.writeProtect),
    barcodes: d.barcodes,
    stateFile: join(d.cartridges, `changer-${formatHctl(d.hctl).replaceAll(":", "-")}.json`),
  });
  return { device: changer, info, fault: changer.fault };
}

async function createDevice(d: DeviceConfig, wwn: string): Promise<Created> {
  const info = infoOf(d, wwn);
  switch (d.kind) {
    case "tape": {
      const drive = new TapeDrive({ info, generation: d.generation });
      if (d.load !== null && d.cartridges !== null) {
        const lib = libraryOf(d.cartridges, d, d.writeProtect ? [d.load] : []);
        drive.insert(await lib.openAsync(d.load));
      }
      return { device: drive, info, fault: drive.fault };
    }
    case "changer":
      throw invalidArgument("device kind", "not a changer (made by createChanger)", d.kind);
    case "null":
      return { device: new NullDevice(info), info, fault: null };
    case "cdrom": {
      const cd = d.file ? await Cdrom.iso(info, d.file) : new Cdrom(info);
      return { device: cd, info, fault: cd.fault };
    }
    case "disk": {
      const options = { thin: d.thin, readOnly: d.readOnly, writeCache: d.writeCache };
      const disk =
        d.file === null
          ? Disk.ram(info, d.size! / d.blockSize, d.blockSize, options)
          : await Disk.file(info, d.file, {
              ...options,
              blockSize: d.blockSize,
              size: d.size,
              create: d.create,
            });
      return { device: disk, info, fault: disk.fault };
    }
    default:
      throw invalidArgument("device kind", "disk, cdrom, null or tape", (d as { kind: string }).kind);
  }
}
