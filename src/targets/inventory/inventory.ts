import { createHash } from "node:crypto";
import { stat } from "node:fs/promises";
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
import { type ImageLock, type LockOptions, lockImage } from "../image-lock.js";
import { IscsiInitiatorDevice } from "../iscsi-initiator-device.js";
import { Cdrom } from "../mmc/cdrom.js";
import { NullDevice } from "../null-device.js";
import { Disk } from "../sbc/disk.js";
import { FileStore } from "../sbc/file-store.js";
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
  type IscsiConfig,
  type IscsiTargetConfig,
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
  /**
   * Why the unit cannot serve data (missing or bad image, image locked by another host), or null.
   * {@link Inventory.reopen} retries the open and updates it.
   */
  readonly fault: string | null;
}

/** Options of {@link Inventory.open}: how images are locked against other hosts. */
export interface InventoryOptions {
  /** This host's name in another host's "in use" error (default: the host config's name). */
  readonly lockOwner?: string;
  /** The lock folder (default `defaultLockDir()` of `image-lock.ts`). */
  readonly lockDir?: string;
}

/** How this inventory locks the files it writes. */
interface Locking {
  readonly owner: string;
  readonly dir: string | undefined;
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
  /** Why the unit cannot serve data, or null (see {@link InventoryEntry.fault}). */
  readonly fault: string | null;
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
  private readonly _entries: InventoryEntry[];
  /** Host adapter names. */
  readonly hosts: ReadonlyMap<number, string>;
  readonly source: string;
  private readonly byHctl = new Map<string, InventoryEntry>();
  private readonly byName = new Map<string, InventoryEntry>();
  private readonly byTargetWwn = new Map<string, TargetInfo>();
  private readonly claims = new Map<InventoryEntry, Set<string>>();
  private closed = false;
  /** What {@link reopen} needs of each unit: its section, WWN, and the locks it holds. */
  private readonly made: Map<InventoryEntry, Made>;
  /** A reopen in progress, by unit: concurrent attaches share it. */
  private readonly reopening = new Map<InventoryEntry, Promise<string | null>>();
  /** `[iscsi-target]` sections, rescanned by {@link rescan}. */
  private readonly iscsiTargets: readonly IscsiTargetConfig[];
  /** Targets by "h:c:t". */
  private readonly targetsByHct: Map<string, TargetInfo>;
  /** One rescan at a time. */
  private rescanning: Promise<unknown> = Promise.resolve();

  private constructor(
    config: HostConfig,
    entries: InventoryEntry[],
    targets: Map<string, TargetInfo>,
    made: Map<InventoryEntry, Made>,
    private readonly locking: Locking,
    private readonly namer: LinuxNamer,
  ) {
    this.made = made;
    this.source = config.source;
    this._entries = entries;
    this.iscsiTargets = config.iscsiTargets;
    this.targetsByHct = targets;
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
  static openDefault(options: { stateDir?: string } & InventoryOptions = {}): Promise<Inventory> {
    const dir = options.stateDir ?? defaultStateDir();
    return Inventory.open(parseHostConfig(DEFAULT_HOST_CONFIG, DEFAULT_HOST_CONFIG_SOURCE, dir), options);
  }

  /** Build from a host config file. */
  static async openFile(path: string, options: InventoryOptions = {}): Promise<Inventory> {
    return Inventory.open(await loadHostConfig(path), options);
  }

  /**
   * Build from a parsed config; rejects (creating nothing) on a derived-WWN clash. A unit that
   * cannot be opened does not fail it: the unit reports NOT READY and its `fault` says why.
   *
   * Files a unit writes — a writable disk image, a tape cartridge while loaded, a changer's state
   * file — are locked for as long as the unit uses them, as QEMU locks its images
   * (`block/file-posix.c`), so that a second host on the same config does not write them too:
   * there the unit is faulted with "in use by another pvscsi host (...)". A read-only image
   * (a CD-ROM, `read-only = yes`) is not locked, and neither is a unit declared `shareable = yes`
   * (both hosts must then coordinate, as with QEMU's `file.locking=off`).
   */
  static async open(config: HostConfig, options: InventoryOptions = {}): Promise<Inventory> {
    const locking: Locking = {
      owner: options.lockOwner ?? `host config ${config.source}`,
      dir: options.lockDir,
    };
    // Each [iscsi-target]'s LUNs, as its target reports them now (none while unreachable).
    const remote = new Set<DeviceConfig>();
    for (const t of config.iscsiTargets) {
      let luns: number[] = [];
      try {
        luns = await IscsiInitiatorDevice.reportLuns(lunConfig(t.unit));
      } catch (e) {
        log("iscsi-target %s: %s", formatHct(t.unit.hctl), (e as Error).message);
      }
      for (const lun of luns) remote.add(unitOf(t, lun));
    }
    const sorted = [...config.devices, ...remote].sort((a, b) => compareHctl(a.hctl, b.hctl));
    // Bound to the inventory once it exists (the units are made first).
    const notify = { lunsChanged: (_host: number): void => {} };
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
    const made = new Map<InventoryEntry, Made>();
    try {
      // Changers last: they hold their drives.
      const tapes = new Map<string, TapeDrive>();
      for (const d of [...sorted]) {
        if (d.kind === "changer") continue;
        const c = await createDevice(
          d,
          wwnOf.get(d)!,
          locking,
          remote.has(d) ? () => notify.lunsChanged(d.hctl.host) : undefined,
        );
        if (remote.has(d) && c.info.type === TYPE_STORAGE_ARRAY) {
          // A target's controller LU (tgtd's LUN 0): Linux gives it no upper driver; no unit here.
          await c.device.close();
          sorted.splice(sorted.indexOf(d), 1);
          continue;
        }
        created.set(d, c);
        if (c.device instanceof TapeDrive) tapes.set(formatHctl(d.hctl), c.device);
      }
      for (const d of sorted) {
        if (d.kind === "changer") created.set(d, await createChanger(d, wwnOf.get(d)!, tapes, locking));
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
        const { device, info, fault, locks } = created.get(d)!;
        t.target.attach(d.hctl.lun, device);
        const names = namer.next(info.type);
        const entry: InventoryEntry = {
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
        };
        entries.push(entry);
        made.set(entry, { config: d, wwn, locks });
        if (fault) log("%s %s: %s", d.kind, formatHctl(d.hctl), fault);
      }
    } catch (e) {
      await Promise.allSettled([...created.values()].map((x) => x.device.close()));
      for (const c of created.values()) for (const l of c.locks) l.release();
      throw e;
    }
    const inventory = new Inventory(config, entries, targets, made, locking, namer);
    notify.lunsChanged = (host) => inventory.lunsChanged(host);
    return inventory;
  }

  /**
   * Told when units of this inventory change by themselves — an `[iscsi-target]` reported
   * 06/3F/0E REPORTED LUNS DATA HAS CHANGED and the rescan it caused added or removed units —
   * with the host and what changed. Null: nobody listens.
   */
  onChange: ((host: number, change: { added: string[]; removed: string[] }) => void) | null = null;

  /** Rescans under way or queued (their network I/O needs the event loop). */
  private pendingRescans = 0;
  /** Hosts with a unit-attention rescan queued and not yet started. */
  private readonly queuedHosts = new Set<number>();

  /** True while a rescan is running or queued: the kernel must keep its event loop turning. */
  get busy(): boolean {
    return this.pendingRescans > 0;
  }

  /**
   * A unit of `host`'s remote target reported 06/3F/0E: rescan that host (once per burst; the
   * target queues the attention on every nexus) and tell {@link onChange} if units changed.
   */
  lunsChanged(host: number): void {
    if (this.closed || this.queuedHosts.has(host)) return;
    this.queuedHosts.add(host);
    this.pendingRescans++;
    void this.rescanning
      .then(() => {
        this.queuedHosts.delete(host);
        return this.rescan(host);
      })
      .then(
        (change) => {
          if (change.added.length + change.removed.length > 0) this.onChange?.(host, change);
        },
        (e: unknown) => log("rescan of host %d: %s", host, (e as Error).message),
      )
      .finally(() => {
        this.pendingRescans--;
      });
  }

  /** Units in scan order (host, channel, target, LUN). */
  get entries(): readonly InventoryEntry[] {
    return this._entries;
  }

  /**
   * Ask every `[iscsi-target]` (on `host`, or all) for its LUNs again, as Linux's
   * `iscsiadm -m session --rescan` does: a LUN that appeared becomes a unit at h:c:t:<LUN> with
   * the next Linux names, a unit whose LUN is gone is removed (its device closed). A target that
   * cannot be reached is left as it is. Returns the h:c:t:l of units added and removed.
   */
  rescan(host?: number): Promise<{ added: string[]; removed: string[] }> {
    const run = this.rescanning.then(() => this.doRescan(host));
    this.rescanning = run.catch(() => undefined);
    return run;
  }

  private async doRescan(host: number | undefined): Promise<{ added: string[]; removed: string[] }> {
    const added: string[] = [];
    const removed: string[] = [];
    for (const t of this.iscsiTargets) {
      if (this.closed) break;
      if (host !== undefined && t.unit.hctl.host !== host) continue;
      const hct = formatHct(t.unit.hctl);
      let luns: number[];
      try {
        luns = await IscsiInitiatorDevice.reportLuns(lunConfig(t.unit));
      } catch (e) {
        log("rescan of iscsi-target %s: %s", hct, (e as Error).message);
        continue;
      }
      const have = this._entries.filter((e) => formatHct(e.hctl) === hct);
      for (const e of have) {
        if (luns.includes(e.hctl.lun)) continue;
        await this.removeUnit(e);
        removed.push(formatHctl(e.hctl));
      }
      for (const lun of luns) {
        if (have.some((e) => e.hctl.lun === lun)) continue;
        const d = unitOf(t, lun);
        const wwn = derivedWwn(`${d.kind} ${formatHctl(d.hctl)}`);
        const c = await createDevice(d, wwn, this.locking, () => this.lunsChanged(d.hctl.host));
        if (c.info.type === TYPE_STORAGE_ARRAY || this.closed) {
          await c.device.close();
          continue;
        }
        this.addUnit(d, c, wwn);
        added.push(formatHctl(d.hctl));
      }
    }
    return { added, removed };
  }

  private addUnit(d: DeviceConfig, c: Created, wwn: string): void {
    const hct = formatHct(d.hctl);
    let t = this.targetsByHct.get(hct);
    if (!t) {
      const twwn = derivedWwn(`target-port ${hct}`);
      t = { target: new ScsiTarget({ wwn: twwn }), wwn: twwn };
      this.targetsByHct.set(hct, t);
      this.byTargetWwn.set(twwn, t);
    }
    t.target.attach(d.hctl.lun, c.device);
    const names = this.namer.next(c.info.type);
    const entry: InventoryEntry = {
      hctl: d.hctl,
      kind: d.kind,
      info: c.info,
      device: c.device,
      target: t.target,
      names,
      wwn,
      pdevWwn: `naa.${t.wwn}:${d.hctl.lun}`,
      shareable: d.shareable,
      fault: c.fault,
    };
    this._entries.push(entry);
    this._entries.sort((a, b) => compareHctl(a.hctl, b.hctl));
    this.made.set(entry, { config: d, wwn, locks: c.locks });
    this.byHctl.set(formatHctl(entry.hctl), entry);
    if (names.dev) this.byName.set(names.dev, entry);
    if (names.nst) this.byName.set(names.nst, entry);
    this.byName.set(names.sg, entry);
    log("%s %s: added by rescan", d.kind, formatHctl(d.hctl));
  }

  private async removeUnit(e: InventoryEntry): Promise<void> {
    e.target.detach(e.hctl.lun);
    this._entries.splice(this._entries.indexOf(e), 1);
    this.byHctl.delete(formatHctl(e.hctl));
    for (const n of [e.names.dev, e.names.nst, e.names.sg]) if (n) this.byName.delete(n);
    const m = this.made.get(e);
    this.made.delete(e);
    this.claims.delete(e);
    await e.device.close().catch(() => undefined);
    for (const l of m?.locks ?? []) l.release();
    log("%s %s: removed by rescan", e.kind, formatHctl(e.hctl));
  }

  /**
   * Try again to open a unit that could not be opened (its image was missing, unreadable, or
   * locked by another host): on success the unit is replaced in its target and its `fault`
   * cleared, so that an attach after the user fixed the cause works without restarting the host.
   * Returns the unit's fault after the attempt (null: usable). A changer and the drives it holds
   * are not reopened (their placement lives in the changer); they keep their fault.
   */
  reopen(entry: InventoryEntry): Promise<string | null> {
    if (entry.fault === null || this.closed) return Promise.resolve(entry.fault);
    const running = this.reopening.get(entry);
    if (running) return running;
    const p = this.doReopen(entry).finally(() => this.reopening.delete(entry));
    this.reopening.set(entry, p);
    return p;
  }

  private async doReopen(entry: InventoryEntry): Promise<string | null> {
    const m = this.made.get(entry);
    const d = m?.config;
    if (!m || !d || d.kind === "changer" || (d.kind === "tape" && d.changer !== null)) return entry.fault;
    const c = await createDevice(d, m.wwn, this.locking);
    if (c.fault !== null) {
      await c.device.close().catch(() => undefined);
      for (const l of c.locks) l.release();
      (entry as { fault: string | null }).fault = c.fault;
      return c.fault;
    }
    const old = entry.device;
    entry.target.detach(entry.hctl.lun);
    entry.target.attach(entry.hctl.lun, c.device);
    for (const l of m.locks) l.release();
    m.locks = c.locks;
    Object.assign(entry as { device: ScsiDevice & TargetMember; fault: string | null }, {
      device: c.device,
      fault: null,
    });
    await old.close().catch(() => undefined);
    log("%s %s: reopened", d.kind, formatHctl(d.hctl));
    return null;
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
      fault: e.fault,
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
    await Promise.allSettled(this.reopening.values());
    const results = await Promise.allSettled(this.entries.map((e) => e.device.close()));
    for (const m of this.made.values()) for (const l of m.locks) l.release();
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }
}

/**
 * Format rows like `lsscsi -g`; a unit that cannot be used gets a second line saying why (Linux
 * logs such a unit's NOT READY at scan time; here the host says it where the devices are listed).
 */
export function formatLsscsi(rows: readonly LsscsiRow[]): string {
  return rows
    .map(
      (r) =>
        `${formatLsscsiLine({ ...r, type: r.typeCode }, true)}\n${r.fault ? `    ^ not ready: ${r.fault}\n` : ""}`,
    )
    .join("");
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
  iscsi: "ISCSI-LUN",
};

const DEVICE_TYPE: Record<DeviceKind, number> = {
  disk: TYPE_DISK,
  cdrom: TYPE_ROM,
  null: TYPE_DISK,
  tape: TYPE_TAPE,
  changer: TYPE_MEDIUM_CHANGER,
  iscsi: TYPE_DISK,
};

/** A unit made from its section. */
interface Created {
  readonly device: ScsiDevice & TargetMember;
  readonly info: DeviceInfo;
  readonly fault: string | null;
  /** Locks the unit holds for its lifetime (a cartridge's lock goes with the cartridge). */
  readonly locks: ImageLock[];
}

/** INQUIRY peripheral device type 0Ch, a storage array controller (SPC-4 table 49). */
const TYPE_STORAGE_ARRAY = 0x0c;

/** The initiator device's config for an `[iscsi]` unit (or an `[iscsi-target]`'s template). */
function lunConfig(d: IscsiConfig) {
  return {
    portal: d.portal,
    target: d.target,
    lun: d.lun,
    initiatorName: d.initiator,
    perNexusInitiator: d.perVhbaInitiator,
    ...(d.chap ? { chap: d.chap } : {}),
  };
}

/** LUN `lun` of an `[iscsi-target]` as an `[iscsi h:c:t:lun]` unit. */
function unitOf(t: IscsiTargetConfig, lun: number): IscsiConfig {
  return { ...t.unit, hctl: { ...t.unit.hctl, lun }, lun };
}

/** What {@link Inventory.reopen} needs to make a unit again. */
interface Made {
  readonly config: DeviceConfig;
  readonly wwn: string;
  locks: ImageLock[];
}

/** The lock function of a cartridge library, or none for a shareable unit. */
function cartridgeLock(shareable: boolean, locking: Locking): ((path: string) => ImageLock) | undefined {
  if (shareable) return undefined;
  return (path) => lockImage(path, lockOptions(locking));
}

function lockOptions(locking: Locking, name?: string): LockOptions {
  return {
    owner: locking.owner,
    ...(locking.dir === undefined ? {} : { dir: locking.dir }),
    ...(name === undefined ? {} : { name }),
  };
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
  lock: ((path: string) => ImageLock) | undefined,
): FileCartridgeLibrary {
  return new FileCartridgeLibrary(dir, {
    capacity: c.capacity,
    ...(c.earlyWarningZone === undefined ? {} : { earlyWarning: c.capacity - c.earlyWarningZone }),
    writeProtected: new Set(writeProtected),
    ...(lock ? { lock } : {}),
  });
}

/** A changer and the data transfer elements it is bound to (the drives exist already). */
async function createChanger(
  d: ChangerConfig,
  wwn: string,
  tapes: Map<string, TapeDrive>,
  locking: Locking,
): Promise<Created> {
  const info = infoOf(d, wwn);
  const stateName = `changer-${formatHctl(d.hctl).replaceAll(":", "-")}.json`;
  // The state file (and its folder) may not exist yet: lock its name, not its inode. Nothing is
  // created here: the folder is made when a cartridge is first loaded or moved.
  let fault: string | null = null;
  const locks: ImageLock[] = [];
  const st = await stat(d.cartridges).catch(() => null);
  if (st !== null && !st.isDirectory()) fault = `cartridges folder ${d.cartridges}: is not a directory`;
  else if (!d.shareable) {
    try {
      locks.push(lockImage(d.cartridges, lockOptions(locking, stateName)));
    } catch (e) {
      fault = (e as Error).message;
    }
  }
  const changer = await MediumChanger.open({
    fault,
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
    library: libraryOf(d.cartridges, d, d.writeProtect, cartridgeLock(d.shareable, locking)),
    barcodes: d.barcodes,
    stateFile: join(d.cartridges, stateName),
  });
  return { device: changer, info, fault: changer.fault, locks };
}

async function createDevice(
  d: DeviceConfig,
  wwn: string,
  locking: Locking,
  onLunsChanged?: () => void,
): Promise<Created> {
  const info = infoOf(d, wwn);
  switch (d.kind) {
    case "tape": {
      const drive = new TapeDrive({ info, generation: d.generation });
      if (d.load !== null && d.cartridges !== null) {
        const lib = libraryOf(
          d.cartridges,
          d,
          d.writeProtect ? [d.load] : [],
          cartridgeLock(d.shareable, locking),
        );
        drive.insert(await lib.openAsync(d.load));
      }
      return { device: drive, info, fault: drive.fault, locks: [] };
    }
    case "changer":
      throw invalidArgument("device kind", "not a changer (made by createChanger)", d.kind);
    case "null":
      return { device: new NullDevice(info), info, fault: null, locks: [] };
    case "cdrom": {
      const cd = d.file ? await Cdrom.iso(info, d.file) : new Cdrom(info);
      return { device: cd, info, fault: cd.fault, locks: [] };
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
      if (disk.fault !== null || d.file === null || d.readOnly || d.shareable)
        return { device: disk, info, fault: disk.fault, locks: [] };
      try {
        return { device: disk, info, fault: null, locks: [lockImage(d.file, lockOptions(locking))] };
      } catch (e) {
        await disk.close();
        const why = (e as Error).message;
        const locked = new Disk({
          ...options,
          info,
          blockSize: d.blockSize,
          store: FileStore.faulty(d.file, why),
        });
        return { device: locked, info, fault: why, locks: [] };
      }
    }
    case "iscsi": {
      // The LU's own identity (INQUIRY, VPD) names it in dom0's inventory; a target that cannot
      // be reached now leaves a unit that logs in on its next command (NOT READY until then).
      const cfg = { ...lunConfig(d), ...(onLunsChanged ? { onLunsChanged } : {}) };
      try {
        const dev = await IscsiInitiatorDevice.open(cfg);
        return { device: dev, info: dev.info, fault: null, locks: [] };
      } catch (e) {
        const dev = IscsiInitiatorDevice.offline(cfg, info);
        return { device: dev, info, fault: (e as Error).message, locks: [] };
      }
    }
    default:
      throw invalidArgument("device kind", "disk, cdrom, null or tape", (d as { kind: string }).kind);
  }
}
