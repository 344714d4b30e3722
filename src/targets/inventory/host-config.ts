import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, resolve } from "node:path";
import { formatHct, formatHctl, type Hctl, parseHct, parseHctl } from "../../scsi/hctl.js";
import { configError, type PvscsiError } from "../../xen/errors.js";
import { MAX_DATA_TRANSFER, MAX_IMPORT_EXPORT, MAX_STORAGE, MAX_TRANSPORTS } from "../smc/elements.js";
import { isValidBarcode } from "../ssc/cartridge-library.js";
import { MAX_LUN } from "../target.js";

/**
 * The host config file: dom0's emulated SCSI subsystem, one section per host, target or
 * logical unit. INI-like, so it needs no parser dependency:
 *
 * ```ini
 * # comments start with '#' or ';' (also after a value, following whitespace)
 * [host 0]                 # optional: the adapter's name in /proc/scsi (default "pvscsi")
 * name = pvscsi
 *
 * [target 0:0:0]           # optional: the target port's WWN (default derived from h:c:t)
 * wwn = 3a1b2c3d4e5f6071
 *
 * [disk 0:0:0:0]           # a RAM disk
 * size = 64M               # bytes, with K/M/G/T (powers of 1024)
 * block-size = 512         # 512 or 4096
 * thin = yes               # UNMAP, WRITE SAME with UNMAP, GET LBA STATUS
 *
 * [disk 0:0:0:1]           # a file-backed disk
 * file = images/data.img   # relative to this file's folder
 * size = 1G                # optional for an existing image; required with create
 * create = yes             # make a sparse image when missing
 * write-cache = no         # WCE=0: every write is fsync'd before GOOD
 * read-only = no
 * shareable = yes          # may be given to several running guests at once
 *
 * [cdrom 0:0:1:0]
 * file = /srv/iso/install.iso   # optional: no medium without it
 *
 * [null 0:0:2:0]           # a disk that reads zeros and discards writes (benchmark sink)
 *
 * [tape 0:0:3:0]           # a stand-alone LTO tape drive (SSC-3)
 * generation = 6           # LTO generation 3..7: the densities it reads and writes (default 6)
 * cartridges = tapes       # cartridge directory (<barcode>.pvtape files), for load
 * load = B00001L6          # cartridge loaded at start-up, created on first use
 * write-protect = no       # the loaded cartridge's write-protect tab
 * capacity = 2500G         # capacity of a cartridge created here (default 2.5 TB, LTO-6)
 * early-warning = 64M      # early-warning zone before the physical end (default capacity/64, 64K..1G)
 *
 * [tape 0:0:4:0]           # a drive of the changer below: no load, the changer loads it
 *
 * [changer 0:0:4:1]        # a medium changer (SMC-3): autoloader or library
 * cartridges = tapes       # required: cartridge directory; the changer's state file goes there too
 * slots = 8                # storage elements
 * import-export = 1        # mail slots (default 0)
 * transports = 1           # robots (default 1)
 * drives = 0:0:4:0         # its data transfer elements: [tape] units of the same host, in order
 * barcodes = A00001L6, A00002L6   # cartridges in the library (comma or space separated);
 *                          # without saved state they fill the slots in this order
 * write-protect = A00002L6 # barcodes whose write-protect tab is set
 * capacity = 2500G         # capacity of a cartridge created on first use
 * early-warning = 64M
 * ```
 *
 * A changer keeps where every cartridge is in `<cartridges>/changer-<h>-<c>-<t>-<l>.json`
 * (see `smc/changer-state.ts`); a drive of a changer gets its cartridges from the changer and
 * takes no `load`. Barcodes are 1-32 of `A-Z a-z 0-9 _ . -` and unique per cartridge directory.
 *
 * Every device section also takes `vendor` (≤ 8 chars), `model` (≤ 16), `rev` (≤ 4), `serial`
 * (≤ 36), `wwn` (16 hex digits, NAA 2, 3 or 5; default derived from kind and h:c:t:l) and
 * `shareable`. Booleans are yes/no, true/false, on/off, 1/0.
 *
 * Errors name the file, the line and what was expected; parsing has no side effects, so a bad
 * file creates nothing.
 */

/** Peripheral kinds a config can declare. */
export type DeviceKind = "disk" | "cdrom" | "null" | "tape" | "changer";

interface CommonConfig {
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

/** One logical unit of the config. */
export type DeviceConfig = DiskConfig | CdromConfig | NullConfig | TapeConfig | ChangerConfig;

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
}

const COMMON_KEYS = ["vendor", "model", "rev", "serial", "wwn", "shareable"];
const KEYS: Record<string, readonly string[]> = {
  host: ["name"],
  target: ["wwn"],
  disk: [
    ...COMMON_KEYS,
    "backing",
    "file",
    "create",
    "size",
    "block-size",
    "thin",
    "read-only",
    "write-cache",
  ],
  cdrom: [...COMMON_KEYS, "file"],
  null: COMMON_KEYS,
  tape: [...COMMON_KEYS, "generation", "cartridges", "load", "write-protect", "capacity", "early-warning"],
  changer: [
    ...COMMON_KEYS,
    "cartridges",
    "slots",
    "import-export",
    "transports",
    "drives",
    "barcodes",
    "write-protect",
    "capacity",
    "early-warning",
  ],
};

/** Capacity of a cartridge created on first use when the config does not say (an LTO-6's, 2.5 TB). */
export const DEFAULT_CARTRIDGE_CAPACITY = 2_500_000_000_000;

interface Section {
  readonly kind: string;
  readonly arg: string;
  readonly line: number;
  readonly values: Map<string, { value: string; line: number }>;
}

/**
 * A host config as a backend domain's kernel is booted with: its text, its name in errors, and
 * the directory its relative paths start from (parsing happens in the kernel's worker).
 */
export interface HostConfigSource {
  readonly text: string;
  readonly source: string;
  readonly baseDir: string;
}

/**
 * Read the host config file at `path` (relative to `baseDir`) as a {@link HostConfigSource} named
 * `path`; `unreadable` turns the reason it cannot be read into the caller's error.
 */
export function readHostConfigSource(
  path: string,
  baseDir: string,
  unreadable: (reason: string) => PvscsiError,
): HostConfigSource {
  const full = resolve(baseDir, path);
  try {
    return { text: readFileSync(full, "utf8"), source: path, baseDir: dirname(full) };
  } catch (e) {
    throw unreadable((e as Error).message);
  }
}

/** Read and parse a host config file. */
export async function loadHostConfig(path: string): Promise<HostConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw configError(path, `cannot read the host config: ${(e as Error).message}`);
  }
  return parseHostConfig(text, path, dirname(resolve(path)));
}

/**
 * Parse host config `text` from `source` (named in errors); relative image paths resolve
 * against `baseDir`.
 */
export function parseHostConfig(text: string, source: string, baseDir = process.cwd()): HostConfig {
  const sections: Section[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const where = `${source}:${lineNo}`;
    const line = stripComment(lines[i]!, where).trim();
    if (line === "") continue;
    if (line.startsWith("[")) {
      const m = /^\[\s*([a-z][a-z-]*)(?:\s+([^\]\s]+))?\s*\]$/.exec(line);
      if (!m)
        throw configError(
          where,
          `expected a section header such as "[disk 0:0:0:0]", got ${JSON.stringify(line)}`,
        );
      const kind = m[1]!;
      if (!(kind in KEYS)) {
        throw configError(
          where,
          `unknown section kind "${kind}": expected host, target, disk, cdrom, null, tape or changer`,
        );
      }
      if (m[2] === undefined)
        throw configError(where, `[${kind}] needs an address, e.g. ${exampleAddress(kind)}`);
      sections.push({ kind, arg: m[2], line: lineNo, values: new Map() });
      continue;
    }
    const kv = /^([a-z][a-z0-9-]*)\s*=\s*(.*)$/.exec(line);
    if (!kv) {
      throw configError(
        where,
        `expected "key = value", a [section] header, a comment or a blank line, got ${JSON.stringify(line)}`,
      );
    }
    const section = sections[sections.length - 1];
    if (!section)
      throw configError(
        where,
        `"${kv[1]}" is outside any section: start with a header such as [disk 0:0:0:0]`,
      );
    const key = kv[1]!;
    const allowed = KEYS[section.kind]!;
    if (!allowed.includes(key)) {
      throw configError(
        where,
        `unknown key "${key}" in [${section.kind}]: expected one of ${allowed.join(", ")}`,
      );
    }
    const prev = section.values.get(key);
    if (prev) throw configError(where, `"${key}" is set twice in this section (first at line ${prev.line})`);
    section.values.set(key, { value: unquote(kv[2]!, where), line: lineNo });
  }
  return build(sections, source, baseDir);
}

function exampleAddress(kind: string): string {
  return kind === "host" ? "[host 0]" : kind === "target" ? "[target 0:0:0]" : `[${kind} 0:0:0:0]`;
}

function stripComment(line: string, where: string): string {
  const t = line.trimStart();
  if (t.startsWith("#") || t.startsWith(";")) return "";
  // A comment after a value starts at whitespace + '#' or ';', outside double quotes.
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') quoted = !quoted;
    else if (!quoted && (c === "#" || c === ";") && i > 0 && /\s/.test(line[i - 1]!)) return line.slice(0, i);
  }
  if (quoted) throw configError(where, "unterminated double quote");
  return line;
}

function unquote(v: string, where: string): string {
  const s = v.trim();
  if (s.startsWith('"')) {
    if (s.length < 2 || !s.endsWith('"')) throw configError(where, `expected a closing double quote in ${s}`);
    return s.slice(1, -1);
  }
  return s;
}

function build(sections: Section[], source: string, baseDir: string): HostConfig {
  const hosts = new Map<number, string>();
  const hostLines = new Map<number, number>();
  const targetWwns = new Map<string, string>();
  const targetLines = new Map<string, number>();
  const devices: DeviceConfig[] = [];
  const seen = new Map<string, number>();
  const changerLines = new Map<string, { drives: string; barcodes: string }>();
  const tapeLoadLines = new Map<string, string>();
  const wwns = new Map<string, string>();
  for (const s of sections) {
    const where = `${source}:${s.line}`;
    const get = (key: string) => s.values.get(key);
    const at = (key: string) => `${source}:${get(key)!.line}`;
    if (s.kind === "host") {
      if (!/^\d{1,5}$/.test(s.arg) || Number(s.arg) > 0xffff) {
        throw configError(where, `expected a host number 0..65535 in [host N], got "${s.arg}"`);
      }
      const h = Number(s.arg);
      if (hostLines.has(h))
        throw configError(where, `host ${h} is declared twice (first at line ${hostLines.get(h)})`);
      hostLines.set(h, s.line);
      const name = get("name")?.value ?? "pvscsi";
      if (!/^[A-Za-z0-9_.-]{1,32}$/.test(name)) {
        throw configError(
          get("name") ? at("name") : where,
          `name must be 1-32 of [A-Za-z0-9_.-], got ${JSON.stringify(name)}`,
        );
      }
      hosts.set(h, name);
      continue;
    }
    if (s.kind === "target") {
      const hct = parseHct(s.arg);
      if (!hct) throw configError(where, `expected [target h:c:t] with numbers 0..65535, got "${s.arg}"`);
      const key = formatHct(hct);
      if (targetLines.has(key))
        throw configError(where, `target ${key} is declared twice (first at line ${targetLines.get(key)})`);
      targetLines.set(key, s.line);
      const w = get("wwn");
      if (!w) throw configError(where, `[target ${key}] needs "wwn = <16 hex digits>"`);
      const wwn = parseWwn(w.value, at("wwn"));
      claimWwn(wwns, wwn, `target ${key}`, at("wwn"));
      targetWwns.set(key, wwn);
      continue;
    }
    const hctl = parseHctl(s.arg, MAX_LUN);
    if (!hctl) {
      throw configError(
        where,
        `expected [${s.kind} h:c:t:l] with h, c, t 0..65535 and LUN 0..${MAX_LUN}, got "${s.arg}"`,
      );
    }
    const addr = formatHctl(hctl);
    if (seen.has(addr))
      throw configError(where, `${addr} is declared twice (first at line ${seen.get(addr)})`);
    seen.set(addr, s.line);
    const str = (key: string, max: number): string | undefined => {
      const v = get(key);
      if (!v) return undefined;
      if (v.value.length < 1 || v.value.length > max || !/^[\x20-\x7e]+$/.test(v.value)) {
        throw configError(
          at(key),
          `${key} must be 1-${max} printable ASCII characters, got ${JSON.stringify(v.value)}`,
        );
      }
      return v.value;
    };
    const bool = (key: string, dflt: boolean): boolean => {
      const v = get(key);
      if (!v) return dflt;
      const b = parseBool(v.value);
      if (b === null) throw configError(at(key), `${key} must be yes or no, got ${JSON.stringify(v.value)}`);
      return b;
    };
    const path = (key: string): string | null => {
      const v = get(key);
      if (!v) return null;
      if (v.value === "") throw configError(at(key), `${key} must be a path`);
      return isAbsolute(v.value) ? v.value : resolve(baseDir, v.value);
    };
    if (s.kind === "tape" && get("load")) tapeLoadLines.set(addr, at("load"));
    let wwn: string | undefined;
    if (get("wwn")) {
      wwn = parseWwn(get("wwn")!.value, at("wwn"));
      claimWwn(wwns, wwn, addr, at("wwn"));
    }
    const common = {
      hctl,
      where,
      vendor: str("vendor", 8),
      model: str("model", 16),
      rev: str("rev", 4),
      serial: str("serial", 36),
      wwn,
      shareable: bool("shareable", false),
    };
    const integer = (key: string, dflt: number, min: number, max: number): number => {
      const v = get(key);
      if (!v) return dflt;
      if (!/^\d+$/.test(v.value) || Number(v.value) < min || Number(v.value) > max)
        throw configError(
          at(key),
          `${key} must be a whole number from ${min} to ${max}, got ${JSON.stringify(v.value)}`,
        );
      return Number(v.value);
    };
    const cartridgeDefaults = (): CartridgeDefaults => {
      const cv = get("capacity");
      const capacity = cv ? parseSize(cv.value, at("capacity")) : DEFAULT_CARTRIDGE_CAPACITY;
      if (capacity < 1 << 20)
        throw configError(at("capacity"), `capacity must be at least 1M, got ${cv!.value}`);
      const ev = get("early-warning");
      let zone: number | undefined;
      if (ev) {
        zone = parseSize(ev.value, at("early-warning"));
        if (zone >= capacity)
          throw configError(
            at("early-warning"),
            `early-warning ${zone} must be smaller than the capacity ${capacity}`,
          );
      }
      return { capacity, earlyWarningZone: zone };
    };
    if (s.kind === "null") {
      devices.push({ kind: "null", ...common });
    } else if (s.kind === "tape") {
      const load = get("load");
      if (load && !isValidBarcode(load.value))
        throw configError(
          at("load"),
          `load must be a barcode (1-32 of A-Z a-z 0-9 _ . -), got ${JSON.stringify(load.value)}`,
        );
      const cartridges = path("cartridges");
      if (load && cartridges === null) throw configError(at("load"), `load needs "cartridges = <directory>"`);
      if (get("write-protect") && !load)
        throw configError(at("write-protect"), "write-protect applies to the loaded cartridge: add load");
      devices.push({
        kind: "tape",
        ...common,
        ...cartridgeDefaults(),
        generation: integer("generation", 6, 3, 7),
        cartridges,
        load: load?.value ?? null,
        writeProtect: bool("write-protect", false),
        changer: null,
      });
    } else if (s.kind === "changer") {
      const cartridges = path("cartridges");
      if (cartridges === null) throw configError(where, `a changer needs "cartridges = <directory>"`);
      const slots = integer("slots", -1, 1, MAX_STORAGE);
      if (slots < 0) throw configError(where, `a changer needs "slots = <count>"`);
      const importExport = integer("import-export", 0, 0, MAX_IMPORT_EXPORT);
      const transports = integer("transports", 1, 1, MAX_TRANSPORTS);
      const list = (key: string): string[] => {
        const v = get(key);
        if (!v) return [];
        const items = v.value.split(/[\s,]+/).filter((x) => x !== "");
        for (const b of items) {
          if (!isValidBarcode(b))
            throw configError(at(key), `${JSON.stringify(b)} is not a barcode (1-32 of A-Z a-z 0-9 _ . -)`);
        }
        const dup = items.find((b, i) => items.indexOf(b) !== i);
        if (dup) throw configError(at(key), `barcode ${dup} is listed twice`);
        return items;
      };
      const barcodes = list("barcodes");
      if (barcodes.length > slots + importExport)
        throw configError(
          at("barcodes"),
          `${barcodes.length} cartridges do not fit in ${slots} slots and ${importExport} import/export elements`,
        );
      const writeProtect = list("write-protect");
      for (const b of writeProtect) {
        if (!barcodes.includes(b))
          throw configError(at("write-protect"), `${b} is not one of this changer's barcodes`);
      }
      const dv = get("drives");
      const drives: Hctl[] = [];
      for (const item of (dv?.value ?? "").split(/[\s,]+/).filter((x) => x !== "")) {
        const h = parseHctl(item, MAX_LUN);
        if (!h)
          throw configError(
            at("drives"),
            `expected drives = h:c:t:l, ... naming [tape] units, got ${JSON.stringify(item)}`,
          );
        drives.push(h);
      }
      if (drives.length > MAX_DATA_TRANSFER)
        throw configError(at("drives"), `at most ${MAX_DATA_TRANSFER} drives`);
      devices.push({
        kind: "changer",
        ...common,
        ...cartridgeDefaults(),
        cartridges,
        slots,
        importExport,
        transports,
        drives,
        barcodes,
        writeProtect,
      });
      changerLines.set(addr, {
        drives: dv ? at("drives") : where,
        barcodes: get("barcodes") ? at("barcodes") : where,
      });
    } else if (s.kind === "cdrom") {
      devices.push({ kind: "cdrom", ...common, file: path("file") });
    } else {
      const backing = get("backing")?.value ?? (get("file") ? "file" : "ram");
      if (backing !== "ram" && backing !== "file") {
        throw configError(at("backing"), `backing must be ram or file, got ${JSON.stringify(backing)}`);
      }
      const file = path("file");
      if (backing === "file" && file === null)
        throw configError(where, `a file-backed disk needs "file = <image path>"`);
      if (backing === "ram" && file !== null)
        throw configError(at("file"), `a RAM disk takes no file (set backing = file)`);
      const create = bool("create", false);
      if (backing === "ram" && get("create"))
        throw configError(at("create"), "create applies to file-backed disks only");
      const bsv = get("block-size");
      const blockSize = bsv ? Number(bsv.value) : 512;
      if (blockSize !== 512 && blockSize !== 4096) {
        throw configError(
          at("block-size"),
          `block-size must be 512 or 4096, got ${JSON.stringify(bsv!.value)}`,
        );
      }
      let size: number | undefined;
      const sv = get("size");
      if (sv) {
        size = parseSize(sv.value, at("size"));
        if (size % blockSize !== 0) {
          throw configError(at("size"), `size ${size} is not a whole number of ${blockSize}-byte blocks`);
        }
      } else if (backing === "ram") {
        throw configError(where, `a RAM disk needs "size = <bytes>" (e.g. 64M)`);
      } else if (create) {
        throw configError(where, `"create = yes" needs "size = <bytes>" for the new image`);
      }
      devices.push({
        kind: "disk",
        ...common,
        file,
        create,
        size,
        blockSize,
        thin: bool("thin", false),
        readOnly: bool("read-only", false),
        writeCache: bool("write-cache", true),
      });
    }
  }
  bindDrives(devices, changerLines, tapeLoadLines);
  return { source, hosts, targetWwns, devices };
}

/**
 * Resolve each changer's `drives` to `[tape]` units of the same host (a tape serves one changer
 * and then takes no `load`), and check that a barcode names one cartridge per directory.
 */
function bindDrives(
  devices: DeviceConfig[],
  changerLines: Map<string, { drives: string; barcodes: string }>,
  tapeLoadLines: Map<string, string>,
): void {
  const byAddr = new Map<string, number>();
  for (const [i, d] of devices.entries()) byAddr.set(formatHctl(d.hctl), i);
  const owner = new Map<string, string>();
  const cartridgeOwners = new Map<string, string>();
  const claimCartridge = (dir: string, barcode: string, who: string, where: string) => {
    const key = `${dir}\0${barcode}`;
    const prev = cartridgeOwners.get(key);
    if (prev && prev !== who)
      throw configError(where, `cartridge ${barcode} in ${dir} already belongs to ${prev}`);
    cartridgeOwners.set(key, who);
  };
  for (const d of devices) {
    if (d.kind !== "changer") continue;
    const addr = formatHctl(d.hctl);
    const lines = changerLines.get(addr)!;
    for (const h of d.drives) {
      const a = formatHctl(h);
      const i = byAddr.get(a);
      const t = i === undefined ? undefined : devices[i];
      if (t?.kind !== "tape")
        throw configError(lines.drives, `drive ${a} of changer ${addr} is not a [tape] unit of this config`);
      if (h.host !== d.hctl.host)
        throw configError(
          lines.drives,
          `drive ${a} is on host ${h.host}, changer ${addr} on host ${d.hctl.host}: a changer's drives are on its host`,
        );
      const prev = owner.get(a);
      if (prev) throw configError(lines.drives, `drive ${a} already belongs to changer ${prev}`);
      owner.set(a, addr);
      if (t.load !== null)
        throw configError(
          tapeLoadLines.get(a)!,
          `tape ${a} is a drive of changer ${addr}, which loads it: remove load`,
        );
      devices[i!] = { ...t, changer: addr };
    }
    for (const b of d.barcodes) claimCartridge(d.cartridges, b, `changer ${addr}`, lines.barcodes);
  }
  for (const d of devices) {
    if (d.kind === "tape" && d.load !== null && d.cartridges !== null)
      claimCartridge(
        d.cartridges,
        d.load,
        `tape ${formatHctl(d.hctl)}`,
        tapeLoadLines.get(formatHctl(d.hctl))!,
      );
  }
}

function parseBool(v: string): boolean | null {
  const s = v.toLowerCase();
  if (s === "yes" || s === "true" || s === "on" || s === "1") return true;
  if (s === "no" || s === "false" || s === "off" || s === "0") return false;
  return null;
}

/** A size in bytes: digits with an optional K, M, G or T suffix (powers of 1024). */
export function parseSize(v: string, where: string): number {
  const m = /^(\d+)\s*([KMGT]?)(?:i?B)?$/i.exec(v.trim());
  if (!m)
    throw configError(
      where,
      `size must be a number of bytes with an optional K/M/G/T suffix, got ${JSON.stringify(v)}`,
    );
  const mult = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[m[2]!.toUpperCase()]!;
  const n = Number(m[1]) * mult;
  if (!Number.isSafeInteger(n) || n <= 0)
    throw configError(where, `size must be between 1 byte and 8 PiB, got ${v}`);
  return n;
}

/**
 * A WWN as an 8-byte NAA designator: 16 hex digits whose first digit (the NAA field, SPC-4
 * §7.8.6.6) is 2 (IEEE extended), 3 (locally assigned) or 5 (IEEE registered). NAA 6 needs 16
 * bytes and does not fit.
 */
export function parseWwn(v: string, where: string): string {
  const s = v
    .trim()
    .toLowerCase()
    .replace(/^naa\./, "")
    .replace(/^0x/, "");
  if (!/^[0-9a-f]{16}$/.test(s))
    throw configError(where, `wwn must be 16 hex digits, got ${JSON.stringify(v)}`);
  if (!"235".includes(s[0]!)) {
    throw configError(
      where,
      `wwn must start with NAA 2, 3 or 5 (an 8-byte designator), got ${JSON.stringify(v)}`,
    );
  }
  return s;
}

function claimWwn(wwns: Map<string, string>, wwn: string, owner: string, where: string): void {
  const prev = wwns.get(wwn);
  if (prev) throw configError(where, `wwn ${wwn} is already used by ${prev}`);
  wwns.set(wwn, owner);
}
