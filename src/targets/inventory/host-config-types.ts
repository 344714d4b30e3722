import type { Hctl } from "../../scsi/hctl.js";

/** Peripheral kinds a config can declare. */
export type DeviceKind = "disk" | "cdrom" | "null" | "tape" | "changer" | "iscsi";

/** What every device section has. */
export interface CommonConfig {
  readonly hctl: Hctl;
  /** `file:line` of the section header. */
  readonly where: string;
  readonly vendor: string | undefined;
  readonly model: string | undefined;
  readonly rev: string | undefined;
  readonly serial: string | undefined;
  readonly wwn: string | undefined;
  readonly shareable: boolean;
}

/** A `[disk …]` section. */
export interface DiskConfig extends CommonConfig {
  readonly kind: "disk";
  /** Absolute image path, or null for a RAM disk. */
  readonly file: string | null;
  readonly create: boolean;
  /** Bytes; undefined only for an existing image whose size is taken from the file. */
  readonly size: number | undefined;
  readonly blockSize: 512 | 4096;
  readonly thin: boolean;
  readonly readOnly: boolean;
  readonly writeCache: boolean;
}

/** A `[cdrom …]` section. */
export interface CdromConfig extends CommonConfig {
  readonly kind: "cdrom";
  /** Absolute ISO path, or null for an empty drive. */
  readonly file: string | null;
}

/** A `[null …]` section. */
export interface NullConfig extends CommonConfig {
  readonly kind: "null";
}

/** How cartridges created for a unit are made. */
export interface CartridgeDefaults {
  /** Record-area bytes of a new cartridge. */
  readonly capacity: number;
  /** Bytes between early warning and the physical end, or undefined for the default. */
  readonly earlyWarningZone: number | undefined;
}

/** A `[tape …]` section. */
export interface TapeConfig extends CommonConfig, CartridgeDefaults {
  readonly kind: "tape";
  /** LTO generation (3–7). */
  readonly generation: number;
  /** Absolute cartridge directory, or null. */
  readonly cartridges: string | null;
  /** Barcode loaded at start-up, or null. */
  readonly load: string | null;
  readonly writeProtect: boolean;
  /** The changer whose data transfer element the drive is, as h:c:t:l, or null. */
  readonly changer: string | null;
}

/** A `[changer …]` section. */
export interface ChangerConfig extends CommonConfig, CartridgeDefaults {
  readonly kind: "changer";
  /** Absolute cartridge directory. */
  readonly cartridges: string;
  readonly slots: number;
  readonly importExport: number;
  readonly transports: number;
  /** Its data transfer elements, in element order: `[tape]` units of the same host. */
  readonly drives: readonly Hctl[];
  readonly barcodes: readonly string[];
  readonly writeProtect: readonly string[];
}

/** An `[iscsi …]` section: a LUN of a remote iSCSI target (docs/iscsi.md). */
export interface IscsiConfig extends CommonConfig {
  readonly kind: "iscsi";
  /** `host:port`. */
  readonly portal: string;
  /** Target IQN. */
  readonly target: string;
  /** LUN on the target. */
  readonly lun: number;
  /** dom0's initiator name. */
  readonly initiator: string;
  /** Each vHBA logs in as `<initiator>:<nexus>` (target ACLs see each guest controller). */
  readonly perVhbaInitiator: boolean;
  /** CHAP credentials (`chap-user`/`chap-secret`, mutual: `chap-target-user`/`chap-target-secret`). */
  readonly chap?: {
    readonly username: string;
    readonly secret: string;
    readonly targetUsername?: string;
    readonly targetSecret?: string;
  };
}

/**
 * An `[iscsi-target h:c:t]` section: every LUN the remote target reports (REPORT LUNS) becomes
 * unit h:c:t:<LUN> of kind `iscsi`, now and at each rescan (docs/iscsi.md, whole-HBA passthrough).
 * `unit` is the section as one LUN's config; its `lun` and `hctl.lun` are 0 and replaced per LUN.
 */
export interface IscsiTargetConfig {
  readonly unit: IscsiConfig;
}

/** One logical unit of the config. */
export type DeviceConfig = DiskConfig | CdromConfig | NullConfig | TapeConfig | ChangerConfig | IscsiConfig;

/** A parsed, validated host config. */
export interface HostConfig {
  /** Where it came from (a path, or "<built-in>"). */
  readonly source: string;
  /** Host adapter names by host number. */
  readonly hosts: ReadonlyMap<number, string>;
  /** Target port WWNs set explicitly, by "h:c:t". */
  readonly targetWwns: ReadonlyMap<string, string>;
  /** Devices, in file order. */
  readonly devices: readonly DeviceConfig[];
  /** `[iscsi-target h:c:t]` sections: remote targets whose LUNs come and go. */
  readonly iscsiTargets: readonly IscsiTargetConfig[];
}

/** Capacity of a cartridge created on first use when the config does not say (an LTO-6's, 2.5 TB). */
export const DEFAULT_CARTRIDGE_CAPACITY = 2_500_000_000_000;
