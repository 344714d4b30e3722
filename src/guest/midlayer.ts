import { linuxDeviceType } from "../scsi/device-type.js";
import { formatLsscsiLine } from "../scsi/lsscsi-format.js";
import { DID_OK, DID_RESET } from "../scsifront/host-byte.js";
import type {
  FrontCommand,
  GuestScsiHost,
  ScsiMidlayer,
  ScsiRequest,
  ScsiResult,
} from "../scsifront/scsi-host.js";

/** The host byte scsifront's resume completes in-flight commands with (the midlayer retries it). */
export { DID_RESET } from "../scsifront/host-byte.js";
/** Linux's `enum dma_data_direction`, as a command's `sc_data_direction` carries it. */
export { DMA_FROM_DEVICE, DMA_NONE, DMA_TO_DEVICE } from "../vscsiif/constants.js";

import { VSCSIIF_ACT_SCSI_CDB } from "../vscsiif/constants.js";
import { invalidArgument } from "../xen/errors.js";

/*
 * The low-level driver's types userland sees, re-exported so that guest/userland reaches the
 * ring only through the midlayer and the host it hands out (as Linux userland reaches
 * xen-scsifront only through /dev/sg and the block and tape devices).
 */
export type {
  FrontCommand,
  GuestScsiHost,
  RawRequestFields,
  RawResult,
  RawSegment,
  ScsiRequest,
  ScsiResult,
} from "../scsifront/scsi-host.js";

/** Linux's `SD_MAX_RETRIES`: how often the block layer retries a command the midlayer says to. */
export const MAX_RETRIES = 5;

/** A device the guest has added (Linux's `scsi_device`), with the names its upper drivers gave it. */
export interface GuestScsiDevice {
  readonly host: GuestScsiHost;
  readonly channel: number;
  readonly id: number;
  readonly lun: number;
  /** Peripheral device type (INQUIRY byte 0, bits 4-0). */
  readonly type: number;
  readonly removable: boolean;
  readonly vendor: string;
  readonly model: string;
  readonly rev: string;
  /** Linux's `scsi_level` (the ANSI version plus one for SCSI-2 and later). */
  readonly scsiLevel: number;
  /** `/dev/sdX`, `/dev/srN`, `/dev/stN`, `/dev/schN`, or null for types without an upper driver. */
  readonly devNode: string | null;
  /** The non-rewinding tape node, `/dev/nstN`, for tapes. */
  readonly nonRewindNode: string | null;
  /** `/dev/sgN`: every device has one. */
  readonly sgNode: string;
}

/** A {@link GuestScsiDevice} as data (a resumed kernel keeps its devices and their names). */
export interface SavedScsiDevice extends Omit<GuestScsiDevice, "host"> {
  readonly hostNo: number;
  readonly indexes: Readonly<Record<string, number>>;
}

/** Lowest free index, as Linux's IDAs hand out sd, sr, st, sch and sg minor numbers. */
class IndexPool {
  private readonly used = new Set<number>();
  take(): number {
    let i = 0;
    while (this.used.has(i)) i++;
    this.used.add(i);
    return i;
  }
  reserve(i: number): void {
    this.used.add(i);
  }
  give(i: number): void {
    this.used.delete(i);
  }
}

/** `sd_format_disk_name`: 0 → a, 25 → z, 26 → aa, 701 → zz, 702 → aaa. */
export function sdName(index: number): string {
  let name = "";
  let n = index;
  do {
    name = String.fromCharCode(97 + (n % 26)) + name;
    n = Math.floor(n / 26) - 1;
  } while (n >= 0);
  return `sd${name}`;
}

/**
 * The guest's SCSI midlayer and upper drivers, reduced to what a user sees: devices added when
 * the backend announces them (an INQUIRY decides the type and identity), named by sd/sr/st/ch/sg
 * in Linux's order, and listed as `/proc/scsi/scsi` and `lsscsi` print them.
 */
export class GuestScsi implements ScsiMidlayer {
  /**
   * Commands the upper drivers sent again because they completed with DID_RESET — after a
   * resume, the commands scsifront found in flight (`scsifront_finish_all`). Each retry counts once.
   */
  resetRetries = 0;
  /** Commands a resumed kernel carried over whose issuer stayed behind ({@link adopt}). */
  carried = 0;
  /** Of those, how many completed. */
  carriedCompletions = 0;
  /** Of those, how many did not end GOOD. */
  carriedFailures = 0;
  private readonly devices: Array<GuestScsiDevice & { indexes: Record<string, number> }> = [];
  private readonly hosts = new Map<number, GuestScsiHost>();
  private readonly pools = {
    sd: new IndexPool(),
    sr: new IndexPool(),
    st: new IndexPool(),
    sch: new IndexPool(),
    sg: new IndexPool(),
  };

  /** Devices in (host, channel, id, lun) order. */
  list(): readonly GuestScsiDevice[] {
    return [...this.devices].sort(
      (a, b) => a.host.hostNo - b.host.hostNo || a.channel - b.channel || a.id - b.id || a.lun - b.lun,
    );
  }

  /**
   * `scsi_add_device`: INQUIRY the LUN and, if a device answers, register and name it. Rejects
   * when nothing answers (the frontend then reports the device as Closed).
   */
  async addDevice(host: GuestScsiHost, channel: number, id: number, lun: number): Promise<GuestScsiDevice> {
    const existing = this.find(host.hostNo, channel, id, lun);
    if (existing) return existing;
    const r = await host.execute({ channel, id, lun, cdb: [0x12, 0, 0, 0, 96, 0], dataInLength: 96 });
    if (r.host !== DID_OK || r.status !== 0 || r.data.length < 5) {
      throw new Error(
        `scsi ${host.hostNo}:${channel}:${id}:${lun}: INQUIRY failed (host 0x${r.host.toString(16)}, status 0x${r.status.toString(16)})`,
      );
    }
    const inq = new Uint8Array(36);
    inq.set(r.data.subarray(0, 36));
    if (inq[0]! >> 5 !== 0)
      throw new Error(
        `scsi ${host.hostNo}:${channel}:${id}:${lun}: no logical unit (peripheral qualifier ${inq[0]! >> 5})`,
      );
    const type = inq[0]! & 0x1f;
    let scsiLevel = inq[2]! & 0x0f;
    if (scsiLevel >= 2 || (scsiLevel === 1 && (inq[3]! & 0x0f) === 1)) scsiLevel++;
    const indexes: Record<string, number> = { sg: this.pools.sg.take() };
    let devNode: string | null = null;
    let nonRewindNode: string | null = null;
    if (type === 0x00 || type === 0x07 || type === 0x0e || type === 0x14) {
      indexes.sd = this.pools.sd.take();
      devNode = `/dev/${sdName(indexes.sd)}`;
    } else if (type === 0x05 || type === 0x04) {
      indexes.sr = this.pools.sr.take();
      devNode = `/dev/sr${indexes.sr}`;
    } else if (type === 0x01) {
      indexes.st = this.pools.st.take();
      devNode = `/dev/st${indexes.st}`;
      nonRewindNode = `/dev/nst${indexes.st}`;
    } else if (type === 0x08) {
      indexes.sch = this.pools.sch.take();
      devNode = `/dev/sch${indexes.sch}`;
    }
    const dev = {
      host,
      channel,
      id,
      lun,
      type,
      removable: (inq[1]! & 0x80) !== 0,
      vendor: ascii(inq, 8, 8),
      model: ascii(inq, 16, 16),
      rev: ascii(inq, 32, 4),
      scsiLevel,
      devNode,
      nonRewindNode,
      sgNode: `/dev/sg${indexes.sg}`,
      indexes,
    };
    this.devices.push(dev);
    await this.upperProbe(dev);
    return dev;
  }

  /**
   * What the upper driver sends when it binds (and so where the first unit attention of a new
   * nexus — 06/29/00 — is met and consumed, as Linux's drivers retry it): sd spins up with TEST
   * UNIT READY and reads the capacity; ch reads the element address assignment page; sr reads
   * its capacity; st sends nothing until the tape is opened. Failures other than a unit
   * attention are left for the user's commands to meet (a changer or tape may be not ready).
   */
  private async upperProbe(dev: GuestScsiDevice): Promise<void> {
    const probes: Array<{ cdb: number[]; dataInLength?: number }> = [];
    if (dev.devNode?.startsWith("/dev/sd")) {
      probes.push(
        { cdb: [0x00, 0, 0, 0, 0, 0] },
        { cdb: [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], dataInLength: 8 },
      );
    } else if (dev.devNode?.startsWith("/dev/sch")) {
      probes.push({ cdb: [0x1a, 0x08, 0x1d, 0, 255, 0], dataInLength: 255 });
    } else if (dev.devNode?.startsWith("/dev/sr")) {
      probes.push(
        { cdb: [0x00, 0, 0, 0, 0, 0] },
        { cdb: [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], dataInLength: 8 },
      );
    }
    for (const p of probes) {
      const req = { ...p, channel: dev.channel, id: dev.id, lun: dev.lun };
      let r = await dev.host.execute(req);
      for (let i = 0; i < 3 && isUnitAttention(r); i++) r = await dev.host.execute(req);
    }
  }

  /**
   * A command from an upper driver (sd, sr), with the retries Linux's `scsi_io_completion`
   * applies: DID_RESET on any device (what scsifront's resume answers for commands in flight); a UNIT ATTENTION on a non-removable device (06/29/00 after a reset or a new nexus,
   * 06/3F/0E after a LUN change, 06/2A/xx) is retried, up to {@link MAX_RETRIES} times; on a
   * removable device it is passed up (the medium may have changed). Tools that speak SCSI
   * directly (sg_inq, mt, mtx) use `host.execute`, which, like SG_IO, retries nothing.
   */
  async execute(dev: GuestScsiDevice, req: Omit<ScsiRequest, "channel" | "id" | "lun">): Promise<ScsiResult> {
    const full: ScsiRequest = { ...req, channel: dev.channel, id: dev.id, lun: dev.lun };
    let r = await dev.host.execute(full);
    for (let i = 0; i < MAX_RETRIES && this.retryable(dev, r); i++) {
      if (r.host === DID_RESET) this.resetRetries++;
      r = await dev.host.execute(full);
    }
    return r;
  }

  /**
   * Whether `scsi_io_completion_action` retries this result: DID_RESET always (a bus reset, or
   * scsifront's resume: "Just retry the command and see what happens"), a unit attention on a
   * non-removable device. The caller bounds the retries by {@link MAX_RETRIES}.
   */
  retryable(dev: GuestScsiDevice, r: ScsiResult): boolean {
    return r.host === DID_RESET || (!dev.removable && isUnitAttention(r));
  }

  /**
   * A command a resumed kernel carried over while its issuer did not come along (a guest
   * command of the source's process): it is retried on DID_RESET like any other — as the
   * midlayer would for the waiting process — then its pages are given back. Counted in
   * {@link carriedCompletions}.
   */
  adopt(host: GuestScsiHost, cmd: FrontCommand): void {
    let retries = 0;
    this.carried++;
    cmd.onComplete = (c) => {
      const dev = this.find(host.hostNo, c.channel, c.id, c.lun);
      const r = { host: c.host, status: c.status, sense: c.sense.subarray(0, c.senseLength) };
      // The retries sd would apply: DID_RESET, and the new nexus's unit attention (06/29/00)
      // that the first commands on the new backend meet, on a non-removable device.
      const retry =
        c.act === VSCSIIF_ACT_SCSI_CDB &&
        retries < MAX_RETRIES &&
        (c.host === DID_RESET || (dev !== undefined && !dev.removable && isUnitAttention(r as ScsiResult)));
      if (retry) {
        retries++;
        if (c.host === DID_RESET) this.resetRetries++;
        host.requeue(c);
        return;
      }
      this.carriedCompletions++;
      if (c.host !== DID_OK || c.status !== 0) this.carriedFailures++;
      if (host.hostError === null)
        for (let i = 0; i < c.frameCount; i++) host.guestMemory.freeFrame(c.frames[i]!);
    };
  }

  /** The devices as data, names included, for a kernel saved to resume elsewhere. */
  saveDevices(): SavedScsiDevice[] {
    return this.devices.map((d) => ({
      hostNo: d.host.hostNo,
      channel: d.channel,
      id: d.id,
      lun: d.lun,
      type: d.type,
      removable: d.removable,
      vendor: d.vendor,
      model: d.model,
      rev: d.rev,
      scsiLevel: d.scsiLevel,
      devNode: d.devNode,
      nonRewindNode: d.nonRewindNode,
      sgNode: d.sgNode,
      indexes: { ...d.indexes },
    }));
  }

  /**
   * A resumed kernel's devices, as {@link saveDevices} wrote them: the same names on the same
   * hosts, no INQUIRY (the LUNs are re-added by READD_LUN, not scanned). Devices whose host
   * did not come back are dropped.
   */
  restoreDevices(
    saved: readonly SavedScsiDevice[],
    hostOf: (hostNo: number) => GuestScsiHost | undefined,
  ): void {
    for (const s of saved) {
      const host = hostOf(s.hostNo);
      if (host === undefined || this.find(s.hostNo, s.channel, s.id, s.lun)) continue;
      for (const [pool, index] of Object.entries(s.indexes)) {
        const p = this.pools[pool as keyof typeof this.pools];
        if (p === undefined) continue;
        p.reserve(index);
      }
      const { hostNo: _h, ...rest } = s;
      this.devices.push({ ...rest, host, indexes: { ...s.indexes } });
    }
  }

  /** `scsi_remove_device`: forget the device and free its names for reuse. */
  removeDevice(hostNo: number, channel: number, id: number, lun: number): boolean {
    const i = this.devices.findIndex(
      (d) => d.host.hostNo === hostNo && d.channel === channel && d.id === id && d.lun === lun,
    );
    if (i < 0) return false;
    const [dev] = this.devices.splice(i, 1);
    for (const [pool, index] of Object.entries(dev!.indexes))
      this.pools[pool as keyof typeof this.pools].give(index);
    return true;
  }

  /** A SCSI host came up (`scsi_add_host`): commands can be addressed to it by h:c:t:l. */
  addHost(host: GuestScsiHost): void {
    this.hosts.set(host.hostNo, host);
  }

  /** Remove a host and every device on it (the host went away). */
  removeHost(hostNo: number): void {
    for (const d of this.list())
      if (d.host.hostNo === hostNo) this.removeDevice(hostNo, d.channel, d.id, d.lun);
    this.hosts.delete(hostNo);
  }

  /**
   * Where a command goes: a device by name (as {@link resolve}), or any `h:c:t:l` on a host that
   * exists, device or not — as SG_IO through a host lets a guest address any LUN, which is how
   * one probes what the backend lets through.
   */
  resolveAddress(name: string): {
    readonly host: GuestScsiHost;
    readonly channel: number;
    readonly id: number;
    readonly lun: number;
  } {
    const hctl = /^(\d+):(\d+):(\d+):(\d+)$/.exec(name);
    if (hctl) {
      const [h, c, t, l] = hctl.slice(1).map(Number) as [number, number, number, number];
      const host = this.hosts.get(h);
      if (host && c <= 0xffff && t <= 0xffff && l <= 0xffff)
        return this.find(h, c, t, l) ?? { host, channel: c, id: t, lun: l };
    }
    return this.resolve(name);
  }

  find(hostNo: number, channel: number, id: number, lun: number): GuestScsiDevice | undefined {
    return this.devices.find(
      (d) => d.host.hostNo === hostNo && d.channel === channel && d.id === id && d.lun === lun,
    );
  }

  /**
   * A device by name: `/dev/sda`, `sda`, `/dev/nst0`, `/dev/sg2`, or `h:c:t:l` in the guest's
   * numbering.
   */
  resolve(name: string): GuestScsiDevice {
    const hctl = /^(\d+):(\d+):(\d+):(\d+)$/.exec(name);
    if (hctl) {
      const [h, c, t, l] = hctl.slice(1).map(Number) as [number, number, number, number];
      const d = this.find(h, c, t, l);
      if (d) return d;
    } else {
      const node = name.startsWith("/dev/") ? name : `/dev/${name}`;
      const d = this.devices.find((x) => x.devNode === node || x.nonRewindNode === node || x.sgNode === node);
      if (d) return d;
    }
    throw invalidArgument(
      "device",
      `one of ${
        this.list()
          .map((d) => d.devNode ?? d.sgNode)
          .join(", ") || "(no devices)"
      }`,
      name,
    );
  }

  /** `cat /proc/scsi/scsi`, byte for byte as Linux's `proc_print_scsidevice` writes it. */
  procScsi(): string {
    let out = "Attached devices:\n";
    for (const d of this.list()) {
      out += `Host: scsi${d.host.hostNo} Channel: ${pad2(d.channel)} Id: ${pad2(d.id)} Lun: ${pad2(d.lun)}\n`;
      out += `  Vendor: ${d.vendor} Model: ${d.model} Rev: ${d.rev}\n`;
      const level = d.scsiLevel - (d.scsiLevel > 1 ? 1 : 0);
      out += `  Type:   ${linuxDeviceType(d.type)} ${"               ANSI  SCSI revision: "}${level.toString(16).padStart(2, "0")}`;
      out += d.scsiLevel === 2 ? " CCS\n" : "\n";
    }
    return out;
  }

  /** `lsscsi` (and `lsscsi -g`), in its column layout. */
  lsscsi(generic = false): string {
    let out = "";
    for (const d of this.list()) {
      const hctl = `${d.host.hostNo}:${d.channel}:${d.id}:${d.lun}`;
      const entry = {
        hctl,
        type: d.type,
        vendor: d.vendor,
        model: d.model,
        rev: d.rev,
        dev: d.devNode ?? "-",
        sg: d.sgNode,
      };
      out += `${formatLsscsiLine(entry, generic)}\n`;
    }
    return out;
  }
}

/** CHECK CONDITION with sense key UNIT ATTENTION (fixed or descriptor format). */
export function isUnitAttention(r: ScsiResult): boolean {
  if (r.host !== DID_OK || r.status !== 0x02 || r.sense.length < 3) return false;
  const fixed = (r.sense[0]! & 0x7f) === 0x70 || (r.sense[0]! & 0x7f) === 0x71;
  const key = fixed ? r.sense[2]! & 0x0f : r.sense[1]! & 0x0f;
  return key === 0x06;
}

function pad2(n: number): string {
  return n.toString().padStart(2, "0");
}

/** INQUIRY text field, non-printables shown as spaces (as Linux does). */
function ascii(b: Uint8Array, off: number, len: number): string {
  let s = "";
  for (let i = 0; i < len; i++) {
    const c = b[off + i]!;
    s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : " ";
  }
  return s;
}
